package main

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(code int32, reason string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}
}

// mkPod builds a pod with app containers named a, b, ... and init
// containers named i0, i1, ...
func mkPod(phase corev1.PodPhase, inits []corev1.ContainerStatus, apps []corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}}
	p.Status.Phase = phase
	for i := range inits {
		name := "i" + string(rune('0'+i))
		inits[i].Name = name
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: name})
	}
	for i := range apps {
		name := string(rune('a' + i))
		apps[i].Name = name
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: name})
	}
	p.Status.InitContainerStatuses = inits
	p.Status.ContainerStatuses = apps
	return p
}

func TestSummarizePod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	yes := true
	tests := []struct {
		name string
		pod  func() *corev1.Pod
		want podSummary
	}{
		{"pending without statuses", func() *corev1.Pod {
			p := mkPod(corev1.PodPending, nil, nil)
			p.Spec.Containers = []corev1.Container{{Name: "a"}}
			return p
		}, podSummary{"0/1", "Pending", "0"}},
		{"container creating", func() *corev1.Pod {
			return mkPod(corev1.PodPending, nil, []corev1.ContainerStatus{{State: waiting("ContainerCreating")}})
		}, podSummary{"0/1", "ContainerCreating", "0"}},
		{"running, two ready", func() *corev1.Pod {
			return mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: running(), Ready: true}, {State: running(), Ready: true}})
		}, podSummary{"2/2", "Running", "0"}},
		{"running, one not ready", func() *corev1.Pod {
			return mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: running(), Ready: true}, {State: running()}})
		}, podSummary{"1/2", "Running", "0"}},
		{"crash loop with restarts", func() *corev1.Pod {
			return mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{
				{State: running(), Ready: true},
				{State: waiting("CrashLoopBackOff"), RestartCount: 4, LastTerminationState: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(90 * time.Second)}}},
			})
		}, podSummary{"1/2", "CrashLoopBackOff", "4 (90s ago)"}},
		{"first container's reason wins", func() *corev1.Pod {
			return mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: waiting("ErrImagePull")}, {State: waiting("CrashLoopBackOff")}})
		}, podSummary{"0/2", "ErrImagePull", "0"}},
		{"completed", func() *corev1.Pod {
			return mkPod(corev1.PodSucceeded, nil, []corev1.ContainerStatus{{State: terminated(0, "Completed")}})
		}, podSummary{"0/1", "Completed", "0"}},
		{"error", func() *corev1.Pod {
			return mkPod(corev1.PodFailed, nil, []corev1.ContainerStatus{{State: terminated(2, "Error")}})
		}, podSummary{"0/1", "Error", "0"}},
		{"OOM killed", func() *corev1.Pod {
			return mkPod(corev1.PodFailed, nil, []corev1.ContainerStatus{{State: terminated(137, "OOMKilled")}})
		}, podSummary{"0/1", "OOMKilled", "0"}},
		{"exit code without reason", func() *corev1.Pod {
			return mkPod(corev1.PodFailed, nil, []corev1.ContainerStatus{{State: terminated(3, "")}})
		}, podSummary{"0/1", "ExitCode:3", "0"}},
		{"signal without reason", func() *corev1.Pod {
			p := mkPod(corev1.PodFailed, nil, []corev1.ContainerStatus{{State: terminated(137, "")}})
			p.Status.ContainerStatuses[0].State.Terminated.Signal = 9
			return p
		}, podSummary{"0/1", "Signal:9", "0"}},
		{"completed but one still running", func() *corev1.Pod {
			p := mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: terminated(0, "Completed")}, {State: running(), Ready: true}})
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
			return p
		}, podSummary{"1/2", "NotReady", "0"}},
		{"completed, running, pod ready", func() *corev1.Pod {
			p := mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: terminated(0, "Completed")}, {State: running(), Ready: true}})
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			return p
		}, podSummary{"1/2", "Running", "0"}},
		{"init running", func() *corev1.Pod {
			return mkPod(corev1.PodPending,
				[]corev1.ContainerStatus{{State: terminated(0, "Completed")}, {State: running()}},
				[]corev1.ContainerStatus{{State: waiting("PodInitializing")}})
		}, podSummary{"0/1", "Init:1/2", "0"}},
		{"init waiting to start", func() *corev1.Pod {
			return mkPod(corev1.PodPending,
				[]corev1.ContainerStatus{{State: waiting("PodInitializing")}},
				[]corev1.ContainerStatus{{State: waiting("PodInitializing")}})
		}, podSummary{"0/1", "Init:0/1", "0"}},
		{"init failed", func() *corev1.Pod {
			return mkPod(corev1.PodFailed,
				[]corev1.ContainerStatus{{State: terminated(1, "Error")}},
				[]corev1.ContainerStatus{{State: waiting("PodInitializing")}})
		}, podSummary{"0/1", "Init:Error", "0"}},
		{"init exit code", func() *corev1.Pod {
			return mkPod(corev1.PodPending,
				[]corev1.ContainerStatus{{State: terminated(5, "")}},
				[]corev1.ContainerStatus{{}})
		}, podSummary{"0/1", "Init:ExitCode:5", "0"}},
		{"init crash loop counts init restarts", func() *corev1.Pod {
			return mkPod(corev1.PodPending,
				[]corev1.ContainerStatus{{State: waiting("CrashLoopBackOff"), RestartCount: 3}},
				[]corev1.ContainerStatus{{}})
		}, podSummary{"0/1", "Init:CrashLoopBackOff", "3"}},
		{"sidecar init container counts as a container", func() *corev1.Pod {
			p := mkPod(corev1.PodRunning,
				[]corev1.ContainerStatus{{State: running(), Started: &yes, Ready: true, RestartCount: 1}},
				[]corev1.ContainerStatus{{State: running(), Ready: true}})
			p.Spec.InitContainers[0].RestartPolicy = &always
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			return p
		}, podSummary{"2/2", "Running", "1"}},
		{"terminating", func() *corev1.Pod {
			p := mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: running(), Ready: true}})
			ts := ago(time.Second)
			p.DeletionTimestamp = &ts
			return p
		}, podSummary{"1/1", "Terminating", "0"}},
		{"deleted but already succeeded", func() *corev1.Pod {
			p := mkPod(corev1.PodSucceeded, nil, []corev1.ContainerStatus{{State: terminated(0, "Completed")}})
			ts := ago(time.Second)
			p.DeletionTimestamp = &ts
			return p
		}, podSummary{"0/1", "Completed", "0"}},
		{"pod reason", func() *corev1.Pod {
			p := mkPod(corev1.PodFailed, nil, nil)
			p.Status.Reason = "Evicted"
			return p
		}, podSummary{"0/0", "Evicted", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizePod(tt.pod(), testNow); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{3*time.Minute + 2*time.Second, "3m2s"},
		{5 * time.Minute, "5m"},
		{90 * time.Minute, "90m"},
		{5*time.Hour + 10*time.Minute, "5h10m"},
		{30 * time.Hour, "30h"},
		{48 * time.Hour, "2d"},
		{50 * time.Hour, "2d2h"},
		{40 * 24 * time.Hour, "40d"},
	}
	for _, tt := range tests {
		if got := age(testNow.Add(-tt.d), testNow); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := age(time.Time{}, testNow); got != "<unknown>" {
		t.Errorf("age(zero) = %q", got)
	}
}

func TestCannotStart(t *testing.T) {
	startErr := &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: "exec: /bin/nosuch: no such file"}
	cases := []struct {
		name string
		apps []corev1.ContainerStatus
		want []string // substrings of the error; nil: no error
	}{
		{"running", []corev1.ContainerStatus{{State: running()}}, nil},
		{"crashing after its start", []corev1.ContainerStatus{{State: waiting("CrashLoopBackOff"), LastTerminationState: terminated(1, "Error")}}, nil},
		{"creating", []corev1.ContainerStatus{{State: waiting("ContainerCreating")}}, nil},
		{"start failed, retried", []corev1.ContainerStatus{{State: running()}, {
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: startErr.Message}},
			LastTerminationState: corev1.ContainerState{Terminated: startErr},
		}}, []string{`container "b" cannot start: RunContainerError: exec: /bin/nosuch`, "minipod describe pod web", "minipod logs web -c b --previous", "minipod delete pod web"}},
		{"start failed, in back-off", []corev1.ContainerStatus{{State: waiting("CrashLoopBackOff"), LastTerminationState: corev1.ContainerState{Terminated: startErr}}},
			[]string{`container "a" cannot start: RunContainerError: exec: /bin/nosuch`}},
		{"start failed under Never", []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: startErr}}},
			[]string{`container "a" cannot start: StartError: exec: /bin/nosuch`}},
		{"image", []corev1.ContainerStatus{{State: waiting("ErrImagePull")}}, []string{`container "a" cannot start: ErrImagePull`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := cannotStart(mkPod(corev1.PodRunning, nil, c.apps))
			if c.want == nil {
				if err != nil {
					t.Fatalf("got %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// A missing image: what to load, for the repository's demo images.
	p := mkPod(corev1.PodPending, nil, []corev1.ContainerStatus{{State: waiting("ImagePullBackOff")}})
	p.Spec.Containers[0].Image = "docker.io/minipod/webapp:1.0"
	if err := cannotStart(p); err == nil || !strings.Contains(err.Error(), "minipod image load _output/images/webapp.tar") || strings.Contains(err.Error(), "--previous") {
		t.Errorf("demo image: %v", err)
	}
	p.Spec.Containers[0].Image = "docker.io/minipod/webap:1.0"
	if err := cannotStart(p); err == nil || strings.Contains(err.Error(), "_output/images") || !strings.Contains(err.Error(), "minipod image load FILE.tar") {
		t.Errorf("other image: %v", err)
	}
	for image, want := range map[string]string{"busybox:1.36": "_output/images/busybox.tar", "docker.io/library/busybox": "_output/images/busybox.tar", "simple-webapp:1.0": "_output/images/webapp.tar", "nginx:1.25": ""} {
		if got := demoImageArchive(image); got != want {
			t.Errorf("demoImageArchive(%q) = %q, want %q", image, got, want)
		}
	}

	p = mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: startErr}}})
	p.Namespace = "dev"
	if err := cannotStart(p); err == nil || !strings.Contains(err.Error(), "minipod describe pod web -n dev") {
		t.Errorf("namespace dev: %v", err)
	}
}
