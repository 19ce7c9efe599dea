package runtime

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minipod/minipod/plan"
)

// Resource values beyond any host are refused by field rather than passed
// on, saturated, to the kernel: a memory quantity that does not fit in 64
// bits or exceeds maxMemory, a CPU quantity above maxCPU cores.
var (
	maxMemory = resource.MustParse("64Pi")
	maxCPU    = resource.MustParse("1M") // cores
)

// checkResourceValues refuses absurd resource requests and limits.
func checkResourceValues(pod *corev1.Pod) error {
	var errs []error
	check := func(field string, rl corev1.ResourceList) {
		for name, q := range rl {
			var max resource.Quantity
			switch name {
			case corev1.ResourceMemory:
				max = maxMemory
			case corev1.ResourceCPU:
				max = maxCPU
			default:
				continue
			}
			if _, fits := q.AsInt64(); (!fits && name == corev1.ResourceMemory) || q.Cmp(max) > 0 {
				errs = append(errs, fmt.Errorf("%s[%s]: %s is more than any host has (at most %s): %w", field, name, q.String(), max.String(), errdefs.ErrInvalidArgument))
			}
		}
	}
	for kind, cs := range map[string][]corev1.Container{"initContainers": pod.Spec.InitContainers, "containers": pod.Spec.Containers} {
		for i, c := range cs {
			check(fmt.Sprintf("spec.%s[%d].resources.limits", kind, i), c.Resources.Limits)
			check(fmt.Sprintf("spec.%s[%d].resources.requests", kind, i), c.Resources.Requests)
		}
	}
	return errors.Join(errs...)
}

// ErrOutOfResources is the class of a pod the kubelet rejects at admission
// because the host does not have what it requests (reason OutOfcpu,
// OutOfmemory).
var ErrOutOfResources = fmt.Errorf("pod rejected: %w", errdefs.ErrResourceExhausted)

// admitRequests rejects a pod whose requests do not fit beside the pods
// the host already runs, as the kubelet's admission does: the sum of every
// pod's requests may not exceed the host's capacity (milli-CPUs and bytes).
func admitRequests(pod *corev1.Pod, running []*corev1.Pod, capMilliCPU, capMemory int64) error {
	cpu, mem := plan.PodRequests(pod)
	var usedCPU, usedMem int64
	for _, p := range running {
		c, m := plan.PodRequests(p)
		usedCPU += c
		usedMem += m
	}
	var errs []error
	if cpu > 0 && usedCPU+cpu > capMilliCPU {
		errs = append(errs, fmt.Errorf("OutOfcpu: Node didn't have enough resource: cpu, requested: %d, used: %d, capacity: %d (millicores): %w",
			cpu, usedCPU, capMilliCPU, ErrOutOfResources))
	}
	if mem > 0 && usedMem+mem > capMemory {
		errs = append(errs, fmt.Errorf("OutOfmemory: Node didn't have enough resource: memory, requested: %d, used: %d, capacity: %d (bytes): %w",
			mem, usedMem, capMemory, ErrOutOfResources))
	}
	return errors.Join(errs...)
}
