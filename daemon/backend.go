package daemon

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Backend is what the API server serves: the pod runtime. runtime.Runtime
// implements it on the host; unit tests of the API use a fake.
//
// Errors are classified with github.com/containerd/errdefs (ErrNotFound,
// ErrAlreadyExists, ErrInvalidArgument, ErrFailedPrecondition,
// ErrUnavailable); the server turns them into metav1.Status with the
// matching HTTP code and reason, and the error text as the message.
type Backend interface {
	// CreatePod validates, defaults and creates the pod, and returns when all
	// of its containers have been started (status Running) or the creation
	// has failed and been rolled back (the error names the failed step).
	CreatePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error)
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
	RemoveImage(ctx context.Context, ref string) error
}

// DeleteOptions are the options of a pod deletion.
type DeleteOptions struct {
	// GracePeriodSeconds overrides the pod's terminationGracePeriodSeconds
	// when set; 0 means kill at once.
	GracePeriodSeconds *int64
}

// LogOptions select a container's log.
type LogOptions struct {
	Container  string
	Follow     bool
	Previous   bool
	Timestamps bool
	TailLines  *int64
	Since      time.Duration
}

// ExecOptions describe a command to run in a container.
type ExecOptions struct {
	Container string
	Command   []string
	Stdin     bool
	TTY       bool
}

// ExecIO is where an exec'd command's streams go. Stdin may be nil.
type ExecIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Image is an image in minipod's containerd namespace.
type Image struct {
	Name    string    `json:"name"`
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// PullProgress reports how far a pull has come.
type PullProgress struct {
	Ref     string `json:"ref"`
	Status  string `json:"status"` // "resolving", "downloading", "unpacking", "done"
	Current int64  `json:"current"`
	Total   int64  `json:"total"`
}
