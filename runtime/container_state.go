package runtime

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A container's state has one owner. Every change of it is a transition: a
// function over a copy of the state, which setContainer persists and only
// then makes the state (containerd's UpdateSync in
// internal/cri/store/container/status.go). What is persisted is what a
// daemon restart must keep: the restart count, the current run's log file,
// the last state, started and ready, the back-off. The pod's status is then
// a pure function of these states (podStatus), as the kubelet's getPhase
// and GeneratePodReadyCondition are.

// containerState is a container's state: its current run and what it
// keeps of the runs before.
type containerState struct {
	ID         string    `json:"id"`
	Init       bool      `json:"init,omitempty"`
	Image      string    `json:"image,omitempty"`
	ImageID    string    `json:"imageID,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Running    bool      `json:"running,omitempty"`
	Exited     bool      `json:"exited,omitempty"`
	ExitCode   int32     `json:"exitCode,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	// Restarts counts the container's restarts; LastState is its previous
	// run's termination. BackOffUntil is set while a restart waits.
	Restarts     int32                            `json:"restarts,omitempty"`
	LastState    *corev1.ContainerStateTerminated `json:"lastState,omitempty"`
	BackOffUntil time.Time                        `json:"backOffUntil"`
	BackOff      time.Duration                    `json:"backOff,omitempty"`
	// Waiting is the reason the container waits for its next start after
	// its task could not be created or started (RunContainerError), until
	// its back-off begins; WaitingMessage is the error.
	Waiting        string `json:"waiting,omitempty"`
	WaitingMessage string `json:"waitingMessage,omitempty"`
	// LogPath is the log file of the current run.
	LogPath string `json:"logPath,omitempty"`
	// OOMKilled is set by containerd's OOM event for the current run.
	OOMKilled bool `json:"oomKilled,omitempty"`
	// messageFromLog is the log whose end is the termination message
	// (FallbackToLogsOnError), read when the status is asked for.
	messageFromLog string
	// Started is false until a startup probe passes; Ready follows the
	// readiness probe (true without one). probeCtx is the run's probes',
	// and stopProbes ends them.
	Started    bool `json:"started,omitempty"`
	Ready      bool `json:"ready,omitempty"`
	probeCtx   context.Context
	stopProbes context.CancelFunc
}

// persistedState is what a container's state file holds: the state and
// the log its termination message is still to be read from.
type persistedState struct {
	*containerState
	MessageFromLog string `json:"messageFromLog,omitempty"`
}

// exitReason is the one reading of a run's end: Completed for exit code 0,
// Error otherwise or when the wait itself failed (its error the message),
// OOMKilled for a kill by the OOM killer (exit code 137).
func exitReason(code int32, oomKilled bool, waitErr error) (reason, message string) {
	switch {
	case waitErr != nil:
		return "Error", waitErr.Error()
	case code == 137 && oomKilled:
		return "OOMKilled", ""
	case code == 0:
		return "Completed", ""
	}
	return "Error", ""
}

// classifyOOM reads an exit with code 137 as OOMKilled when containerd
// reported an OOM kill of the container, or when its memory cgroup counts
// one: the event can be missed (a container killed as it starts), the
// count cannot. Call it before the task is deleted.
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
// logPath; the run before, if it ended, becomes its lastState.
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

// exited notes that the current run ended with code at finishedAt (the
// wait's error, if it broke): the run's reason from exitReason, its
// probes stopped, not ready.
func (cs *containerState) exited(code int32, finishedAt time.Time, waitErr error) {
	if cs.stopProbes != nil {
		cs.stopProbes()
		cs.stopProbes = nil
	}
	cs.Running, cs.Exited, cs.Ready = false, true, false
	cs.ExitCode = code
	cs.FinishedAt = finishedAt
	if cs.FinishedAt.IsZero() || cs.FinishedAt.Year() < 2000 {
		cs.FinishedAt = time.Now()
	}
	cs.Reason, cs.Message = exitReason(code, cs.OOMKilled, waitErr)
}

// exitCodeStartError is the exit code of a run whose task could not be
// created or started, as containerd's CRI plugin reports it.
const exitCodeStartError = 128

// failStart notes that run n of a container, writing to logPath, could not
// be created or started. As on a kubelet it counts as a run that ended at
// once: terminated with reason StartError and exit code 128, never started
// (1970), the error as its message. Whether it runs again is the
// restartPolicy's, as for any exit.
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
// has checked that it exited. It reads the termination message from the
// log when that is where it comes from, and changes nothing.
func (cs *containerState) terminated() *corev1.ContainerStateTerminated {
	msg := cs.Message
	if msg == "" && cs.messageFromLog != "" {
		msg = lastLogLines(cs.messageFromLog, 80, 2048)
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: cs.ExitCode, Reason: cs.Reason, Message: msg,
		StartedAt: metav1.NewTime(cs.StartedAt), FinishedAt: metav1.NewTime(cs.FinishedAt),
		ContainerID: "containerd://" + cs.ID,
	}
}

// kept tells whether a pod's record is there to keep its containers'
// states and events: not once its deletion has begun.
func kept(rec *Record) bool {
	return rec.Pod != nil && rec.Pod.UID != "" && (rec.State == StateCreating || rec.State == StateRunning)
}

// setContainer is the one way a container's state changes: change is
// applied to a copy, the copy is persisted, and then it becomes the
// container's state; watchers are told. It returns false when the pod has
// no such container. The caller holds the pod's lock. A state that cannot
// be saved (a full disk) is still the state: the daemon goes on with the
// truth it has, and only a restart of it would miss the change.
func (r *Runtime) setContainer(ps *podState, name string, change func(cs *containerState)) bool {
	cs := ps.containers[name]
	if cs == nil {
		return false
	}
	next := *cs
	change(&next)
	if r.records != nil && kept(ps.rec) {
		if err := r.records.saveState(string(ps.rec.Pod.UID), name, &next); err != nil {
			r.log.Warn("failed to save a container's state; a daemon restart would miss this change", "pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", name, "err", err)
		}
	}
	*cs = next
	ps.observeConditions(time.Now())
	r.changes.notify()
	return true
}

// updateContainer is setContainer for a caller that does not hold the
// pod's lock.
func (r *Runtime) updateContainer(ps *podState, name string, change func(cs *containerState)) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return r.setContainer(ps, name, change)
}

// addContainer makes a created container known, with no run yet.
func (r *Runtime) addContainer(ps *podState, name string, cs *containerState) {
	ps.containers[name] = &containerState{}
	r.setContainer(ps, name, func(s *containerState) { *s = *cs })
}
