// Package netns creates the pod's shared network namespace and attaches it
// to a CNI network.
//
// A namespace is pinned by bind-mounting it on a file under Dir(), as
// `ip netns add` does, so it outlives the threads that made it and can be
// found again by name after a daemon restart. The daemon itself never stays
// in another namespace: CNI plugins and runc enter the pinned path.
//
// The package is a library: it returns errors classified with
// containerd/errdefs and never logs.
package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
)

// runDir is where named namespaces are pinned; the same directory
// `ip netns` uses, so `ip netns exec minipod-<uid> ...` works for debugging.
// Tests inside the package may point it elsewhere.
var runDir = "/run/netns"

// Dir returns the directory holding the pinned, named network namespaces.
func Dir() string { return runDir }

// NetNS is a named network namespace pinned at Dir()/<name>.
type NetNS struct {
	name string
	path string
}

// Name returns the namespace's name, the file name under Dir().
func (n *NetNS) Name() string { return n.name }

// Path returns the pinned path, what CNI plugins and runc are given.
func (n *NetNS) Path() string { return n.path }

// List returns the names of the namespaces under Dir() that start with
// prefix, sorted. A missing Dir() holds none.
func List(prefix string) ([]string, error) { return ListIn(runDir, prefix) }

// ListIn is List of the namespaces pinned in dir.
func ListIn(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to list network namespaces in %q: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// validateName rejects names that are not a single path element.
func validateName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid network namespace name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

func pathOf(name string) string { return filepath.Join(runDir, name) }
