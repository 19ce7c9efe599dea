package runtime

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// GetPod returns a pod with its live status.
func (r *Runtime) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return nil, err
	}
	return ps.status(r.hostIP), nil
}

// podStates is a snapshot of the pods the runtime knows, to read without
// holding r.mu.
func (r *Runtime) podStates() []*podState {
	r.mu.Lock()
	defer r.mu.Unlock()
	states := make([]*podState, 0, len(r.pods))
	for _, ps := range r.pods {
		states = append(states, ps)
	}
	return states
}

// ListPods lists the pods of a namespace, or of all when namespace is "".
func (r *Runtime) ListPods(ctx context.Context, namespace string) ([]corev1.Pod, error) {
	states := r.podStates()
	out := make([]corev1.Pod, 0, len(states))
	for _, ps := range states {
		p := ps.status(r.hostIP)
		if namespace == "" || p.Namespace == namespace {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
