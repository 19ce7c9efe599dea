package runtime

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxPodEvents bounds the events kept per pod; the oldest go first.
const maxPodEvents = 200

// event records a v1 Event about a pod (or one of its containers), as the
// kubelet reports Pulled, Created, Started, Killing, BackOff, Unhealthy...
// Repeats of the same reason and message are counted, not stored again.
func (r *Runtime) event(ps *podState, typ, reason, message, container string) {
	now := metav1.NewTime(time.Now())
	defer r.changes.notify()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pod := ps.rec.Pod
	ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	if container != "" {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
	}
	for i := len(ps.events) - 1; i >= 0; i-- {
		e := &ps.events[i]
		if e.Reason == reason && e.Message == message && e.InvolvedObject.FieldPath == ref.FieldPath {
			e.Count++
			e.LastTimestamp = now
			return
		}
	}
	ps.events = append(ps.events, corev1.Event{
		TypeMeta:       metav1.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", pod.Name, uuid.NewString()[:8]), Namespace: pod.Namespace, UID: types.UID(uuid.NewString())},
		InvolvedObject: ref,
		Reason:         reason,
		Message:        message,
		Type:           typ,
		Count:          1,
		FirstTimestamp: now,
		LastTimestamp:  now,
		Source:         corev1.EventSource{Component: "minipod", Host: r.nodeName},
	})
	if len(ps.events) > maxPodEvents {
		ps.events = ps.events[len(ps.events)-maxPodEvents:]
	}
}

// ListEvents returns the events of the pods of a namespace ("" = all), or
// of one pod, oldest first.
func (r *Runtime) ListEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error) {
	var states []*podState
	if pod != "" {
		ps, err := r.lookup(namespace, pod)
		if err != nil {
			return nil, err
		}
		states = []*podState{ps}
	} else {
		states = r.podStates()
	}
	var out []corev1.Event
	for _, ps := range states {
		ps.mu.Lock()
		if namespace == "" || ps.rec.Pod.Namespace == namespace {
			out = append(out, ps.events...)
		}
		ps.mu.Unlock()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastTimestamp.Before(&out[j].LastTimestamp) })
	return out, nil
}
