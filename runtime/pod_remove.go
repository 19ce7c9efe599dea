package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
)

// DeletePod stops the pod's containers (SIGTERM, the grace period, then
// SIGKILL) and removes everything it created, the record last. It waits
// for a creation in progress to finish first.
func (r *Runtime) DeletePod(ctx context.Context, namespace, name string, opts api.DeleteOptions) error {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return err
	}
	// A pod that waits for its images is not created: the wait ends here.
	ps.mu.Lock()
	pulling := ps.pulling
	ps.mu.Unlock()
	if pulling {
		ps.stopWatchers()
	}
	return r.deletePod(ctx, ps, opts)
}

// deletePod deletes the pod of ps (see DeletePod).
func (r *Runtime) deletePod(ctx context.Context, ps *podState, opts api.DeleteOptions) error {
	namespace, name := ps.rec.Pod.Namespace, ps.rec.Pod.Name
	select {
	case <-ps.created:
	case <-ctx.Done():
		return ctx.Err()
	}
	ps.mu.Lock()
	if ps.rec.State == StateDeleting {
		ps.mu.Unlock()
		return fmt.Errorf("pod %q is already being deleted: %w", name, errdefs.ErrConflict)
	}
	prev := ps.rec.State
	ps.rec.State = StateDeleting
	rec := ps.rec
	ps.mu.Unlock()
	// Terminating now; gone, or back as it was, at the end.
	r.changes.notify()
	defer r.changes.notify()
	grace := time.Duration(30) * time.Second
	if rec.Plan != nil {
		grace = time.Duration(rec.Plan.GracePeriod) * time.Second
	}
	if opts.GracePeriodSeconds != nil {
		grace = time.Duration(*opts.GracePeriodSeconds) * time.Second
	}
	_ = r.records.save(rec)
	// No restarts from here on, and none still under way.
	ps.stop()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+2*time.Minute)
	defer cancel()
	if err := r.teardown(ctx, rec, grace); err != nil {
		ps.mu.Lock()
		ps.rec.State = prev
		ps.rec.TeardownError = err.Error()
		ps.mu.Unlock()
		_ = r.records.save(rec)
		return fmt.Errorf("failed to delete pod %q (run delete again to retry): %w", name, err)
	}
	r.keepEvents(ps)
	r.mu.Lock()
	if r.pods[podKey(namespace, name)] == ps {
		delete(r.pods, podKey(namespace, name))
	}
	r.mu.Unlock()
	if err := r.updateQoSCgroups(); err != nil {
		r.log.Warn("failed to update the QoS cgroups", "err", err)
	}
	if prev == StateRollbackIncomplete {
		// A creation that failed may have left its lease (containerd was
		// down when it ended).
		if err := r.removePodLeases(ctx, string(rec.Pod.UID)); err != nil {
			r.log.Warn("failed to remove the leases of a failed creation; gc retries", "pod", podKey(namespace, name), "err", err)
		}
	}
	// A task create cut short (containerd killed) leaves a shim that no
	// task deletion ends, whatever state an earlier delete left the pod
	// in; the pod's shims get a moment to exit by themselves first.
	go r.stopPodShims(ps)
	r.sweepShims()
	r.refreshHosts(namespace)
	r.log.Info("pod deleted", "pod", podKey(namespace, name))
	return nil
}

// teardown is apply backwards: the undos of podSteps, last step first,
// each of which is idempotent, so that it works on a pod that is half
// created, already gone, or left by a daemon that was killed. Every
// resource is found from the pod's record and UID. The containers go first
// (preStop hooks, the stop signal, the grace period, then SIGKILL), the
// record last, and only once everything else has gone.
func (r *Runtime) teardown(ctx context.Context, rec *Record, grace time.Duration) error {
	a := &podApply{r: r, rec: rec, plan: rec.Plan, grace: grace}
	if ps, _ := r.lookup(rec.Pod.Namespace, rec.Pod.Name); ps != nil && ps.rec == rec {
		a.killing = ps
	}
	a.undo.verb = "tear down"
	for _, s := range podSteps {
		// A record saved before any plan (a pod deleted while it waited
		// for its images): nothing but the record was created, and
		// containers, if any, are found by the pod's UID.
		if rec.Plan == nil && s.name != StepRecord && s.name != stepContainers {
			continue
		}
		if s.only == nil || s.only(a) {
			a.pushUndo(s)
		}
	}
	return a.undo.run(ctx)
}

// stopContainers stops and removes a pod's containers in waves: the app
// containers together, then native sidecars in reverse order, then what is
// left (finished init containers, or containers a crash left without a
// plan). With ps (a delete of a listed pod), each container's preStop hook
// runs within the grace period, and a Killing event is recorded.
func (r *Runtime) stopContainers(ctx context.Context, rec *Record, ids []string, grace time.Duration, ps *podState) error {
	uid := string(rec.Pod.UID)
	plan := rec.Plan
	byID := map[string]ContainerPlan{}
	var waves [][]string
	if plan != nil {
		var app []string
		for _, c := range plan.Containers {
			byID[containerID(uid, c.Name)] = c
			app = append(app, containerID(uid, c.Name))
		}
		waves = append(waves, app)
		for i := len(plan.Init) - 1; i >= 0; i-- {
			c := plan.Init[i]
			byID[containerID(uid, c.Name)] = c
			if spec, _ := specOf(rec.Pod, c.Name); spec != nil && isSidecar(spec) {
				waves = append(waves, []string{containerID(uid, c.Name)})
			}
		}
	}
	placed := map[string]bool{}
	for _, w := range waves {
		for _, id := range w {
			placed[id] = true
		}
	}
	var rest []string
	for _, id := range ids {
		if !placed[id] {
			rest = append(rest, id)
		}
	}
	waves = append(waves, rest)
	exists := map[string]bool{}
	for _, id := range ids {
		exists[id] = true
	}
	var errs []error
	for _, wave := range waves {
		var wg sync.WaitGroup
		werrs := make([]error, len(wave))
		for i, id := range wave {
			if !exists[id] {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				left := grace
				if c, ok := byID[id]; ok && ps != nil {
					r.event(ps, corev1.EventTypeNormal, "Killing", "Stopping container "+c.Name, c.Name)
					left = r.preStop(ctx, ps, c.Name, grace)
				}
				werrs[i] = r.removeContainer(ctx, id, byID[id].StopSignal, left)
			}()
		}
		wg.Wait()
		errs = append(errs, werrs...)
	}
	return errors.Join(errs...)
}
