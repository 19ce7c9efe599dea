package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/plan"
	"github.com/minipod/minipod/supervisor"
)

// podState is a pod the daemon knows: its record and its containers' live
// state, kept current from containerd's task exits (task.Wait), not polling.
type podState struct {
	mu         sync.Mutex
	rec        *Record
	containers map[string]*containerState
	// created is closed when creation has finished, either way.
	created chan struct{}
	// ctx ends when the pod is being deleted: no more restarts.
	ctx    context.Context
	cancel context.CancelFunc
	// restarting counts the container restarts under way, which stop waits
	// for; once stopped is set (under restartMu) no restart begins.
	restartMu  sync.Mutex
	stopped    bool
	restarting sync.WaitGroup
	events     []corev1.Event
	// conditions remembers each pod condition's last status and when it
	// changed.
	conditions map[corev1.PodConditionType]corev1.PodCondition
	// pulling is set while a kept pod waits for images it could not pull
	// (pod_images.go); imageWait is what each container waiting for its
	// image shows (ErrImagePull, ImagePullBackOff).
	pulling   bool
	imageWait map[string]corev1.ContainerStateWaiting
	// results are the probes' results of the containers' current runs.
	results *supervisor.Results
}

func newPodState(rec *Record) *podState {
	ctx, cancel := context.WithCancel(context.Background())
	return &podState{rec: rec, containers: map[string]*containerState{}, imageWait: map[string]corev1.ContainerStateWaiting{}, created: make(chan struct{}), ctx: ctx, cancel: cancel}
}

func podKey(ns, name string) string { return ns + "/" + name }

// stopWatchers ends the pod's watchers and probes: no restart begins after
// it. Restarts under way go on; the daemon's Close uses it, as pods keep
// running.
func (p *podState) stopWatchers() {
	p.restartMu.Lock()
	p.stopped = true
	p.cancel()
	p.restartMu.Unlock()
}

// stop is stopWatchers, and then waits for the restarts under way to end,
// so that a task one of them creates is there for the teardown that
// follows to find, and none is created behind its back.
func (p *podState) stop() {
	p.stopWatchers()
	p.restarting.Wait()
}

// beginRestart registers a restart, unless the pod is stopping; the
// restart calls p.restarting.Done when it has finished.
func (p *podState) beginRestart() bool {
	p.restartMu.Lock()
	defer p.restartMu.Unlock()
	if p.stopped {
		return false
	}
	p.restarting.Add(1)
	return true
}

// status is the pod's v1 status, computed from its record and its
// containers' states by podStatus; it changes nothing.
func (p *podState) status(hostIP string) *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod, _ := podStatus(p.view(), hostIP, time.Now())
	return pod
}

// observeConditions remembers when each pod condition last changed: it is
// called at every change of a container's state (setContainer), so that
// reading the status changes nothing. The caller holds the pod's lock.
func (p *podState) observeConditions(now time.Time) {
	_, p.conditions = podStatus(p.view(), "", now)
}

// podView is what a pod's status is computed from.
type podView struct {
	rec        *Record
	containers map[string]*containerState
	imageWait  map[string]corev1.ContainerStateWaiting
	conditions map[corev1.PodConditionType]corev1.PodCondition
}

// view is the pod's podView; the caller holds the pod's lock while it is
// used.
func (p *podState) view() podView {
	return podView{rec: p.rec, containers: p.containers, imageWait: p.imageWait, conditions: p.conditions}
}

// containerStatus is a container's v1 status, computed from its state (nil
// when it has not been created yet), as the kubelet computes it.
func containerStatus(v podView, c corev1.Container, init bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	s := v.containers[c.Name]
	if s == nil {
		reason := "ContainerCreating"
		if init {
			reason = "PodInitializing"
		}
		if v.rec.State == StateRollbackIncomplete {
			// Never to be created: the creation failed, and what it
			// left is being removed (see TeardownFailed).
			reason = "CreateContainerError"
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		if w, ok := v.imageWait[c.Name]; ok {
			cs.State.Waiting = &w
		}
		return cs
	}
	cs.ContainerID = "containerd://" + s.ID
	cs.ImageID = s.ImageID
	if s.Image != "" {
		cs.Image = s.Image
	}
	started := s.Running && s.Started
	cs.Started = &started
	cs.RestartCount = s.Restarts
	if s.LastState != nil {
		cs.LastTerminationState.Terminated = s.LastState.DeepCopy()
	}
	// A container waiting to run again shows, as on a kubelet, the run
	// that has just ended as its last state, not the one before it.
	switch {
	case s.Exited && !s.BackOffUntil.IsZero():
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", s.BackOff, c.Name, v.rec.Pod.Name)}
		cs.LastTerminationState.Terminated = s.terminated()
	case s.Exited && s.Waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: s.Waiting, Message: s.WaitingMessage}
		cs.LastTerminationState.Terminated = s.terminated()
	case s.Running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}
		cs.Ready = s.Started && s.Ready
	case s.Exited:
		cs.State.Terminated = s.terminated()
	case v.rec.State == StateRollbackIncomplete:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerError"}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

// podPhase is the pod's phase from its record's state and its app
// containers' statuses, as the kubelet's getPhase.
func podPhase(state RecordState, statuses []corev1.ContainerStatus) corev1.PodPhase {
	running, succeeded, failed, restarting := 0, 0, 0, 0
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			// Waiting to run again (CrashLoopBackOff, RunContainerError):
			// the kubelet counts it as stopped, and under restartPolicy
			// Always or OnFailure the pod stays Running.
			restarting++
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil:
			failed++
		}
	}
	switch {
	case state == StateCreating || state == StateRollbackIncomplete:
		return corev1.PodPending
	case running > 0 || restarting > 0:
		return corev1.PodRunning
	case succeeded == len(statuses):
		return corev1.PodSucceeded
	case failed > 0 && running == 0:
		return corev1.PodFailed
	}
	return corev1.PodPending
}

// podConditions are the pod's conditions, each with the time it last
// changed: as in prev when its status is the same, now when it changed,
// the pod's start the first time.
func podConditions(initDone, ready bool, start, now time.Time, prev map[corev1.PodConditionType]corev1.PodCondition) []corev1.PodCondition {
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		if c, seen := prev[t]; seen && c.Status == s {
			return c
		}
		at := metav1.NewTime(now)
		if _, seen := prev[t]; !seen {
			at = metav1.NewTime(start)
		}
		c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: at}
		if (t == corev1.ContainersReady || t == corev1.PodReady) && s == corev1.ConditionFalse {
			c.Reason = "ContainersNotReady"
		}
		return c
	}
	return []corev1.PodCondition{
		cond(corev1.PodScheduled, true),
		cond(corev1.PodInitialized, initDone),
		cond(corev1.ContainersReady, ready),
		cond(corev1.PodReady, ready),
	}
}

// podStatus computes a pod's v1 object with its status from v at now, as
// the kubelet does, and the conditions with their transition times. It is
// pure: it reads v and the container's logs only for termination
// messages, and changes nothing.
func podStatus(v podView, hostIP string, now time.Time) (*corev1.Pod, map[corev1.PodConditionType]corev1.PodCondition) {
	pod := v.rec.Pod.DeepCopy()
	pod.APIVersion, pod.Kind = "v1", "Pod"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if v.rec.Plan != nil {
		pod.Annotations[AnnotationNetNS] = v.rec.Plan.Sandbox.NetNSPath
	}
	st := &pod.Status
	st.PodIP = v.rec.PodIP
	if v.rec.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: v.rec.PodIP}}
	}
	st.HostIP = hostIP
	if st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	start := metav1.NewTime(v.rec.Created)
	st.StartTime = &start
	st.QOSClass = plan.QOSClass(pod)

	initDone := true
	for _, c := range pod.Spec.InitContainers {
		cs := containerStatus(v, c, true)
		if isSidecar(&c) {
			// A native sidecar counts as initialized once it has started.
			if cs.Started == nil || !*cs.Started {
				initDone = false
			}
		} else {
			cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
			if !cs.Ready {
				initDone = false
			}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	readyN := 0
	for _, c := range pod.Spec.Containers {
		cs := containerStatus(v, c, false)
		if cs.Ready {
			readyN++
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	n := len(pod.Spec.Containers)
	st.Phase = podPhase(v.rec.State, st.ContainerStatuses)
	if v.rec.State == StateDeleting {
		del := metav1.NewTime(now)
		pod.DeletionTimestamp = &del
	}
	ready := readyN == n && n > 0
	st.Conditions = podConditions(initDone, ready, v.rec.Created, now, v.conditions)
	if v.rec.TeardownError != "" {
		st.Reason, st.Message = "TeardownFailed", v.rec.TeardownError
	}
	conds := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		conds[c.Type] = c
	}
	return pod, conds
}

// AnnotationNetNS carries the path of the pod's network namespace on the
// pods the API returns.
const AnnotationNetNS = "minipod.dev/netns"

func (r *Runtime) lookup(ns, name string) (*podState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[podKey(ns, name)]
	if p == nil {
		return nil, fmt.Errorf("pods %q not found: %w", name, errNotFound)
	}
	return p, nil
}
