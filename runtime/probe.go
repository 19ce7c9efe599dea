package runtime

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/supervisor"
)

// Probes run as the kubelet runs them: exec inside the container, httpGet
// and tcpSocket from the daemon to the pod's IP, so nothing is needed in
// the image. A startup probe holds the others back until it passes. The
// probe workers only record results (supervisor.Work); probeUpdate acts on
// them: readiness drives `ready`, a startup probe's success `started`, and
// a failing liveness (or startup) probe is put to supervisor's Decide,
// which kills the container; it then restarts as the restartPolicy says.

// podHost is a pod as the supervisor's handlers see it.
type podHost struct {
	r  *Runtime
	ps *podState
}

func (h podHost) Exec(ctx context.Context, container string, cmd []string) (int, string, error) {
	var out strings.Builder
	code, err := h.r.Exec(ctx, h.ps.rec.Pod.Namespace, h.ps.rec.Pod.Name, api.ExecOptions{Container: container, Command: cmd}, api.ExecIO{Stdout: &out, Stderr: &out})
	return code, out.String(), err
}

func (h podHost) PodIP() string {
	h.ps.mu.Lock()
	defer h.ps.mu.Unlock()
	return h.ps.rec.PodIP
}

// handlers runs a pod's probe and hook handlers.
func (r *Runtime) handlers(ps *podState) supervisor.Runner {
	return supervisor.Runner{Host: podHost{r: r, ps: ps}}
}

// policy is the back-off that the supervisor's decisions apply.
func (r *Runtime) policy() supervisor.Policy {
	return supervisor.Policy{BackOffBase: r.backOffBase(), BackOffMax: r.backOffMax()}
}

// startProbes starts the prober of a container's current run. It stops
// when ctx (the run's) ends.
func (r *Runtime) startProbes(ps *podState, name string) { r.beginProbes(ps, name, false) }

// resumeProbes starts the prober of a run that an earlier daemon probed:
// started and ready stay as they were, and a startup probe that has
// passed is not run again.
func (r *Runtime) resumeProbes(ps *podState, name string) { r.beginProbes(ps, name, true) }

func (r *Runtime) beginProbes(ps *podState, name string, resume bool) {
	ps.mu.Lock()
	c, init := specOf(ps.rec.Pod, name)
	if init && c != nil && !isSidecar(c) {
		c = nil
	}
	cs := ps.containers[name]
	if c == nil || cs == nil || (resume && !cs.Running) {
		// A resumed run may have ended already: nothing to probe.
		ps.mu.Unlock()
		return
	}
	if ps.results == nil {
		ps.results = supervisor.NewResults(func(u supervisor.Update) { r.probeUpdate(ps, u) })
	}
	results := ps.results
	ctx, cancel := context.WithCancel(ps.ctx)
	started := resume && cs.Started
	r.setContainer(ps, name, func(cs *containerState) {
		cs.probeCtx, cs.stopProbes = ctx, cancel
		cs.Started = (resume && cs.Started) || c.StartupProbe == nil
		cs.Ready = (resume && cs.Ready) || c.ReadinessProbe == nil
	})
	ps.mu.Unlock()
	results.Forget(name)
	if c.StartupProbe != nil && !started {
		go r.probeWorker(ctx, ps, c, supervisor.Startup, c.StartupProbe)
		return
	}
	r.probesAfterStartup(ctx, ps, c)
}

// probesAfterStartup starts a run's liveness and readiness workers, once
// its startup probe, if any, has passed.
func (r *Runtime) probesAfterStartup(ctx context.Context, ps *podState, c *corev1.Container) {
	if c.LivenessProbe != nil {
		go r.probeWorker(ctx, ps, c, supervisor.Liveness, c.LivenessProbe)
	}
	if c.ReadinessProbe != nil {
		go r.probeWorker(ctx, ps, c, supervisor.Readiness, c.ReadinessProbe)
	}
}

// probeWorker probes a run until ctx ends, recording what it finds; each
// failure is an Unhealthy event, as the kubelet's prober records it.
func (r *Runtime) probeWorker(ctx context.Context, ps *podState, c *corev1.Container, kind supervisor.Kind, p *corev1.Probe) {
	run := r.handlers(ps)
	probe := func(ctx context.Context, timeout time.Duration) bool {
		err := run.Probe(ctx, c, p.ProbeHandler, timeout)
		if err != nil && ctx.Err() == nil {
			r.event(ps, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %s", kind, err), c.Name)
		}
		return err == nil
	}
	ps.mu.Lock()
	results := ps.results
	ps.mu.Unlock()
	supervisor.Work(ctx, supervisor.Key{Container: c.Name, Kind: kind}, p, probe, runResults{ctx: ctx, results: results})
}

// runResults records a run's results only while the run is current: a
// result that comes as the run ends is not the next run's.
type runResults struct {
	ctx     context.Context
	results *supervisor.Results
}

func (r runResults) Set(k supervisor.Key, res supervisor.Result) {
	if r.ctx.Err() == nil {
		r.results.Set(k, res)
	}
}

// probeUpdate acts on a probe result that changed: readiness sets ready, a
// startup probe's success sets started and starts the other probes, and a
// failure of a startup or liveness probe goes to the decision.
func (r *Runtime) probeUpdate(ps *podState, u supervisor.Update) {
	name := u.Container
	switch {
	case u.Kind == supervisor.Readiness:
		r.updateContainer(ps, name, func(cs *containerState) { cs.Ready = u.Result == supervisor.Success })
	case u.Kind == supervisor.Startup && u.Result == supervisor.Success:
		var ctx context.Context
		ps.mu.Lock()
		c, _ := specOf(ps.rec.Pod, name)
		if cs := ps.containers[name]; cs != nil && cs.Running && cs.probeCtx != nil && cs.probeCtx.Err() == nil {
			r.setContainer(ps, name, func(cs *containerState) { cs.Started = true })
			ctx = cs.probeCtx
		}
		ps.mu.Unlock()
		if ctx != nil && c != nil {
			r.probesAfterStartup(ctx, ps, c)
		}
	case u.Result == supervisor.Failure:
		r.sync(ps, name, supervisor.Container{Startup: resultIf(u, supervisor.Startup), Liveness: resultIf(u, supervisor.Liveness)})
	}
}

func resultIf(u supervisor.Update, k supervisor.Kind) supervisor.Result {
	if u.Kind == k {
		return u.Result
	}
	return supervisor.Unknown
}

// sync puts a running container, with what has gone wrong with it, to the
// supervisor's decision, and carries out a kill it decides on.
func (r *Runtime) sync(ps *podState, name string, c supervisor.Container) {
	ps.mu.Lock()
	cs := ps.containers[name]
	if cs == nil || !cs.Running {
		ps.mu.Unlock()
		return
	}
	c.Name, c.Running = name, true
	id := cs.ID
	ps.mu.Unlock()
	if a := r.policy().Decide(c); a.Kill {
		r.kill(ps, name, id, a.Message)
	}
}

// kill kills a container's task, for the reason msg (a Killing event);
// its exit is then handled as any other, so the restartPolicy and
// back-off apply.
func (r *Runtime) kill(ps *podState, name, id, msg string) {
	r.event(ps, corev1.EventTypeNormal, "Killing", msg, name)
	ctx := r.nsctx(context.WithoutCancel(ps.ctx))
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		return
	}
	if err := t.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		r.log.Warn("failed to kill container", "container", name, "reason", msg, "err", err)
	}
}
