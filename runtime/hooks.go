package runtime

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
)

// Lifecycle hooks, as the kubelet runs them: postStart right after the
// container starts (a failure kills it, and the restartPolicy applies);
// preStop before the stop signal, within the grace period.

// runHook runs a lifecycle handler for a container of a pod.
func (r *Runtime) runHook(ctx context.Context, ps *podState, c *corev1.Container, h *corev1.LifecycleHandler) error {
	ps.mu.Lock()
	ns, name, podIP := ps.rec.Pod.Namespace, ps.rec.Pod.Name, ps.rec.PodIP
	ps.mu.Unlock()
	switch {
	case h.Exec != nil:
		var out strings.Builder
		code, err := r.Exec(ctx, ns, name, api.ExecOptions{Container: c.Name, Command: h.Exec.Command}, api.ExecIO{Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %v exited with %d: %s", h.Exec.Command, code, strings.TrimSpace(out.String()))
		}
		return nil
	case h.HTTPGet != nil:
		if res := httpProbe(ctx, podIP, c, h.HTTPGet, 30*time.Second); !res.ok {
			return fmt.Errorf("%s", res.output)
		}
		return nil
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(podIP, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
			return nil
		}
	}
	return nil
}

// postStart runs a container's postStart hook, if any, and kills the
// container when it fails.
func (r *Runtime) postStart(ps *podState, name string) {
	ps.mu.Lock()
	c, _ := specOf(ps.rec.Pod, name)
	ps.mu.Unlock()
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ps.ctx, 2*time.Minute)
	defer cancel()
	if err := r.runHook(ctx, ps, c, c.Lifecycle.PostStart); err != nil {
		r.event(ps, corev1.EventTypeWarning, "FailedPostStartHook", fmt.Sprintf("PostStartHook failed: %v", err), name)
		r.killForProbe(ctx, ps, name, "FailedPostStartHook")
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
	if err := r.runHook(hctx, ps, c, c.Lifecycle.PreStop); err != nil {
		r.event(ps, corev1.EventTypeWarning, "FailedPreStopHook", fmt.Sprintf("PreStopHook failed: %v", err), name)
	}
	left := grace - time.Since(start)
	// As the kubelet: the stop signal always gets at least 2 seconds.
	if left < 2*time.Second {
		left = 2 * time.Second
	}
	return left
}
