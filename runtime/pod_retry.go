package runtime

import (
	"time"

	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/api"
)

// retryTeardown finishes the rollback of a pod whose creation failed and
// whose rollback did not complete (containerd was down, say; the record
// says Failed): it tries again, with back-off, until the pod is gone,
// deleted meanwhile by a user, or the daemon stops. A pod that cannot be
// created does not stay listed once what it left can be removed.
func (r *Runtime) retryTeardown(ps *podState) {
	key := podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name)
	wait := time.Second
	zero := int64(0)
	for {
		select {
		case <-r.life.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
		r.mu.Lock()
		cur := r.pods[key]
		r.mu.Unlock()
		if cur != ps {
			return // deleted, and perhaps created again: not ours any more
		}
		ps.mu.Lock()
		state := ps.rec.State
		ps.mu.Unlock()
		if state != StateRollbackIncomplete {
			continue // a delete is under way; it may fail and leave it Failed
		}
		err := r.deletePod(r.life, ps, api.DeleteOptions{GracePeriodSeconds: &zero})
		if err == nil || errdefs.IsNotFound(err) {
			r.log.Info("finished the rollback of a pod whose creation failed", "pod", key)
			return
		}
		if !errdefs.IsConflict(err) {
			r.log.Debug("rollback of a failed pod still incomplete; retrying", "pod", key, "in", wait, "err", err)
		}
	}
}

// stopPodShims stops the shims of a deleted pod that do not exit by
// themselves: a task create that containerd's death cut short leaves a
// shim that containerd, started again, does not know.
func (r *Runtime) stopPodShims(ps *podState) {
	prefix := podPrefix(containerID(string(ps.rec.Pod.UID), ""))
	mine := func() []shimProc {
		var out []shimProc
		for _, sh := range r.shims() {
			if podPrefix(sh.id) == prefix {
				out = append(out, sh)
			}
		}
		return out
	}
	// Shims exit on their own once their last task is deleted.
	deadline := time.Now().Add(2 * time.Second)
	for len(mine()) > 0 && time.Now().Before(deadline) {
		select {
		case <-r.life.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, sh := range mine() {
		r.log.Info("stopping a shim of a deleted pod that serves no task", "pid", sh.pid, "id", sh.id)
		if err := r.stopShim(sh); err != nil {
			r.log.Warn("failed to stop a shim; gc retries", "pid", sh.pid, "err", err)
		}
	}
}
