package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/fakebackend"
)

// next waits for the watch's next line, with a deadline.
func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the watch")
		return ""
	}
}

func TestWatchPods(t *testing.T) {
	fake := fakebackend.New()
	c, _ := startServer(t, fake)
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := c.CreatePod(ctx, testPod("web"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- c.WatchPods(ctx, "default", func(typ watch.EventType, p *corev1.Pod) error {
			got <- fmt.Sprintf("%s %s %s", typ, p.Name, p.Status.Phase)
			return nil
		})
	}()
	// What is there, then each change as it comes.
	if s := next(t, got); s != "ADDED web Running" {
		t.Fatalf("first: %q", s)
	}
	if _, err := c.CreatePod(ctx, testPod("db"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := next(t, got); s != "ADDED db Running" {
		t.Fatalf("after a create: %q", s)
	}
	fake.UpdatePod("default", "web", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })
	if s := next(t, got); s != "MODIFIED web Failed" {
		t.Fatalf("after a status change: %q", s)
	}
	// A change that leaves a pod as it was sends nothing for it.
	fake.Wake()
	if err := c.DeletePod(ctx, "default", "db", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := next(t, got); s != "DELETED db Running" {
		t.Fatalf("after a delete: %q", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WatchPods after its context ended: %v", err)
	}
}

func TestWatchEvents(t *testing.T) {
	fake := fakebackend.New()
	ev := func(name string, count int32) corev1.Event {
		return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Reason: "BackOff", Count: count}
	}
	fake.SetEvents([]corev1.Event{ev("web.1", 1)})
	c, _ := startServer(t, fake)
	got := make(chan string, 16)
	go func() {
		_ = c.WatchEvents(t.Context(), "default", "", func(e corev1.Event) error {
			got <- fmt.Sprintf("%s x%d", e.Name, e.Count)
			return nil
		})
	}()
	if s := next(t, got); s != "web.1 x1" {
		t.Fatalf("first: %q", s)
	}
	fake.SetEvents([]corev1.Event{ev("web.1", 2), ev("web.2", 1)})
	for _, want := range []string{"web.1 x2", "web.2 x1"} {
		if s := next(t, got); s != want {
			t.Fatalf("after a change: %q, want %q", s, want)
		}
	}
}
