package daemon

import (
	"github.com/minipod/minipod/api"
)

// Backend is what the daemon serves: the minipod API (api.Backend, which
// package client implements too), and what the daemon's watches and its
// Kubernetes API need of the pod runtime besides. *runtime.Runtime
// implements it on the host; unit tests use the fake in
// internal/fakebackend.
type Backend interface {
	api.Backend
	// Changed returns a channel closed the next time a pod is added or
	// removed or a pod's status or events change. Watches list again when
	// it is closed.
	Changed() <-chan struct{}
}
