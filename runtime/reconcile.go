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
	if err := r.pastEvents.load(filepath.Join(filepath.Dir(r.records.dir), "events.json"), time.Now()); err != nil {
		r.log.Warn("failed to read the events of deleted pods", "err", err)
	}
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
				r.mu.Lock()
				r.pods[key] = ps
				r.mu.Unlock()
				go r.retryTeardown(ps)
			}
			continue
		}
		ps := newPodState(rec)
		close(ps.created)
		events, err := r.records.loadEvents(string(rec.Pod.UID))
		if err != nil {
			r.log.Warn("failed to read a pod's events", "pod", key, "err", err)
		}
		ps.events = events
		// Known before it is adopted: its probes, which adopt resumes,
		// find it.
		r.mu.Lock()
		r.pods[key] = ps
		r.mu.Unlock()
		if err := r.adopt(ctx, ps); err != nil {
			r.log.Warn("failed to adopt pod", "pod", key, "err", err)
		}
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

// adopt rebuilds a running pod's container states from what was saved of
// them and from containerd, and waits on the tasks that still run.
// containerd says whether a container runs and how an unseen run ended;
// the saved state keeps its restarts, log file, last state, started and
// ready, and back-off.
func (r *Runtime) adopt(ctx context.Context, ps *podState) error {
	ctx = r.nsctx(ctx)
	var errs []error
	init := map[string]bool{}
	for _, c := range ps.rec.Pod.Spec.InitContainers {
		init[c.Name] = true
	}
	resume := map[string]bool{}
	for name, id := range ps.rec.Containers {
		cs, exitc, err := r.adoptContainer(ctx, ps, name, id, init[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("container %q: %w", name, err))
		}
		ps.mu.Lock()
		r.addContainer(ps, name, cs)
		ps.mu.Unlock()
		if exitc != nil {
			r.watch(ps, name, exitc)
			resume[name] = true
		}
	}
	for name := range ps.containers {
		if resume[name] {
			r.resumeProbes(ps, name)
		}
	}
	// An exit while no daemon watched (or a restart in back-off, or a
	// start that had failed) is an exit all the same: the restartPolicy
	// applies to it now, after what is left of its back-off. A container
	// containerd no longer has cannot be started again.
	for name, cs := range ps.containers {
		if cs.Exited && cs.Reason != "ContainerMissing" && restartable(ps.rec.Pod, name) && shouldRestart(restartPolicyOf(ps.rec.Pod, name), cs.ExitCode) {
			r.retryStart(ps, name, adoptedBackOff(cs, time.Now()))
		}
	}
	return errors.Join(errs...)
}

// adoptedBackOff is how long an adopted container that exited still waits
// before it runs again: what is left of the back-off it was in, the whole
// back-off when its failed start had not begun it yet, and none for an
// exit no daemon saw.
func adoptedBackOff(cs *containerState, now time.Time) time.Duration {
	switch {
	case !cs.BackOffUntil.IsZero():
		return max(0, cs.BackOffUntil.Sub(now))
	case cs.Waiting != "":
		return cs.BackOff
	}
	return 0
}

// adoptContainer is the state of an adopted container: as saved, and as
// containerd has it now; and the exits of its task when it runs.
func (r *Runtime) adoptContainer(ctx context.Context, ps *podState, name, id string, init bool) (*containerState, <-chan containerd.ExitStatus, error) {
	cs, err := r.records.loadState(string(ps.rec.Pod.UID), name)
	if err != nil || cs == nil || cs.ID != id {
		if err != nil {
			r.log.Warn("failed to read a container's saved state; counting from its log files", "container", name, "err", err)
		}
		cs = &containerState{ID: id, Init: init}
		// The run the container was at is its last log file: restarts
		// count on from it, and the next run writes to a new file.
		if n, path := lastRunLog(firstLogPath(ps.rec.Plan, name)); path != "" {
			cs.Restarts, cs.LogPath = n, path
		}
	}
	wasRunning := cs.Running
	cs.Running = false
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		cs.Exited, cs.Reason, cs.ExitCode = true, "ContainerMissing", 137
		return cs, nil, err
	}
	if info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata); err == nil {
		if cs.Image == "" {
			cs.Image = info.Image
		}
		if cs.StartedAt.IsZero() {
			cs.StartedAt = info.CreatedAt
		}
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		if !cs.Exited {
			// Its run ended and its task was deleted, unseen: no exit
			// code is left to read.
			cs.exited(0, time.Now(), nil)
		}
		return cs, nil, nil
	}
	if err != nil {
		return cs, nil, err
	}
	st, err := t.Status(ctx)
	if err != nil {
		return cs, nil, err
	}
	if st.Status == containerd.Stopped {
		if wasRunning || !cs.Exited {
			// The run ended while no daemon watched.
			cs.exited(int32(st.ExitStatus), st.ExitTime, nil)
			cs.classifyOOM(ps.rec.Plan)
		}
		return cs, nil, nil
	}
	exitc, err := t.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return cs, nil, err
	}
	cs.Running, cs.Exited = true, false
	if cs.StartedAt.IsZero() {
		cs.StartedAt = time.Now()
	}
	return cs, exitc, nil
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
