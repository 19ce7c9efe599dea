package runtime

import (
	"context"
	"fmt"
	"maps"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UpdatePodMetadata replaces a pod's labels and annotations (and the
// record of which client set which field), the part of a
// running pod that minipod lets change (the API server allows a few spec
// fields too, such as a container's image, which minipod does not
// honour). The change is saved in the pod's record, so that it survives a
// restart of the daemon.
func (r *Runtime) UpdatePodMetadata(ctx context.Context, namespace, name string, labels, annotations map[string]string, managedFields []metav1.ManagedFieldsEntry) (*corev1.Pod, error) {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	if ps.rec.State == StateDeleting {
		ps.mu.Unlock()
		return nil, fmt.Errorf("pod %q is being deleted: %w", name, errdefs.ErrConflict)
	}
	ann := maps.Clone(annotations)
	delete(ann, AnnotationNetNS) // computed for each answer, never stored
	ps.rec.Pod.Labels = maps.Clone(labels)
	ps.rec.Pod.Annotations = ann
	ps.rec.Pod.ManagedFields = managedFields
	err = r.records.save(ps.rec)
	ps.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("failed to save pod %q: %w", name, err)
	}
	r.changes.notify()
	return ps.status(r.hostIP), nil
}
