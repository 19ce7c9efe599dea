package runtime

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExitReason: the one reading of a run's end.
func TestExitReason(t *testing.T) {
	for _, tc := range []struct {
		code        int32
		oom         bool
		err         error
		reason, msg string
	}{
		{0, false, nil, "Completed", ""},
		{1, false, nil, "Error", ""},
		{137, false, nil, "Error", ""},
		{137, true, nil, "OOMKilled", ""},
		{0, true, nil, "Completed", ""},
		{255, false, errors.New("wait broke"), "Error", "wait broke"},
	} {
		reason, msg := exitReason(tc.code, tc.oom, tc.err)
		if reason != tc.reason || msg != tc.msg {
			t.Errorf("exitReason(%d, %v, %v) = %q, %q; want %q, %q", tc.code, tc.oom, tc.err, reason, msg, tc.reason, tc.msg)
		}
	}
}

// TestPodPhase: the pod's phase from its containers, as getPhase.
func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	ok := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	bad := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}
	backOff := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	for _, tc := range []struct {
		state RecordState
		cs    []corev1.ContainerStatus
		want  corev1.PodPhase
	}{
		{StateCreating, []corev1.ContainerStatus{running}, corev1.PodPending},
		{StateRollbackIncomplete, []corev1.ContainerStatus{running}, corev1.PodPending},
		{StateRunning, []corev1.ContainerStatus{running, bad}, corev1.PodRunning},
		{StateRunning, []corev1.ContainerStatus{backOff, ok}, corev1.PodRunning},
		{StateRunning, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{StateRunning, []corev1.ContainerStatus{ok, bad}, corev1.PodFailed},
		{StateRunning, []corev1.ContainerStatus{creating}, corev1.PodPending},
		{StateDeleting, []corev1.ContainerStatus{running}, corev1.PodRunning},
	} {
		if got := podPhase(tc.state, tc.cs); got != tc.want {
			t.Errorf("podPhase(%s, %d containers) = %s, want %s", tc.state, len(tc.cs), got, tc.want)
		}
	}
}

// TestPodConditionsTransitions: a condition keeps its transition time
// while its status stays, takes now when it changes, and the pod's start
// the first time.
func TestPodConditionsTransitions(t *testing.T) {
	start := time.Unix(1000, 0)
	t1, t2 := start.Add(time.Minute), start.Add(2*time.Minute)
	find := func(cs []corev1.PodCondition, typ corev1.PodConditionType) corev1.PodCondition {
		for _, c := range cs {
			if c.Type == typ {
				return c
			}
		}
		t.Fatalf("no condition %s", typ)
		return corev1.PodCondition{}
	}
	asMap := func(cs []corev1.PodCondition) map[corev1.PodConditionType]corev1.PodCondition {
		m := map[corev1.PodConditionType]corev1.PodCondition{}
		for _, c := range cs {
			m[c.Type] = c
		}
		return m
	}
	first := podConditions(true, false, start, t1, nil)
	if c := find(first, corev1.PodReady); c.Status != corev1.ConditionFalse || !c.LastTransitionTime.Time.Equal(start) || c.Reason != "ContainersNotReady" {
		t.Fatalf("first Ready: %+v", c)
	}
	second := podConditions(true, true, start, t2, asMap(first))
	if c := find(second, corev1.PodReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(t2) || c.Reason != "" {
		t.Fatalf("Ready after it changed: %+v", c)
	}
	if c := find(second, corev1.PodInitialized); !c.LastTransitionTime.Time.Equal(start) {
		t.Fatalf("Initialized, unchanged: %+v", c)
	}
	// Reading again changes nothing.
	if c := find(podConditions(true, true, start, t2.Add(time.Hour), asMap(second)), corev1.PodReady); !c.LastTransitionTime.Time.Equal(t2) {
		t.Fatalf("Ready read again: %+v", c)
	}
}

// TestStatusChangesNothing: computing the status twice gives the same
// object, and leaves the container's state as it was, also for a
// termination message read from the log.
func TestStatusChangesNothing(t *testing.T) {
	ps := stateTestPod()
	log := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(log, []byte("2024-01-01T00:00:00Z stderr F boom\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := &containerState{ID: "x-app"}
	cs.beginRun(0, log)
	cs.exited(1, time.Now(), nil)
	cs.messageFromLog = log
	ps.containers["app"] = cs
	before := *cs
	a := ps.status("")
	b := ps.status("")
	term := a.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Message != "boom\n" || term.Reason != "Error" {
		t.Fatalf("terminated %+v, want Error with the log's end as message", term)
	}
	if b.Status.ContainerStatuses[0].State.Terminated.Message != term.Message {
		t.Fatalf("second read differs")
	}
	if cs.Message != before.Message || cs.messageFromLog != before.messageFromLog || ps.conditions != nil {
		t.Fatalf("status changed the state: %+v", cs)
	}
}

// TestContainerStateSurvives: setContainer saves a change before it
// applies it, and what is saved is what a daemon restart loads: restarts,
// log file, last state, started and ready, back-off.
func TestContainerStateSurvives(t *testing.T) {
	r := &Runtime{records: &recordStore{dir: t.TempDir()}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ps := stateTestPod()
	ps.rec.Pod.UID = "uid-1"
	if err := os.Mkdir(filepath.Join(r.records.dir, "uid-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	ps.mu.Lock()
	r.addContainer(ps, "app", &containerState{ID: "uid-1-app", Image: "busybox"})
	ps.mu.Unlock()
	finished := time.Now().Add(-time.Second).Round(0)
	r.updateContainer(ps, "app", func(cs *containerState) { cs.beginRun(0, "/logs/0.log") })
	r.updateContainer(ps, "app", func(cs *containerState) { cs.exited(3, finished, nil) })
	until := time.Now().Add(time.Minute).Round(0)
	r.updateContainer(ps, "app", func(cs *containerState) {
		cs.beginRun(1, "/logs/1.log")
		cs.Started, cs.Ready, cs.BackOff, cs.BackOffUntil = true, true, 20*time.Second, until
		// Saved before it is applied: the file holds the change already.
		saved, err := r.records.loadState("uid-1", "app")
		if err != nil || saved == nil || saved.Restarts != 0 {
			t.Errorf("saved before the change: %+v, %v", saved, err)
		}
	})
	got, err := r.records.loadState("uid-1", "app")
	if err != nil || got == nil {
		t.Fatalf("load: %v, %v", got, err)
	}
	if got.ID != "uid-1-app" || got.Restarts != 1 || got.LogPath != "/logs/1.log" || !got.Running || !got.Started || !got.Ready {
		t.Fatalf("loaded %+v", got)
	}
	if got.BackOff != 20*time.Second || !got.BackOffUntil.Equal(until) {
		t.Fatalf("back-off %v until %v, want 20s until %v", got.BackOff, got.BackOffUntil, until)
	}
	if got.LastState == nil || got.LastState.ExitCode != 3 || got.LastState.Reason != "Error" || !got.LastState.FinishedAt.Time.Equal(finished.Truncate(time.Second)) {
		t.Fatalf("last state %+v, want exit 3 finished at %v", got.LastState, finished)
	}
	if none, err := r.records.loadState("uid-1", "other"); none != nil || err != nil {
		t.Fatalf("a container never saved: %+v, %v", none, err)
	}

	// A pod whose directory is gone (deleted) gets none back.
	if err := os.RemoveAll(filepath.Join(r.records.dir, "uid-1")); err != nil {
		t.Fatal(err)
	}
	r.updateContainer(ps, "app", func(cs *containerState) { cs.exited(0, time.Now(), nil) })
	r.event(ps, corev1.EventTypeNormal, "Killing", "Stopping container app", "app")
	if _, err := os.Stat(filepath.Join(r.records.dir, "uid-1")); !os.IsNotExist(err) {
		t.Fatalf("the pod's directory came back: %v", err)
	}
}

// TestEventsSurvive: a pod's events are saved as they are recorded, and
// loaded as they were.
func TestEventsSurvive(t *testing.T) {
	r := &Runtime{records: &recordStore{dir: t.TempDir()}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ps := stateTestPod()
	ps.rec.Pod.UID = "uid-2"
	if err := os.Mkdir(filepath.Join(r.records.dir, "uid-2"), 0o700); err != nil {
		t.Fatal(err)
	}
	r.event(ps, corev1.EventTypeNormal, "Started", "Started container app", "app")
	r.event(ps, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container app", "app")
	r.event(ps, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container app", "app")
	got, err := r.records.loadEvents("uid-2")
	if err != nil || len(got) != 2 {
		t.Fatalf("loaded %d events, %v", len(got), err)
	}
	if got[0].Reason != "Started" || got[1].Reason != "BackOff" || got[1].Count != 2 || got[1].InvolvedObject.FieldPath != "spec.containers{app}" {
		t.Fatalf("loaded %+v", got)
	}
}

// TestAdoptedBackOff: an adopted container waits what is left of its
// back-off, the whole back-off after a failed start, nothing after an
// exit no daemon saw.
func TestAdoptedBackOff(t *testing.T) {
	now := time.Now()
	if d := adoptedBackOff(&containerState{BackOffUntil: now.Add(4 * time.Second), BackOff: 10 * time.Second}, now); d != 4*time.Second {
		t.Errorf("in back-off: %v", d)
	}
	if d := adoptedBackOff(&containerState{BackOffUntil: now.Add(-time.Second)}, now); d != 0 {
		t.Errorf("back-off over: %v", d)
	}
	if d := adoptedBackOff(&containerState{Waiting: "RunContainerError", BackOff: 10 * time.Second}, now); d != 10*time.Second {
		t.Errorf("failed start: %v", d)
	}
	if d := adoptedBackOff(&containerState{Exited: true}, now); d != 0 {
		t.Errorf("unseen exit: %v", d)
	}
}

// TestPastEventsSurvive: the events of deleted pods are kept in a file
// that the next daemon loads, expired ones left out.
func TestPastEventsSurvive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	now := time.Now()
	var p pastEvents
	if err := p.load(path, now); err != nil {
		t.Fatal(err)
	}
	ev := func(name string, at time.Time) corev1.Event {
		e := corev1.Event{Reason: "Started", LastTimestamp: metav1.NewTime(at)}
		e.InvolvedObject.Namespace, e.InvolvedObject.Name = "default", name
		return e
	}
	if err := p.keep([]corev1.Event{ev("gone", now.Add(-time.Minute)), ev("old", now.Add(-2*time.Hour))}, now); err != nil {
		t.Fatal(err)
	}
	var next pastEvents
	if err := next.load(path, now); err != nil {
		t.Fatal(err)
	}
	if got := next.of("default", "gone", now); len(got) != 1 || got[0].Reason != "Started" {
		t.Fatalf("loaded %+v", got)
	}
	if got := next.of("", "", now); len(got) != 1 {
		t.Fatalf("an expired event came back: %+v", got)
	}
}
