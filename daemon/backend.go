package daemon

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

// Backend is what the daemon serves: the minipod API (api.Backend, which
// package client implements too), and what the daemon's watches and its
// Kubernetes API need of the pod runtime besides (the change signal, and
// metadata updates for PATCH). *runtime.Runtime
// implements it on the host; unit tests use the fake in
// internal/fakebackend.
type Backend interface {
	api.Backend
	// Changed returns a channel closed the next time a pod is added or
	// removed or a pod's status or events change. Watches list again when
	// it is closed.
	Changed() <-chan struct{}
	// UpdatePodMetadata replaces a pod's labels, annotations and managed
	// fields, the one change to a pod the Kubernetes API's PATCH and PUT
	// may make.
	UpdatePodMetadata(ctx context.Context, namespace, name string, labels, annotations map[string]string, managedFields []metav1.ManagedFieldsEntry) (*corev1.Pod, error)
}
