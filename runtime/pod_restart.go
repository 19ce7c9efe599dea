package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/supervisor"
)

// Restarts follow the kubelet: a container that exits is restarted when the
// pod's restartPolicy says so (Always; OnFailure on a non-zero exit), the
// first time at once, then after a back-off that starts at 10 s and doubles
// up to 5 min, and is forgotten once the container has run for 10 min.
// Whether and when is supervisor's Decide's. Exits come from task.Wait,
// never from polling.

func (r *Runtime) backOffBase() time.Duration {
	if r.cfg.RestartBackOff > 0 {
		return r.cfg.RestartBackOff
	}
	return supervisor.DefaultBackOffBase
}

func (r *Runtime) backOffMax() time.Duration {
	if r.cfg.RestartBackOff > 0 {
		return 30 * r.cfg.RestartBackOff
	}
	return supervisor.DefaultBackOffMax
}

// nextBackOff is supervisor.NextBackOff.
func nextBackOff(last, ran, base, max time.Duration, restarts int32) time.Duration {
	return supervisor.NextBackOff(last, ran, base, max, restarts)
}

// shouldRestart is supervisor.ShouldRestart.
func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	return supervisor.ShouldRestart(policy, exitCode)
}

// logPathFor is the log file of a container's run n: 0.log, 1.log, ...
func logPathFor(first string, n int32) string {
	return filepath.Join(filepath.Dir(first), fmt.Sprintf("%d.log", n))
}

// watch waits for a task's exit, records it, and restarts the container
// as the pod's restartPolicy says, until the pod is deleted.
func (r *Runtime) watch(ps *podState, name string, exitc <-chan containerd.ExitStatus) {
	go func() {
		for {
			st, ok := <-exitc
			if !ok {
				return
			}
			if st.Error() != nil && ps.ctx.Err() == nil {
				// The wait broke (containerd went away), no exit: wait again.
				if exitc, ok = r.rewait(ps, name); !ok {
					return
				}
				continue
			}
			next, ok := r.recordExit(ps, name, st)
			if !ok {
				return
			}
			if exitc, ok = r.runAgain(ps, name, next); !ok {
				return
			}
		}
	}()
}

// retryStart is for a container whose task could not be created or
// started (failStart has recorded it): it starts the container again after
// wait, with back-off, and then watches it as any other.
func (r *Runtime) retryStart(ps *podState, name string, wait time.Duration) {
	go func() {
		if exitc, ok := r.runAgain(ps, name, wait); ok {
			r.watch(ps, name, exitc)
		}
	}()
}

// runAgain starts a container again after wait. When its task cannot be
// created or started, that is an exit too (StartError): the restartPolicy
// and the back-off apply to it, and it is tried again, until a run starts,
// the policy says no, or the pod is deleted. It returns the new run's exits.
func (r *Runtime) runAgain(ps *podState, name string, wait time.Duration) (<-chan containerd.ExitStatus, bool) {
	for {
		if !r.waitBackOff(ps, name, wait) {
			return nil, false
		}
		exitc, ok, err := r.restart(ps, name)
		if !ok {
			return nil, false
		}
		if err == nil {
			return exitc, true
		}
		if wait, ok = r.startFailed(ps, name, -1, "", err); !ok {
			return nil, false
		}
	}
}

// syncDelay is how long a container whose start failed shows
// RunContainerError before its back-off shows as CrashLoopBackOff: the
// kubelet keeps the failure's reason until its next sync of the pod, which
// its relist of the containers (1 s) brings. Never more than half the
// back-off, which --restart-backoff may make short.
const syncDelay = time.Second

// waitBackOff waits before a restart; false when the pod is being deleted
// meanwhile. After a failed start the back-off shows only once the
// failure has been seen (syncDelay).
func (r *Runtime) waitBackOff(ps *podState, name string, wait time.Duration) bool {
	if wait <= 0 {
		return ps.ctx.Err() == nil
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-ps.ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	ps.mu.Lock()
	cs := ps.containers[name]
	failed := cs != nil && cs.Waiting != ""
	ps.mu.Unlock()
	if failed {
		d := min(syncDelay, wait/2)
		if !sleep(d) {
			return false
		}
		wait -= d
		r.updateContainer(ps, name, func(cs *containerState) {
			cs.Waiting, cs.WaitingMessage = "", ""
			cs.BackOffUntil = time.Now().Add(wait)
		})
		r.event(ps, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container "+name, name)
	}
	return sleep(wait)
}

// recordExit notes an exit and says whether, and after how long, the
// container restarts.
func (r *Runtime) recordExit(ps *podState, name string, st containerd.ExitStatus) (time.Duration, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var next time.Duration
	ok := false
	var code int32
	found := r.setContainer(ps, name, func(cs *containerState) {
		cs.exited(int32(st.ExitCode()), st.ExitTime(), st.Error())
		cs.classifyOOM(ps.rec.Plan)
		if msg := terminationMessage(ps.rec.Plan, name, cs); msg != "" {
			cs.Message = msg
		}
		code = cs.ExitCode
		next, ok = r.nextRun(ps, name, cs, cs.FinishedAt.Sub(cs.StartedAt))
		if ok && next > 0 {
			cs.BackOffUntil = time.Now().Add(next)
		}
	})
	if !found {
		return 0, false
	}
	log := r.log.With("pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", name)
	log.Info("container exited", "exitCode", code)
	if ok && next > 0 {
		log.Info("back-off restarting failed container", "backoff", next)
		go r.event(ps, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container "+name, name)
	}
	return next, ok
}

// nextRun applies the restartPolicy and the back-off to a container's run
// that has ended after running for ran: whether it runs again, and after
// how long. The caller holds the pod's lock.
func (r *Runtime) nextRun(ps *podState, name string, cs *containerState, ran time.Duration) (time.Duration, bool) {
	alive := ps.rec.State == StateRunning || ps.rec.State == StateCreating
	a := r.policy().Decide(supervisor.Container{
		Name: name, RestartPolicy: restartPolicyOf(ps.rec.Pod, name), Stopping: ps.ctx.Err() != nil || !alive,
		ExitCode: cs.ExitCode, Ran: ran, Restarts: cs.Restarts, BackOff: cs.BackOff,
	})
	if !a.Restart {
		return 0, false
	}
	cs.BackOff = a.BackOff
	return cs.BackOff, true
}

// startFailed records that run n of a container (-1: the run after its
// last), writing to logPath ("": that run's file), could not be created or
// started: a StartError exit, a Failed event, and the container waits with
// RunContainerError to run again as its restartPolicy says. It returns the
// back-off before the next attempt, and false when there is none.
func (r *Runtime) startFailed(ps *podState, name string, n int32, logPath string, err error) (time.Duration, bool) {
	log := r.log.With("pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", name)
	log.Warn("failed to start container", "err", err)
	r.event(ps, corev1.EventTypeWarning, "Failed", "Error: "+err.Error(), name)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var next time.Duration
	ok := false
	r.setContainer(ps, name, func(cs *containerState) {
		if n < 0 {
			n = cs.Restarts + 1
		}
		if logPath == "" {
			logPath = logPathFor(firstLogPath(ps.rec.Plan, name), n)
		}
		cs.failStart(n, logPath, err)
		next, ok = r.nextRun(ps, name, cs, 0)
		if ok {
			cs.Waiting, cs.WaitingMessage = "RunContainerError", err.Error()
		}
	})
	return next, ok
}

// refusedStart tells whether a container's start failed because minipod
// refused its configuration (a volume mount that leaves its volume or
// reaches the daemon's state, a user it may not run as), or because
// containerd itself could not be reached, not because the runtime failed
// the container: at a pod's creation that undoes the pod, with the reason
// named, as every check of the manifest and every set-up step does. (A
// container restarted later keeps being retried with back-off.)
func refusedStart(err error) bool {
	return errdefs.IsInvalidArgument(err) || errdefs.IsPermissionDenied(err) || errors.Is(err, ErrCreateContainerConfig) ||
		errdefs.IsUnavailable(err) || status.Code(err) == codes.Unavailable
}

// firstLogPath is the log file of a container's first run.
func firstLogPath(plan *PodPlan, name string) string {
	if plan == nil {
		return ""
	}
	for _, cp := range append(append([]ContainerPlan{}, plan.Containers...), plan.Init...) {
		if cp.Name == name {
			return cp.LogPath
		}
	}
	return ""
}

// restart runs a container again: the old task is deleted, a new one
// writes to the next log file. It returns false, and no error, when the
// pod is being deleted; an error when the task could not be created or
// started (the failed task is deleted).
func (r *Runtime) restart(ps *podState, name string) (<-chan containerd.ExitStatus, bool, error) {
	if !ps.beginRestart() {
		return nil, false, nil
	}
	defer ps.restarting.Done()
	// A restart that has begun is not cut short: a teardown waits for it
	// (podState.stop) and then finds the task it made.
	ctx := r.nsctx(context.WithoutCancel(ps.ctx))
	ps.mu.Lock()
	cs := ps.containers[name]
	plan := ps.rec.Plan
	var id string
	if cs != nil {
		id = cs.ID // read under the lock: setContainer replaces *cs whole
	}
	ps.mu.Unlock()
	if cs == nil || plan == nil {
		return nil, false, nil
	}
	var cp *ContainerPlan
	for _, c := range append(append([]ContainerPlan{}, plan.Containers...), plan.Init...) {
		if c.Name == name {
			cp = &c
		}
	}
	if cp == nil {
		return nil, false, nil
	}
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, true, fmt.Errorf("failed to load container %q: %w", id, err)
	}
	if t, err := c.Task(ctx, nil); err == nil {
		if err := deleteTask(ctx, c, t); err != nil {
			return nil, true, err
		}
	}
	ps.mu.Lock()
	n := cs.Restarts + 1
	ps.mu.Unlock()
	logPath := logPathFor(cp.LogPath, n)
	t, err := r.newTask(ctx, plan, cp, c, logPath)
	if err != nil {
		return nil, true, err
	}
	exitc, err := t.Wait(r.nsctx(context.Background()))
	if err == nil {
		err = t.Start(ctx)
		if err != nil {
			err = fmt.Errorf("failed to start container %q: %w", name, err)
		}
	} else {
		err = fmt.Errorf("failed to wait on container %q: %w", name, err)
	}
	if err != nil {
		if derr := deleteTask(ctx, c, t); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, true, err
	}
	r.updateContainer(ps, name, func(cs *containerState) { cs.beginRun(n, logPath) })
	r.event(ps, corev1.EventTypeNormal, "Started", "Started container "+name, name)
	go r.postStart(ps, name)
	r.startProbes(ps, name)
	return exitc, true, nil
}

// terminationMessage reads what a container left at its
// terminationMessagePath (at most 4096 bytes), and under
// FallbackToLogsOnError, when that is empty and the container failed, the
// end of its log (at most 80 lines, 2048 bytes), as the kubelet does.
func terminationMessage(plan *PodPlan, name string, cs *containerState) string {
	if plan == nil {
		return ""
	}
	for _, cp := range append(append([]ContainerPlan{}, plan.Containers...), plan.Init...) {
		if cp.Name != name || cp.TerminationMessageHostPath == "" {
			continue
		}
		if b, err := readAtMost(cp.TerminationMessageHostPath, 4096); err == nil && len(b) > 0 {
			// Empty it for the next run.
			_ = os.WriteFile(cp.TerminationMessageHostPath, nil, 0o666)
			return string(b)
		}
		if cp.FallbackToLogs && cs.ExitCode != 0 && cs.LogPath != "" {
			// The log driver may still be writing the last lines: the
			// message is read from the log when the status is asked for.
			cs.messageFromLog = cs.LogPath
		}
	}
	return ""
}

func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// lastLogLines is the text of the last lines of a CRI log file.
func lastLogLines(path string, lines, max int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	raw, err := tail(f, lines)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range raw {
		if _, _, partial, text, ok := parseCRILine(l); ok {
			b.WriteString(text)
			if !partial {
				b.WriteByte('\n')
			}
		}
	}
	s := b.String()
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}
