package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/plan"
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
}

type containerState struct {
	ID         string
	Init       bool
	Image      string
	ImageID    string
	StartedAt  time.Time
	FinishedAt time.Time
	Running    bool
	Exited     bool
	ExitCode   int32
	Reason     string
	Message    string
	// Restarts counts the container's restarts; LastState is its previous
	// run's termination. BackOffUntil is set while a restart waits.
	Restarts     int32
	LastState    *corev1.ContainerStateTerminated
	BackOffUntil time.Time
	BackOff      time.Duration
	// Waiting is the reason the container waits for its next start after
	// its task could not be created or started (RunContainerError), until
	// its back-off begins; WaitingMessage is the error.
	Waiting        string
	WaitingMessage string
	// LogPath is the log file of the current run.
	LogPath string
	// OOMKilled is set by containerd's OOM event for the current run.
	OOMKilled bool
	// messageFromLog is the log whose end is the termination message
	// (FallbackToLogsOnError), read when the status is asked for.
	messageFromLog string
	// Started is false until a startup probe passes; Ready follows the
	// readiness probe (true without one). stopProbes ends the run's probes.
	Started    bool
	Ready      bool
	stopProbes context.CancelFunc
}

// classifyOOM reads an exit with code 137 as OOMKilled when containerd
// reported an OOM kill of the container, or when its memory cgroup counts
// one: the event can be missed (a container killed as it starts), the
// count cannot. Call it under the pod's lock, before the task is deleted.
func (cs *containerState) classifyOOM(plan *PodPlan) {
	if cs.ExitCode != 137 {
		return
	}
	if !cs.OOMKilled && plan != nil && oomKilledIn(cgroupRoot, plan.CgroupParent+"/"+cs.ID) {
		cs.OOMKilled = true
	}
	if cs.OOMKilled {
		cs.Reason = "OOMKilled"
	}
}

// beginRun notes that a container's run n has started, writing to
// logPath; the run before, if it ended, becomes its lastState. The caller
// holds the pod's lock.
func (cs *containerState) beginRun(n int32, logPath string) {
	if cs.Exited {
		cs.LastState = cs.terminated()
	}
	cs.Restarts, cs.LogPath = n, logPath
	cs.Running, cs.Exited, cs.BackOffUntil, cs.OOMKilled = true, false, time.Time{}, false
	cs.Message, cs.messageFromLog = "", ""
	cs.Waiting, cs.WaitingMessage = "", ""
	cs.StartedAt = time.Now()
}

// exitCodeStartError is the exit code of a run whose task could not be
// created or started, as containerd's CRI plugin reports it.
const exitCodeStartError = 128

// failStart notes that run n of a container, writing to logPath, could not
// be created or started. As on a kubelet it counts as a run that ended at
// once: terminated with reason StartError and exit code 128, never started
// (1970), the error as its message. Whether it runs again is the
// restartPolicy's, as for any exit. The caller holds the pod's lock.
func (cs *containerState) failStart(n int32, logPath string, err error) {
	if cs.stopProbes != nil {
		cs.stopProbes()
		cs.stopProbes = nil
	}
	cs.Restarts, cs.LogPath = n, logPath
	cs.Running, cs.Exited, cs.Ready, cs.OOMKilled = false, true, false, false
	cs.ExitCode = exitCodeStartError
	cs.Reason, cs.Message, cs.messageFromLog = "StartError", err.Error(), ""
	cs.StartedAt, cs.FinishedAt = time.Unix(0, 0).UTC(), time.Now()
	cs.BackOffUntil = time.Time{}
	cs.Waiting, cs.WaitingMessage = "", ""
}

// terminated is the container's current run's termination; the caller
// holds the pod's lock and has checked that it exited.
func (cs *containerState) terminated() *corev1.ContainerStateTerminated {
	if cs.Message == "" && cs.messageFromLog != "" {
		cs.Message = lastLogLines(cs.messageFromLog, 80, 2048)
		if cs.Message != "" {
			cs.messageFromLog = ""
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: cs.ExitCode, Reason: cs.Reason, Message: cs.Message,
		StartedAt: metav1.NewTime(cs.StartedAt), FinishedAt: metav1.NewTime(cs.FinishedAt),
		ContainerID: "containerd://" + cs.ID,
	}
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

// status computes the pod's v1 status from its containers, as the kubelet
// does for a pod without restarts.
func (p *podState) status(hostIP string) *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.rec.Pod.DeepCopy()
	pod.APIVersion, pod.Kind = "v1", "Pod"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if p.rec.Plan != nil {
		pod.Annotations[AnnotationNetNS] = p.rec.Plan.Sandbox.NetNSPath
	}
	st := &pod.Status
	st.PodIP = p.rec.PodIP
	if p.rec.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: p.rec.PodIP}}
	}
	st.HostIP = hostIP
	if st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	start := metav1.NewTime(p.rec.Created)
	st.StartTime = &start
	st.QOSClass = plan.QOSClass(pod)

	statusOf := func(c corev1.Container, init bool) corev1.ContainerStatus {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		s := p.containers[c.Name]
		if s == nil {
			reason := "ContainerCreating"
			if init {
				reason = "PodInitializing"
			}
			if p.rec.State == StateRollbackIncomplete {
				// Never to be created: the creation failed, and what it
				// left is being removed (see TeardownFailed).
				reason = "CreateContainerError"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
			if w, ok := p.imageWait[c.Name]; ok {
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
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", s.BackOff, c.Name, pod.Name)}
			cs.LastTerminationState.Terminated = s.terminated()
		case s.Exited && s.Waiting != "":
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: s.Waiting, Message: s.WaitingMessage}
			cs.LastTerminationState.Terminated = s.terminated()
		case s.Running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}
			cs.Ready = s.Started && s.Ready
		case s.Exited:
			cs.State.Terminated = s.terminated()
		case p.rec.State == StateRollbackIncomplete:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerError"}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		return cs
	}
	initDone := true
	for _, c := range pod.Spec.InitContainers {
		cs := statusOf(c, true)
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
	running, succeeded, failed, restarting, readyN := 0, 0, 0, 0, 0
	for _, c := range pod.Spec.Containers {
		cs := statusOf(c, false)
		if cs.Ready {
			readyN++
		}
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
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	n := len(pod.Spec.Containers)
	switch {
	case p.rec.State == StateCreating || p.rec.State == StateRollbackIncomplete:
		st.Phase = corev1.PodPending
	case running > 0 || restarting > 0:
		st.Phase = corev1.PodRunning
	case succeeded == n:
		st.Phase = corev1.PodSucceeded
	case failed > 0 && running == 0:
		st.Phase = corev1.PodFailed
	default:
		st.Phase = corev1.PodPending
	}
	if p.rec.State == StateDeleting {
		now := metav1.Now()
		pod.DeletionTimestamp = &now
	}
	ready := readyN == n && n > 0
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		// The transition time is when the condition last changed, as seen
		// by whoever asked; the first time, the pod's start.
		if p.conditions == nil {
			p.conditions = map[corev1.PodConditionType]corev1.PodCondition{}
		}
		c, seen := p.conditions[t]
		if !seen || c.Status != s {
			at := metav1.Now()
			if !seen {
				at = start
			}
			c = corev1.PodCondition{Type: t, Status: s, LastTransitionTime: at}
			if t == corev1.ContainersReady || t == corev1.PodReady {
				if s == corev1.ConditionFalse {
					c.Reason = "ContainersNotReady"
				}
			}
			p.conditions[t] = c
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodScheduled, true),
		cond(corev1.PodInitialized, initDone),
		cond(corev1.ContainersReady, ready),
		cond(corev1.PodReady, ready),
	}
	if p.rec.TeardownError != "" {
		st.Reason, st.Message = "TeardownFailed", p.rec.TeardownError
	}
	return pod
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
