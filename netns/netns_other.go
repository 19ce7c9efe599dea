//go:build !linux

package netns

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// New is implemented on Linux only.
func New(name string) (*NetNS, error) {
	return nil, fmt.Errorf("failed to create network namespace %q: %w", name, errdefs.ErrNotImplemented)
}

// Load is implemented on Linux only.
func Load(name string) (*NetNS, error) {
	return nil, fmt.Errorf("failed to load network namespace %q: %w", name, errdefs.ErrNotImplemented)
}

// Remove is implemented on Linux only.
func (n *NetNS) Remove() error {
	return fmt.Errorf("failed to remove network namespace %q: %w", n.name, errdefs.ErrNotImplemented)
}

func isNetNS(path string) bool { return false }

// NewIn is implemented on Linux only.
func NewIn(dir, name string) (*NetNS, error) { return New(name) }

// LoadIn is implemented on Linux only.
func LoadIn(dir, name string) (*NetNS, error) { return Load(name) }

// CheckDir is implemented on Linux only.
func CheckDir(dir string) error {
	return fmt.Errorf("failed to check network namespace directory %q: %w", dir, errdefs.ErrNotImplemented)
}

func checkBridge(name, subnet string) error { return nil }
