package runtime

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxPodEvents bounds the events kept per pod; the oldest go first.
const maxPodEvents = 200

// eventTTL is how long an event is kept after its last occurrence, as the
// API server's --event-ttl keeps it (1h by default): the events of a
// deleted pod outlive it by that long, and older events of a live pod go.
const eventTTL = time.Hour

// pastEvents holds the events of deleted pods until they expire, and
// keeps them in a file (path, once loaded) for the next daemon.
type pastEvents struct {
	mu     sync.Mutex
	events []corev1.Event
	path   string
}

// keep holds a deleted pod's events.
func (p *pastEvents) keep(events []corev1.Event, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(unexpired(p.events, now), unexpired(events, now)...)
	if p.path == "" {
		return nil
	}
	return saveEventsFile(p.path, p.events)
}

// load reads the events kept at path by an earlier daemon, and keeps them
// there from now on.
func (p *pastEvents) load(path string, now time.Time) error {
	events, err := loadEventsFile(path)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.path = path
	p.events = append(unexpired(events, now), p.events...)
	return err
}

// of returns the unexpired events of deleted pods of a namespace ("" =
// all), of pods named pod when it is not "".
func (p *pastEvents) of(namespace, pod string, now time.Time) []corev1.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = unexpired(p.events, now)
	var out []corev1.Event
	for _, e := range p.events {
		if (namespace == "" || e.InvolvedObject.Namespace == namespace) && (pod == "" || e.InvolvedObject.Name == pod) {
			out = append(out, e)
		}
	}
	return out
}

// unexpired returns the events last seen within eventTTL of now, in a new
// slice.
func unexpired(events []corev1.Event, now time.Time) []corev1.Event {
	var out []corev1.Event
	for _, e := range events {
		if now.Sub(e.LastTimestamp.Time) < eventTTL {
			out = append(out, e)
		}
	}
	return out
}

// event records a v1 Event about a pod (or one of its containers), as the
// kubelet reports Pulled, Created, Started, Killing, BackOff, Unhealthy...
// Repeats of the same reason and message are counted, not stored again.
func (r *Runtime) event(ps *podState, typ, reason, message, container string) {
	now := metav1.NewTime(time.Now())
	defer r.changes.notify()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	defer r.saveEvents(ps)
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
// of one pod, oldest first; those of deleted pods are kept for eventTTL.
// Asked for one pod, it returns that pod's own events, or when no pod has
// that name, those of the deleted pods that had it (NotFound if none).
func (r *Runtime) ListEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error) {
	now := time.Now()
	var states []*podState
	var out []corev1.Event
	if pod != "" {
		ps, err := r.lookup(namespace, pod)
		if errdefs.IsNotFound(err) {
			if out = r.pastEvents.of(namespace, pod, now); len(out) == 0 {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		} else {
			states = []*podState{ps}
		}
	} else {
		states = r.podStates()
		out = r.pastEvents.of(namespace, "", now)
	}
	for _, ps := range states {
		ps.mu.Lock()
		if namespace == "" || ps.rec.Pod.Namespace == namespace {
			out = append(out, unexpired(ps.events, now)...)
		}
		ps.mu.Unlock()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastTimestamp.Before(&out[j].LastTimestamp) })
	return out, nil
}

// keepEvents holds a deleted pod's events for eventTTL.
func (r *Runtime) keepEvents(ps *podState) {
	ps.mu.Lock()
	events := slices.Clone(ps.events)
	ps.mu.Unlock()
	if err := r.pastEvents.keep(events, time.Now()); err != nil {
		r.log.Warn("failed to save a deleted pod's events; a daemon restart would lose them", "err", err)
	}
}
