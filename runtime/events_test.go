package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A deleted pod's events stay listed for eventTTL, as the API server keeps
// them; older ones, of live pods too, are gone.
func TestEventsOutliveTheirPod(t *testing.T) {
	r := &Runtime{pods: map[string]*podState{}, nodeName: "host"}
	add := func(name string) *podState {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid")}}
		ps := newPodState(&Record{Pod: pod})
		r.pods[podKey("default", name)] = ps
		return ps
	}
	names := func(events []corev1.Event) []string {
		var out []string
		for _, e := range events {
			out = append(out, e.InvolvedObject.Name+":"+e.Reason)
		}
		return out
	}
	web, db := add("web"), add("db")
	r.event(web, corev1.EventTypeNormal, "Started", "Started container app", "app")
	r.event(db, corev1.EventTypeNormal, "Started", "Started container db", "db")
	r.event(web, corev1.EventTypeNormal, "Killing", "Stopping container app", "app")
	// An event of the live pod older than the TTL.
	db.mu.Lock()
	db.events = append(db.events, corev1.Event{InvolvedObject: corev1.ObjectReference{Name: "db", Namespace: "default"}, Reason: "Old",
		LastTimestamp: metav1.NewTime(time.Now().Add(-eventTTL - time.Minute))})
	db.mu.Unlock()

	// Deleted as DeletePod deletes it.
	r.keepEvents(web)
	delete(r.pods, podKey("default", "web"))

	got, err := r.ListEvents(context.Background(), "default", "web")
	if err != nil {
		t.Fatalf("events of the deleted pod: %v", err)
	}
	if n := names(got); len(n) != 2 || n[0] != "web:Started" || n[1] != "web:Killing" {
		t.Fatalf("events of the deleted pod = %v, want its Started and Killing", n)
	}
	all, err := r.ListEvents(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := names(all); len(n) != 3 {
		t.Fatalf("all events = %v, want web's two and db's Started (db's expired one gone)", n)
	}
	if other, _ := r.ListEvents(context.Background(), "other", ""); len(other) != 0 {
		t.Fatalf("events of another namespace: %v", names(other))
	}
	if _, err := r.ListEvents(context.Background(), "default", "never"); !errdefs.IsNotFound(err) {
		t.Fatalf("events of a pod that never was: %v, want NotFound", err)
	}

	// An hour later they are gone.
	r.pastEvents.mu.Lock()
	for i := range r.pastEvents.events {
		r.pastEvents.events[i].LastTimestamp = metav1.NewTime(time.Now().Add(-eventTTL))
	}
	r.pastEvents.mu.Unlock()
	if _, err := r.ListEvents(context.Background(), "default", "web"); !errdefs.IsNotFound(err) {
		t.Fatalf("events of a pod deleted an hour ago: %v, want NotFound", err)
	}
	if len(r.pastEvents.events) != 0 {
		t.Fatalf("%d expired events still held", len(r.pastEvents.events))
	}
}
