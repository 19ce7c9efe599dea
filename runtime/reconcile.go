package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// reconcile brings the daemon's view in line with the host at start-up:
// pods that were running are adopted (their containers survive a daemon
// restart), pods caught half created or half deleted are torn down.
func (r *Runtime) reconcile(ctx context.Context) error {
	recs, bad := r.records.list()
	for uid, err := range bad {
		// A daemon killed while it saved a pod's first record leaves the
		// pod directory without one (at most a temporary file): nothing
		// else of the pod exists yet, since the record comes first. A
		// directory with mounts under it is a pod whose record was lost:
		// gc's business.
		if uid != "" && errors.Is(err, fs.ErrNotExist) {
			dir := filepath.Join(r.records.dir, uid)
			if rerr := removeUnmounted(dir); rerr == nil {
				r.log.Info("removed the directory of a pod whose record was never written", "uid", uid)
				continue
			}
		}
		r.log.Warn("unreadable pod record", "uid", uid, "err", err)
	}
	for _, rec := range recs {
		key := podKey(rec.Pod.Namespace, rec.Pod.Name)
		if rec.State != StateRunning {
			r.log.Info("tearing down a pod left half created or half deleted", "pod", key, "state", rec.State)
			if err := r.teardown(ctx, rec, 0); err != nil {
				r.log.Warn("teardown failed; the pod stays listed so that delete can retry", "pod", key, "err", err)
				rec.State, rec.TeardownError = StateRollbackIncomplete, err.Error()
				_ = r.records.save(rec)
				ps := newPodState(rec)
				close(ps.created)
				r.pods[key] = ps
				go r.retryTeardown(ps)
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
	// No operation is in progress yet: every lease of minipod's is one a
	// killed daemon left, holding what its creation or pull had made.
	if err := r.removeStaleLeases(ctx); err != nil {
		r.log.Warn("failed to remove leases left by an interrupted operation; gc retries", "err", err)
	}
	// Shims of pods that have no task: a task create cut short left them.
	// The pods kept are those adopted (their tasks may all have exited).
	keep := map[string]bool{}
	for _, ps := range r.pods {
		keep[string(ps.rec.Pod.UID)] = true
	}
	if err := r.removeOrphanShims(ctx, keep); err != nil {
		r.log.Warn("failed to stop shims left by an interrupted task create; gc retries", "err", err)
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
		// The run the container was at is its last log file: restarts
		// count on from it, and the next run writes to a new file.
		if n, path := lastRunLog(firstLogPath(ps.rec.Plan, name)); path != "" {
			cs.Restarts, cs.LogPath = n, path
		}
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
	// An exit while no daemon watched (or a restart in back-off, or a
	// start that had failed) is an exit all the same: the restartPolicy
	// applies to it now. A container containerd no longer has cannot be
	// started again.
	for name, cs := range ps.containers {
		if cs.Exited && cs.Reason != "ContainerMissing" && restartable(ps.rec.Pod, name) && shouldRestart(restartPolicyOf(ps.rec.Pod, name), cs.ExitCode) {
			r.retryStart(ps, name, 0)
		}
	}
	return errors.Join(errs...)
}

// restartable tells whether a container of the pod is restarted after it
// exits: app containers and native sidecars; not init containers, which
// ran to completion before the pod was Running.
func restartable(pod *corev1.Pod, name string) bool {
	c, init := specOf(pod, name)
	return c != nil && (!init || isSidecar(c))
}

// lastRunLog finds a container's latest run from its log files (0.log,
// 1.log, ...; rotated files carry a suffix and do not count): the run's
// number and file, or "" when there is none.
func lastRunLog(first string) (int32, string) {
	if first == "" {
		return 0, ""
	}
	entries, err := os.ReadDir(filepath.Dir(first))
	if err != nil {
		return 0, ""
	}
	n, path := int32(-1), ""
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 32)
		if err != nil || v < 0 {
			continue
		}
		if int32(v) > n {
			n, path = int32(v), filepath.Join(filepath.Dir(first), e.Name())
		}
	}
	if path == "" {
		return 0, ""
	}
	return n, path
}
