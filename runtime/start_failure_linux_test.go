package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
)

// waitPod polls the pod's status until cond holds, or fails the test at the
// deadline with the last status.
func waitPod(t *testing.T, r *Runtime, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := r.GetPod(context.Background(), "default", name)
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: timed out waiting for %s; status %+v", name, what, p.Status.ContainerStatuses)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statusOf(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

func eventReasons(t *testing.T, r *Runtime, pod string) map[string]string {
	t.Helper()
	evs, err := r.ListEvents(context.Background(), "default", pod)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range evs {
		got[e.Reason] += e.Message + "\n"
	}
	return got
}

// TestStartFailureIsRetried: an app container whose command does not
// exist (its task cannot be created) does not undo the pod, as on a
// kubelet: the other container runs, the failing one ends with StartError
// (exit code 128), waits with RunContainerError, then CrashLoopBackOff,
// counts its attempts, and is tried again with back-off until the pod is
// deleted, which leaves nothing.
func TestStartFailureIsRetried(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 100 * time.Millisecond})
	ctx := context.Background()
	created, err := r.CreatePod(ctx, admitted(testPod("badcmd", []string{"sleep", "3600"}, []string{"/no/such/command"})), api.CreateOptions{})
	if err != nil {
		t.Fatalf("a container that cannot start undid the pod: %v", err)
	}
	cs := statusOf(created, "c1")
	if w := cs.State.Waiting; w == nil || w.Reason != "RunContainerError" || !strings.Contains(w.Message, "/no/such/command") {
		t.Fatalf("c1 after its failed start: state %+v, want Waiting RunContainerError naming the command", cs.State)
	}
	if last := cs.LastTerminationState.Terminated; last == nil || last.Reason != "StartError" || last.ExitCode != 128 {
		t.Fatalf("c1 last state %+v, want StartError with exit code 128", cs.LastTerminationState)
	}
	p := waitPod(t, r, "badcmd", "c1 in CrashLoopBackOff after 3 attempts", func(p *corev1.Pod) bool {
		cs := statusOf(p, "c1")
		return cs.RestartCount >= 3 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs = statusOf(p, "c1")
	if last := cs.LastTerminationState.Terminated; last == nil || last.Reason != "StartError" || last.ExitCode != 128 || !strings.Contains(last.Message, "/no/such/command") {
		t.Fatalf("c1 last state %+v", cs.LastTerminationState)
	}
	if c0 := statusOf(p, "c0"); c0.State.Running == nil || c0.RestartCount != 0 {
		t.Fatalf("c0 beside the failing container: %+v", c0)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("phase %s, want Running", p.Status.Phase)
	}
	ev := eventReasons(t, r, "badcmd")
	if !strings.Contains(ev["Failed"], "Error: ") || !strings.Contains(ev["Failed"], "/no/such/command") || ev["BackOff"] == "" {
		t.Fatalf("events %v, want Failed naming the command and BackOff", ev)
	}
	if err := r.DeletePod(ctx, "default", "badcmd", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)

	// Under Never, the failed start is final: Terminated StartError, the
	// pod Failed, nothing tried again.
	never := testPod("never", []string{"/no/such/command"})
	never.Spec.RestartPolicy = corev1.RestartPolicyNever
	created, err = r.CreatePod(ctx, admitted(never), api.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs = statusOf(created, "c0")
	if term := cs.State.Terminated; term == nil || term.Reason != "StartError" || term.ExitCode != 128 || cs.RestartCount != 0 {
		t.Fatalf("under Never: %+v", cs)
	}
	if created.Status.Phase != corev1.PodFailed {
		t.Fatalf("under Never: phase %s, want Failed", created.Status.Phase)
	}
	if err := r.DeletePod(ctx, "default", "never", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)
}

// TestRestartFailureIsRetried: a container that ran, and whose task then
// cannot be created at a restart (here its command has gone from the
// hostPath it runs from), is not left Terminated for good: it is tried
// again with back-off, and runs again once it can.
func TestRestartFailureIsRetried(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 50 * time.Millisecond})
	ctx := context.Background()
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	body := []byte("#!/bin/sh\necho ran\nexit 1\n")
	if err := os.WriteFile(script, body, 0o755); err != nil {
		t.Fatal(err)
	}
	pod := testPod("comeback", []string{"/bin/run.d/run.sh"})
	pod.Spec.Volumes = []corev1.Volume{{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "bin", MountPath: "/bin/run.d"}}
	if _, err := r.CreatePod(ctx, admitted(pod), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, r, "comeback", "a restart", func(p *corev1.Pod) bool { return statusOf(p, "c0").RestartCount >= 1 })
	if err := os.Remove(script); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, r, "comeback", "a failed restart", func(p *corev1.Pod) bool {
		cs := statusOf(p, "c0")
		last := cs.LastTerminationState.Terminated
		return cs.State.Waiting != nil && last != nil && last.Reason == "StartError"
	})
	failedAt := statusOf(p, "c0").RestartCount
	if err := os.WriteFile(script, body, 0o755); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, r, "comeback", "runs again after the failed restart", func(p *corev1.Pod) bool {
		cs := statusOf(p, "c0")
		last := cs.LastTerminationState.Terminated
		return cs.RestartCount > failedAt+1 && last != nil && last.Reason == "Error" && last.ExitCode == 1
	})
	if err := r.DeletePod(ctx, "default", "comeback", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)
}

func initStatusOf(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

// TestInitStartFailureIsRetried: an init container whose task cannot be
// created is retried with back-off like one that exits non-zero
// (Init:CrashLoopBackOff over a StartError), and the pod goes on once it
// can run; under Never the failed start fails the pod's creation.
func TestInitStartFailureIsRetried(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 50 * time.Millisecond})
	ctx := context.Background()
	dir := t.TempDir()
	script := filepath.Join(dir, "init.sh")
	pod := testPod("initcomeback", []string{"sleep", "3600"})
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "docker.io/library/busybox:1.36", Command: []string{"/bin/run.d/init.sh"},
		VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/bin/run.d"}}}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
	done := make(chan error, 1)
	go func() {
		_, err := r.CreatePod(ctx, admitted(pod), api.CreateOptions{})
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := r.GetPod(ctx, "default", "initcomeback")
		if err == nil {
			cs := initStatusOf(p, "init")
			if last := cs.LastTerminationState.Terminated; cs.RestartCount >= 2 && last != nil && last.Reason == "StartError" && last.ExitCode == 128 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("creation ended while its init container could not start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the init container's failed starts to be retried; pod %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("creation once the init container can run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pod did not go on once its init container could run")
	}
	if err := r.DeletePod(ctx, "default", "initcomeback", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)

	never := testPod("initnever", []string{"sleep", "3600"})
	never.Spec.RestartPolicy = corev1.RestartPolicyNever
	never.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "docker.io/library/busybox:1.36", Command: []string{"/no/such/command"}}}
	if _, err := r.CreatePod(ctx, admitted(never), api.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "Init:StartError") || !strings.Contains(err.Error(), "/no/such/command") {
		t.Fatalf("under Never: %v, want Init:StartError naming the command", err)
	}
	assertEmpty(t, r)
}

// TestImagePullFailureKeepsPod: a pod whose image cannot be pulled is
// kept and Pending, its container waiting with ErrImagePull, then
// ImagePullBackOff; nothing is created on the host meanwhile, and a
// delete during the wait ends it and leaves nothing.
func TestImagePullFailureKeepsPod(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 50 * time.Millisecond})
	ctx := context.Background()
	// Port 1 on loopback: nothing listens, the pull fails at once.
	pod := testPod("noimage", []string{"sleep", "3600"})
	pod.Spec.Containers[0].Image = "127.0.0.1:1/minipod/absent:1.0"
	created, err := r.CreatePod(ctx, admitted(pod), api.CreateOptions{})
	if err != nil {
		t.Fatalf("a pod whose image cannot be pulled was not kept: %v", err)
	}
	cs := statusOf(created, "c0")
	if w := cs.State.Waiting; w == nil || w.Reason != "ErrImagePull" || !strings.Contains(w.Message, "127.0.0.1:1/minipod/absent:1.0") {
		t.Fatalf("state %+v, want Waiting ErrImagePull naming the image", cs.State)
	}
	if created.Status.Phase != corev1.PodPending {
		t.Fatalf("phase %s, want Pending", created.Status.Phase)
	}
	waitPod(t, r, "noimage", "ImagePullBackOff", func(p *corev1.Pod) bool {
		w := statusOf(p, "c0").State.Waiting
		return w != nil && w.Reason == "ImagePullBackOff"
	})
	ev := eventReasons(t, r, "noimage")
	if !strings.Contains(ev["Pulling"], "Pulling image") || !strings.Contains(ev["Failed"], "Failed to pull image") || !strings.Contains(ev["Failed"], "Error: ErrImagePull") || !strings.Contains(ev["BackOff"], "Back-off pulling image") {
		t.Fatalf("events %v", ev)
	}
	if dirs, _ := os.ReadDir(filepath.Join(r.cfg.Root, "pods")); len(dirs) != 0 {
		t.Fatalf("pod directories while the pod waits for its image: %d", len(dirs))
	}
	done := make(chan error, 1)
	go func() { done <- r.DeletePod(ctx, "default", "noimage", api.DeleteOptions{}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("delete of a pod waiting for its image did not end")
	}
	assertEmpty(t, r)
}

// TestSidecarStartFailureIsRetried: a native sidecar whose task cannot be
// created is retried with back-off, and the pod goes on once it runs.
func TestSidecarStartFailureIsRetried(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 50 * time.Millisecond})
	ctx := context.Background()
	dir := t.TempDir()
	always := corev1.ContainerRestartPolicyAlways
	pod := testPod("sidecarcomeback", []string{"sleep", "3600"})
	pod.Spec.InitContainers = []corev1.Container{{Name: "sidecar", Image: "docker.io/library/busybox:1.36", Command: []string{"/bin/run.d/sidecar.sh"},
		RestartPolicy: &always, VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/bin/run.d"}}}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
	done := make(chan error, 1)
	go func() {
		_, err := r.CreatePod(ctx, admitted(pod), api.CreateOptions{})
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := r.GetPod(ctx, "default", "sidecarcomeback")
		if err == nil {
			cs := initStatusOf(p, "sidecar")
			if last := cs.LastTerminationState.Terminated; cs.RestartCount >= 2 && last != nil && last.Reason == "StartError" {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("creation ended while its sidecar could not start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the sidecar's failed starts to be retried; pod %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(dir, "sidecar.sh"), []byte("#!/bin/sh\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("creation once the sidecar can run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pod did not go on once its sidecar could run")
	}
	p := waitPod(t, r, "sidecarcomeback", "the app container running", func(p *corev1.Pod) bool { return statusOf(p, "c0").State.Running != nil })
	if cs := initStatusOf(p, "sidecar"); cs.State.Running == nil {
		t.Fatalf("sidecar: %+v", cs.State)
	}
	if err := r.DeletePod(ctx, "default", "sidecarcomeback", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)
}
