package runtime

import (
	"context"
	"errors"
)

// Config configures a Runtime: where its state lives, which containerd it
// talks to and how pods are networked.
type Config struct {
	// Root is the state root (default /var/lib/minipod): pod records, pod
	// directories, logs, CNI state, and the embedded containerd's state.
	Root string
	// ContainerdAddress is the containerd socket to use. When empty, the
	// system one (/run/containerd/containerd.sock) is used if it answers;
	// otherwise minipod starts its own containerd under Root.
	ContainerdAddress string
	// ContainerdNamespace is the containerd namespace of minipod's
	// containers and images (default "minipod").
	ContainerdNamespace string
	// NetworkName, Bridge and Subnet shape the default CNI network; ConfList
	// names a user's own conflist instead. PluginDirs are searched for the
	// CNI plugins.
	NetworkName string
	Bridge      string
	Subnet      string
	ConfList    string
	PluginDirs  []string
	// InsecureRegistries may be pulled from over plain HTTP, besides
	// localhost and 127.0.0.1.
	InsecureRegistries []string
}

// Runtime runs pods on one host. It implements daemon.Backend.
type Runtime struct {
	cfg Config
}

// New connects to (or starts) containerd, loads the CNI configuration and
// reconciles the pod records found under cfg.Root.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	return nil, errors.New("not implemented")
}

// Close releases the runtime's connections. Pods keep running.
func (r *Runtime) Close() error { return nil }
