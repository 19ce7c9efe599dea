package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// reconcile brings the daemon's view in line with the host at start-up:
// pods that were running are adopted (their containers survive a daemon
// restart), pods caught half created or half deleted are torn down.
func (r *Runtime) reconcile(ctx context.Context) error {
	recs, bad := r.records.list()
	for uid, err := range bad {
		r.log.Warn("unreadable pod record", "uid", uid, "err", err)
	}
	for _, rec := range recs {
		key := podKey(rec.Pod.Namespace, rec.Pod.Name)
		if rec.State != StateRunning {
			r.log.Info("tearing down a pod left half created or half deleted", "pod", key, "state", rec.State)
			if err := r.teardown(ctx, rec, 0); err != nil {
				r.log.Warn("teardown failed; the pod stays listed so that delete can retry", "pod", key, "err", err)
				rec.State, rec.TeardownError = StateFailed, err.Error()
				_ = r.records.save(rec)
				ps := newPodState(rec)
				close(ps.created)
				r.pods[key] = ps
			}
			continue
		}
		ps := newPodState(rec)
		close(ps.created)
		if err := r.adopt(ctx, ps); err != nil {
			r.log.Warn("failed to adopt pod", "pod", key, "err", err)
		}
		r.pods[key] = ps
		r.log.Info("adopted pod", "pod", key)
	}
	return nil
}

// adopt rebuilds a running pod's container states from containerd and
// waits on the tasks that still run.
func (r *Runtime) adopt(ctx context.Context, ps *podState) error {
	ctx = r.nsctx(ctx)
	var errs []error
	init := map[string]bool{}
	for _, c := range ps.rec.Pod.Spec.InitContainers {
		init[c.Name] = true
	}
	for name, id := range ps.rec.Containers {
		cs := &containerState{ID: id, Init: init[name]}
		ps.containers[name] = cs
		c, err := r.client.LoadContainer(ctx, id)
		if err != nil {
			cs.Exited, cs.Reason, cs.ExitCode = true, "ContainerMissing", 137
			errs = append(errs, fmt.Errorf("container %q: %w", name, err))
			continue
		}
		if info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata); err == nil {
			cs.Image = info.Image
			cs.StartedAt = info.CreatedAt
		}
		t, err := c.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			cs.Exited, cs.Reason = true, "Completed"
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := t.Status(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Status == containerd.Stopped {
			cs.Exited, cs.ExitCode, cs.FinishedAt = true, int32(st.ExitStatus), st.ExitTime
			cs.Reason = "Completed"
			if st.ExitStatus != 0 {
				cs.Reason = "Error"
			}
			continue
		}
		exitc, err := t.Wait(context.WithoutCancel(ctx))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs.Running = true
		if cs.StartedAt.IsZero() {
			cs.StartedAt = time.Now()
		}
		r.watch(ps, name, exitc)
		if !cs.Init {
			r.startProbes(ps, name)
		}
	}
	return errors.Join(errs...)
}
