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
	return r.podObject(ps), nil
}

// podObject is the pod as the API shows it: its live status, and bound to
// this host as a scheduler would bind it, so that spec.nodeName (and NODE)
// names the host whatever the manifest said.
func (r *Runtime) podObject(ps *podState) *corev1.Pod {
	p := ps.status(r.hostIP)
	p.Spec.NodeName = r.nodeName
	return p
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
		p := r.podObject(ps)
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
