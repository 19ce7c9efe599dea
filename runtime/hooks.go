package runtime

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/supervisor"
)

// Lifecycle hooks, as the kubelet runs them: postStart right after the
// container starts (a failure is put to the supervisor's decision, which
// kills it, and the restartPolicy applies); preStop before the stop
// signal, within the grace period. The handlers are the supervisor's.

// postStart runs a container's postStart hook, if any; when it fails, the
// supervisor decides what becomes of the container.
func (r *Runtime) postStart(ps *podState, name string) {
	ps.mu.Lock()
	c, _ := specOf(ps.rec.Pod, name)
	ps.mu.Unlock()
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ps.ctx, 2*time.Minute)
	defer cancel()
	if err := r.handlers(ps).Hook(ctx, c, c.Lifecycle.PostStart); err != nil {
		r.event(ps, corev1.EventTypeWarning, "FailedPostStartHook", fmt.Sprintf("PostStartHook failed: %v", err), name)
		r.sync(ps, name, supervisor.Container{PostStartFailed: true})
	}
}

// preStop runs a container's preStop hook, if any, within the grace period,
// and returns how much of the grace period is left for the stop signal.
func (r *Runtime) preStop(ctx context.Context, ps *podState, name string, grace time.Duration) time.Duration {
	c, _ := specOf(ps.rec.Pod, name)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := r.handlers(ps).Hook(hctx, c, c.Lifecycle.PreStop); err != nil {
		r.event(ps, corev1.EventTypeWarning, "FailedPreStopHook", fmt.Sprintf("PreStopHook failed: %v", err), name)
	}
	left := grace - time.Since(start)
	// As the kubelet: the stop signal always gets at least 2 seconds.
	if left < 2*time.Second {
		left = 2 * time.Second
	}
	return left
}
