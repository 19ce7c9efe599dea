package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/plan"
	"github.com/minipod/minipod/supervisor"
)

// Init containers run one at a time, in order, each to exit 0 before the
// next starts. A failing one is retried with the kubelet's back-off when
// the pod's restartPolicy is Always or OnFailure (the status reads
// Init:CrashLoopBackOff meanwhile), and fails the pod under Never.
//
// An init container with restartPolicy Always is a native sidecar: it is
// started in its turn, the next one starts once it is running (and its
// startupProbe, if any, has passed), it is restarted for the whole life of
// the pod, and it is stopped after the app containers.

// isSidecar and specOf read a pod's containers as its plan does.
func isSidecar(c *corev1.Container) bool { return plan.IsSidecar(c) }

func specOf(pod *corev1.Pod, name string) (*corev1.Container, bool) { return plan.SpecOf(pod, name) }

// restartPolicyOf is the policy that applies to a container's exits:
// Always for sidecars, the pod's for app containers.
func restartPolicyOf(pod *corev1.Pod, name string) corev1.RestartPolicy {
	if c, init := specOf(pod, name); init && c != nil && isSidecar(c) {
		return corev1.RestartPolicyAlways
	}
	return pod.Spec.RestartPolicy
}

// runInit creates an init container and runs it to completion (or, for a
// sidecar, until it has started). The end of ctx stops the waiting, never a
// containerd call half way.
func (a *podApply) runInit(ctx context.Context, cp *ContainerPlan) error {
	r, ps, plan := a.r, a.ps, a.plan
	img := a.images[cp.Image]
	c, err := r.createContainer(context.WithoutCancel(ctx), a, cp)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	ps.rec.Containers[cp.Name] = c.ID()
	r.addContainer(ps, cp.Name, &containerState{ID: c.ID(), Init: true, Image: img.Name(), ImageID: img.Target().Digest.String()})
	spec, _ := specOf(ps.rec.Pod, cp.Name)
	policy := ps.rec.Pod.Spec.RestartPolicy
	ps.mu.Unlock()
	if err := r.records.save(ps.rec); err != nil {
		return err
	}
	if spec != nil && isSidecar(spec) {
		return r.startSidecar(ctx, ps, plan, c, cp)
	}
	for run := int32(0); ; run++ {
		code, err := r.runInitOnce(ctx, ps, plan, c, cp, run)
		if err != nil {
			return err
		}
		if code == 0 {
			return nil
		}
		if policy == corev1.RestartPolicyNever {
			ps.mu.Lock()
			reason, msg := ps.containers[cp.Name].Reason, ps.containers[cp.Name].Message
			ps.mu.Unlock()
			if reason == "StartError" {
				return fmt.Errorf("Init:StartError: init container %q could not start: %s", cp.Name, msg)
			}
			return fmt.Errorf("Init:Error: init container %q exited with code %d", cp.Name, code)
		}
		var wait time.Duration
		r.updateContainer(ps, cp.Name, func(cs *containerState) {
			cs.BackOff = r.policy().Decide(supervisor.Container{Name: cp.Name, RestartPolicy: policy, ExitCode: code, Restarts: run + 1, BackOff: cs.BackOff}).BackOff
			cs.BackOffUntil = time.Now().Add(cs.BackOff)
			wait = cs.BackOff
		})
		r.event(ps, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container "+cp.Name, cp.Name)
		select {
		case <-ctx.Done():
			return fmt.Errorf("Init:CrashLoopBackOff: init container %q keeps failing (exit code %d): %w", cp.Name, code, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// runInitOnce runs one attempt of an init container and returns its exit
// code.
func (r *Runtime) runInitOnce(ctx context.Context, ps *podState, plan *PodPlan, c containerd.Container, cp *ContainerPlan, run int32) (int32, error) {
	nctx := r.nsctx(context.WithoutCancel(ctx))
	if t, err := c.Task(nctx, nil); err == nil {
		if err := deleteTask(nctx, c, t); err != nil {
			return 0, err
		}
	}
	logPath := logPathFor(cp.LogPath, run)
	// A task that cannot be created or started is a run that ended at
	// once (StartError, exit code 128): the restartPolicy applies to it as
	// to any exit.
	startFailed := func(t containerd.Task, err error) (int32, error) {
		if ctx.Err() != nil || refusedStart(err) {
			return 0, err
		}
		if t != nil {
			if derr := deleteTask(nctx, c, t); derr != nil {
				return 0, errors.Join(err, derr)
			}
		}
		r.log.Warn("failed to start init container", "pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", cp.Name, "err", err)
		r.event(ps, corev1.EventTypeWarning, "Failed", "Error: "+err.Error(), cp.Name)
		r.updateContainer(ps, cp.Name, func(cs *containerState) { cs.failStart(run, logPath, err) })
		return exitCodeStartError, nil
	}
	t, err := r.newTask(nctx, plan, cp, c, logPath)
	if err != nil {
		return startFailed(nil, err)
	}
	exitc, err := t.Wait(nctx)
	if err != nil {
		return startFailed(t, fmt.Errorf("failed to wait on init container %q: %w", cp.Name, err))
	}
	if err := t.Start(nctx); err != nil {
		return startFailed(t, fmt.Errorf("failed to start init container %q: %w", cp.Name, err))
	}
	r.updateContainer(ps, cp.Name, func(cs *containerState) { cs.beginRun(run, logPath) })
	r.event(ps, corev1.EventTypeNormal, "Started", "Started container "+cp.Name, cp.Name)
	var st containerd.ExitStatus
	select {
	case st = <-exitc:
	case <-ctx.Done():
		return 0, fmt.Errorf("init container %q did not finish: %w", cp.Name, ctx.Err())
	}
	code := int32(st.ExitCode())
	ps.mu.Lock()
	r.setContainer(ps, cp.Name, func(cs *containerState) {
		cs.exited(code, st.ExitTime(), st.Error())
		cs.classifyOOM(ps.rec.Plan)
	})
	ps.mu.Unlock()
	if err := deleteTask(nctx, c, t); err != nil {
		return 0, err
	}
	return code, nil
}

// startSidecar starts a native sidecar and waits until it has started:
// running, and past its startupProbe if it has one.
func (r *Runtime) startSidecar(ctx context.Context, ps *podState, plan *PodPlan, c containerd.Container, cp *ContainerPlan) error {
	if err := r.startContainer(context.WithoutCancel(ctx), ps, plan, c, cp); err != nil {
		// A sidecar that cannot start is retried with back-off, as an
		// app container is; the pod waits for it below.
		if ctx.Err() != nil || refusedStart(err) {
			return err
		}
		wait, ok := r.startFailed(ps, cp.Name, 0, cp.LogPath, err)
		if !ok {
			return err
		}
		r.retryStart(ps, cp.Name, wait)
	}
	// Every change of the sidecar's state is notified (setContainer):
	// wait for the one that says it has started, or has ended for good.
	for {
		changed := r.changes.next()
		ps.mu.Lock()
		cs := ps.containers[cp.Name]
		started, exited, code := cs.Running && cs.Started, cs.Exited, cs.ExitCode
		ps.mu.Unlock()
		if started {
			return nil
		}
		if exited && ps.rec.Pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return fmt.Errorf("sidecar %q exited with code %d before it started", cp.Name, code)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sidecar %q did not start: %w", cp.Name, ctx.Err())
		case <-changed:
		}
	}
}
