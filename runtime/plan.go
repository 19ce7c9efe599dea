// Package runtime is minipod's pod lifecycle: a pure plan of what a pod
// needs on the host, then apply and teardown of that plan on containerd.
package runtime

import (
	"errors"
	"io"

	corev1 "k8s.io/api/core/v1"
)

// ImageConfig is the part of an image's config that shapes a container.
type ImageConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`
}

// PlanOptions is what Plan needs besides the pod.
type PlanOptions struct {
	// StateRoot is the daemon's state root (default /var/lib/minipod).
	StateRoot string
	// Network is the CNI network name.
	Network string
	// Images holds the configs of the images known so far, by the image
	// reference as the pod writes it. A missing entry means unknown.
	Images map[string]*ImageConfig
	// ConfigMaps and Secrets are those the pod may reference.
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
}

// PodPlan is everything apply will create for one pod, in order.
type PodPlan struct{}

// Plan turns a validated, defaulted pod into its plan. It is pure.
func Plan(pod *corev1.Pod, opts PlanOptions) (*PodPlan, error) {
	return nil, errors.New("not implemented")
}

// WriteText prints the plan for a person, one step per line.
func (p *PodPlan) WriteText(w io.Writer) error { return errors.New("not implemented") }
