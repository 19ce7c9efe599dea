package runtime

import (
	"context"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// When containerd goes away (killed, restarted, upgraded), the containers
// keep running under their shims, but every task.Wait stream of the daemon
// breaks with an error that is no exit. The gRPC connection re-dials by
// itself, with back-off; rewait waits on the task again once containerd
// answers, so that the pod's watchers see the real exit, whenever it comes.

const (
	rewaitFirst = 100 * time.Millisecond
	rewaitMax   = 5 * time.Second
)

// rewait waits on container name's task again after its wait stream broke.
// It retries with back-off until containerd answers, and returns false when
// the pod is being deleted (or the daemon closes). A task that is gone
// reads as an exit (code 255), so that restartPolicy applies.
func (r *Runtime) rewait(ps *podState, name string) (<-chan containerd.ExitStatus, bool) {
	ps.mu.Lock()
	cs := ps.containers[name]
	var id string
	if cs != nil {
		id = cs.ID // read under the lock: setContainer replaces *cs whole
	}
	ps.mu.Unlock()
	if cs == nil {
		return nil, false
	}
	log := r.log.With("pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", name)
	log.Warn("lost the wait on the container's task; waiting again once containerd answers")
	delay := rewaitFirst
	for attempt := 1; ; attempt++ {
		exitc, err := r.waitAgain(ps.ctx, id)
		if err == nil {
			log.Info("waiting on the container's task again", "attempts", attempt)
			return exitc, true
		}
		if ps.ctx.Err() != nil {
			return nil, false
		}
		if attempt == 1 || attempt%20 == 0 {
			log.Warn("containerd does not answer yet", "err", err, "retryIn", delay)
		}
		select {
		case <-ps.ctx.Done():
			return nil, false
		case <-time.After(delay):
		}
		if delay *= 2; delay > rewaitMax {
			delay = rewaitMax
		}
	}
}

// waitAgain opens a new wait on container id's task. A container or task
// that no longer exists yields a channel holding an exit at once.
func (r *Runtime) waitAgain(ctx context.Context, id string) (<-chan containerd.ExitStatus, error) {
	ctx = r.nsctx(ctx)
	gone := func() (<-chan containerd.ExitStatus, error) {
		ch := make(chan containerd.ExitStatus, 1)
		ch <- *containerd.NewExitStatus(255, time.Now(), nil)
		return ch, nil
	}
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return gone()
	}
	if err != nil {
		return nil, err
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return gone()
	}
	if err != nil {
		return nil, err
	}
	// The wait outlives ctx's cancellation only as the original did: the
	// watcher stops on ps.ctx itself.
	return t.Wait(r.nsctx(context.WithoutCancel(ctx)))
}

// superviseEmbedded restarts minipod's own containerd when it stops
// answering, with back-off, until ctx ends. Its shims, and so the pods,
// survive that; the client re-dials the same socket by itself.
func (r *Runtime) superviseEmbedded(ctx context.Context) {
	delay := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := r.client.IsServing(pctx)
		cancel()
		if ok && err == nil {
			delay = time.Second
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("minipod's containerd does not answer; starting it again", "err", err)
		c, _, err := startEmbeddedContainerd(ctx, r.cfg.Root, r.cfg.ContainerdNamespace)
		if err != nil {
			r.log.Warn("failed to start containerd again", "err", err, "retryIn", delay)
			if delay *= 2; delay > 30*time.Second {
				delay = 30 * time.Second
			}
			continue
		}
		c.Close()
		delay = time.Second
	}
}
