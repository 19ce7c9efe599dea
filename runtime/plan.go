// Package runtime is minipod's pod lifecycle: apply and teardown of a
// pod's plan (package plan) on containerd, the supervision of its
// containers, and their status, logs and exec.
//
// The package name shadows Go's own runtime package, as apimachinery's does;
// import the standard one as goruntime where both are needed.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/plan"
)

// A pod's plan is package plan's; runtime executes it. These names keep
// the code of apply, teardown and the supervisor reading as it did.
type (
	PodPlan       = plan.Plan
	ContainerPlan = plan.Container
	VolumePlan    = plan.Volume
	MountPlan     = plan.Mount
	VolumeUse     = plan.VolumeUse
	ResourcesPlan = plan.Resources
	ImageConfig   = plan.ImageConfig
)

// Defaults of the daemon's directories, network and pod limits.
const (
	DefaultStateRoot    = plan.DefaultStateRoot
	DefaultNetwork      = plan.DefaultNetwork
	DefaultNetNSDir     = plan.DefaultNetNSDir
	DefaultPodPidsLimit = plan.DefaultPodPidsLimit
	// NetNSPrefix starts the name of every pod network namespace.
	NetNSPrefix = plan.NetNSPrefix
)

// HostResolvConf reads the host's /etc/resolv.conf, which a pod's is made
// from (plan.Options.HostResolvConf); nil when there is none.
func HostResolvConf() ([]byte, error) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to read the host's resolv.conf: %w", err)
	}
	return b, nil
}

// allContainers are the pod's init containers, then its app containers.
func allContainers(pod *corev1.Pod) []corev1.Container { return plan.AllContainers(pod) }

// plan is the pod's plan on this host: the daemon's directories and
// network, the images' configs, the objects the pod may read, and the
// host's resolv.conf, which the pod's is made from.
func (r *Runtime) plan(pod *corev1.Pod, images map[string]*ImageConfig, cms []*corev1.ConfigMap, secrets []*corev1.Secret) (*PodPlan, error) {
	resolv, err := HostResolvConf()
	if err != nil {
		return nil, err
	}
	return plan.Pod(pod, plan.Options{
		StateRoot:      r.cfg.Root,
		Network:        r.network.Name(),
		NetNSDir:       r.cfg.NetNSDir,
		Images:         images,
		ConfigMaps:     cms,
		Secrets:        secrets,
		PodPidsLimit:   r.cfg.PodPidsLimit,
		HostResolvConf: resolv,
	})
}

// writePodFiles writes the pod's /etc files as its plan holds them, with
// the pod's IP ("" until CNI gives it) and the lines of the other pods of
// its namespace filled in.
func writePodFiles(p *PodPlan, podIP string, peers []string) error {
	for _, f := range p.Sandbox.Files {
		if err := os.MkdirAll(filepath.Dir(f.HostPath), 0o755); err != nil {
			return fmt.Errorf("failed to create %q: %w", filepath.Dir(f.HostPath), err)
		}
		if err := os.WriteFile(f.HostPath, f.Render(podIP, peers), 0o644); err != nil {
			return fmt.Errorf("failed to write %q: %w", f.HostPath, err)
		}
	}
	return nil
}
