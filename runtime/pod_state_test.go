package runtime

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func stateTestPod() *podState {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{
			{Name: "app", Image: "busybox"},
		}},
	}
	ps := newPodState(&Record{Pod: pod, State: StateRunning, Created: time.Now()})
	return ps
}

// TestStatusLastStateIsTheRunJustEnded: a container waiting to run again
// (CrashLoopBackOff) shows the run that has just ended as its last state,
// as a kubelet does, not the run before it.
func TestStatusLastStateIsTheRunJustEnded(t *testing.T) {
	ps := stateTestPod()
	cs := &containerState{ID: "x-app"}
	ps.containers["app"] = cs
	t0 := time.Now().Add(-time.Minute)
	// Run 0 exits with 1; run 1 starts, exits with 2, and waits its back-off.
	cs.beginRun(0, "/logs/0.log")
	cs.StartedAt = t0
	cs.Running, cs.Exited, cs.ExitCode, cs.Reason, cs.FinishedAt = false, true, 1, "Error", t0.Add(time.Second)
	cs.beginRun(1, "/logs/1.log")
	cs.StartedAt = t0.Add(10 * time.Second)
	cs.Running, cs.Exited, cs.ExitCode, cs.Reason, cs.FinishedAt = false, true, 2, "Error", t0.Add(11*time.Second)
	cs.BackOff, cs.BackOffUntil = 10*time.Second, time.Now().Add(10*time.Second)

	st := ps.status("").Status.ContainerStatuses[0]
	if st.State.Waiting == nil || st.State.Waiting.Reason != "CrashLoopBackOff" {
		t.Fatalf("state %+v, want CrashLoopBackOff", st.State)
	}
	last := st.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 2 || !last.FinishedAt.Time.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("last state %+v, want the run that exited with 2", st.LastTerminationState)
	}
	if st.RestartCount != 1 {
		t.Fatalf("restartCount %d, want 1", st.RestartCount)
	}

	// Running again: the last state is still that run.
	cs.beginRun(2, "/logs/2.log")
	st = ps.status("").Status.ContainerStatuses[0]
	if st.State.Running == nil || st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ExitCode != 2 || st.RestartCount != 2 {
		t.Fatalf("running again: %+v", st)
	}
}

// TestStatusStartError: a container whose task could not be started is a
// run that ended at once (StartError, exit code 128); it waits with
// RunContainerError under a restartPolicy that restarts it, and the pod is
// Running; under Never it is Terminated and the pod Failed.
func TestStatusStartError(t *testing.T) {
	ps := stateTestPod()
	cs := &containerState{ID: "x-app"}
	ps.containers["app"] = cs
	cs.failStart(0, "/logs/0.log", errors.New(`exec: "/bin/nosuch": no such file or directory`))
	cs.Waiting, cs.WaitingMessage = "RunContainerError", cs.Message

	p := ps.status("")
	st := p.Status.ContainerStatuses[0]
	if w := st.State.Waiting; w == nil || w.Reason != "RunContainerError" || w.Message != cs.Message {
		t.Fatalf("state %+v, want Waiting RunContainerError with the error", st.State)
	}
	last := st.LastTerminationState.Terminated
	if last == nil || last.Reason != "StartError" || last.ExitCode != 128 || last.StartedAt.Unix() != 0 {
		t.Fatalf("last state %+v, want StartError, exit code 128, never started", st.LastTerminationState)
	}
	if st.RestartCount != 0 || st.Ready {
		t.Fatalf("restartCount %d ready %v", st.RestartCount, st.Ready)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("phase %s, want Running", p.Status.Phase)
	}

	// The back-off shows once it has begun.
	cs.Waiting, cs.BackOffUntil, cs.BackOff = "", time.Now().Add(time.Second), time.Second
	if w := ps.status("").Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Fatalf("in back-off: %+v", w)
	}

	// Never: nothing waits; the failed start is the container's end.
	cs.BackOffUntil = time.Time{}
	ps.rec.Pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	p = ps.status("")
	st = p.Status.ContainerStatuses[0]
	if term := st.State.Terminated; term == nil || term.Reason != "StartError" || term.ExitCode != 128 {
		t.Fatalf("under Never: %+v", st.State)
	}
	if p.Status.Phase != corev1.PodFailed {
		t.Fatalf("under Never: phase %s, want Failed", p.Status.Phase)
	}
}
