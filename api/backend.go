package api

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
)

// Backend is the minipod API: what the daemon serves over HTTP and what
// package client implements against it, method for method (as the CRI's
// RuntimeService is both the kubelet's client and containerd's server).
// The daemon serves the pod runtime through it; tests serve a fake.
//
// Errors are classified with github.com/containerd/errdefs (ErrNotFound,
// ErrAlreadyExists, ErrInvalidArgument, ErrFailedPrecondition,
// ErrUnavailable); the daemon turns them into metav1.Status with the
// matching HTTP code and reason, and the error text as the message, and the
// client turns them back.
type Backend interface {
	// CreatePod creates the pod, and returns when all of its containers
	// have been started (status Running) or the creation has failed and
	// been rolled back (the error names the failed step). The daemon's API
	// defaults and validates the pod before it asks the runtime (an invalid
	// pod is ErrInvalidArgument); the runtime creates what it is given.
	CreatePod(ctx context.Context, pod *corev1.Pod, opts CreateOptions) (*corev1.Pod, error)
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// ListPods lists the pods of a namespace, or of every namespace when
	// namespace is "".
	ListPods(ctx context.Context, namespace string) ([]corev1.Pod, error)
	DeletePod(ctx context.Context, namespace, name string, opts DeleteOptions) error

	CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error)
	GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	ListConfigMaps(ctx context.Context, namespace string) ([]corev1.ConfigMap, error)
	DeleteConfigMap(ctx context.Context, namespace, name string) error
	CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error)
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	ListSecrets(ctx context.Context, namespace string) ([]corev1.Secret, error)
	DeleteSecret(ctx context.Context, namespace, name string) error

	// ListEvents returns the events of a namespace ("" = all), of one pod
	// when pod is not "", oldest first.
	ListEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error)

	// Logs writes a container's log, as plain lines (with an RFC3339Nano
	// timestamp prefix when opts.Timestamps), and with opts.Follow keeps
	// writing until ctx ends or the container has exited.
	Logs(ctx context.Context, namespace, name string, opts LogOptions, w io.Writer) error
	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, namespace, name string, opts ExecOptions, stdio ExecIO) (int, error)

	// PullImage pulls ref, reporting progress to fn (which may be nil).
	PullImage(ctx context.Context, ref string, fn func(PullProgress)) (Image, error)
	// LoadImage imports an OCI or Docker archive and returns the images in it.
	LoadImage(ctx context.Context, archive io.Reader) ([]Image, error)
	ListImages(ctx context.Context) ([]Image, error)
	// ImageConfigs returns the configs of those of refs that are present,
	// by ref as given.
	ImageConfigs(ctx context.Context, refs []string) (map[string]*ImageConfig, error)
	RemoveImage(ctx context.Context, ref string) error

	// Containerd tells which containerd the daemon uses, and whether it
	// answers (for minipod doctor).
	Containerd(ctx context.Context) (ContainerdInfo, error)
	// GC finds, and unless dryRun removes, host leftovers that belong to
	// no pod.
	GC(ctx context.Context, dryRun bool) (*GCReport, error)
	// HostView tells what a pod is on the host: its network namespace,
	// veth and bridge, container processes and shim, volumes and cgroup.
	HostView(ctx context.Context, namespace, name string) (*HostView, error)
}
