package supervisor

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's back-off: a container that exits is restarted, the first
// time at once, then after a back-off that starts at the base (10 s) and
// doubles up to the maximum (5 min), and is forgotten once the container
// has run for BackOffResetAfter.
const (
	DefaultBackOffBase = 10 * time.Second
	DefaultBackOffMax  = 5 * time.Minute
	// BackOffResetAfter is how long a run must last for the back-off to
	// start again from nothing.
	BackOffResetAfter = 10 * time.Minute
)

// NextBackOff is the wait before the next restart, given the last one and
// how long the container ran. Zero means restart at once.
func NextBackOff(last, ran, base, max time.Duration, restarts int32) time.Duration {
	if restarts == 0 || ran >= BackOffResetAfter {
		return 0
	}
	if last == 0 {
		return base
	}
	if next := 2 * last; next < max {
		return next
	}
	return max
}

// ShouldRestart applies a restartPolicy to an exit code.
func ShouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyAlways, "":
		return true
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return false
}

// Container is what a decision reads of a container.
type Container struct {
	Name string
	// RestartPolicy is the policy that applies to its exits: the pod's,
	// Always for a native sidecar.
	RestartPolicy corev1.RestartPolicy
	// Stopping is set once the pod is being deleted: nothing restarts.
	Stopping bool
	// Running tells whether its current run is running; if not, the run
	// ended with ExitCode after running for Ran.
	Running  bool
	ExitCode int32
	Ran      time.Duration
	// Restarts counts its restarts; BackOff is the last back-off.
	Restarts int32
	BackOff  time.Duration
	// Startup and Liveness are its current run's probe results;
	// PostStartFailed that its postStart hook failed.
	Startup, Liveness Result
	PostStartFailed   bool
}

// Action is what is to become of a container.
type Action struct {
	// Kill: the running container is to be killed; Message says why (the
	// Killing event's). Its exit is then decided on as any other.
	Kill    bool
	Message string
	// Restart: the container that ended runs again after BackOff (zero:
	// at once), which is also the back-off to remember.
	Restart bool
	BackOff time.Duration
}

// Policy is the back-off a Decide applies.
type Policy struct {
	BackOffBase, BackOffMax time.Duration
}

// Decide is the one place that says whether a container is killed or
// restarted, as the kubelet's computePodActions: a running container whose
// postStart hook, startup probe or liveness probe failed is killed; one
// that ended runs again when its restartPolicy says so, after the
// back-off; nothing restarts once the pod is stopping.
func (p Policy) Decide(c Container) Action {
	if c.Running {
		switch {
		case c.PostStartFailed:
			return Action{Kill: true, Message: "FailedPostStartHook"}
		case c.Startup == Failure:
			return Action{Kill: true, Message: "Container " + c.Name + " failed startup probe, will be restarted"}
		case c.Liveness == Failure:
			return Action{Kill: true, Message: "Container " + c.Name + " failed liveness probe, will be restarted"}
		}
		return Action{}
	}
	if c.Stopping || !ShouldRestart(c.RestartPolicy, c.ExitCode) {
		return Action{}
	}
	base, max := p.BackOffBase, p.BackOffMax
	if base <= 0 {
		base = DefaultBackOffBase
	}
	if max <= 0 {
		max = DefaultBackOffMax
	}
	return Action{Restart: true, BackOff: NextBackOff(c.BackOff, c.Ran, base, max, c.Restarts)}
}
