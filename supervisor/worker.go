package supervisor

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// counter applies a probe's thresholds to its outcomes, as the kubelet's
// worker does: a result is reached after successThreshold successes or
// failureThreshold failures in a row.
type counter struct {
	success, failure int
	oks, fails       int
}

func newCounter(p *corev1.Probe) counter {
	c := counter{success: int(p.SuccessThreshold), failure: int(p.FailureThreshold)}
	if c.success <= 0 {
		c.success = 1
	}
	if c.failure <= 0 {
		c.failure = 3
	}
	return c
}

// observe counts an outcome and returns the result it reaches (Unknown
// when none yet) and whether the worker is done. A startup probe is done
// at its first success (a startup probe's successThreshold is 1) or its
// failure; a liveness probe at its failure (the container is killed); a
// readiness probe never.
func (c *counter) observe(kind Kind, ok bool) (Result, bool) {
	if ok {
		c.oks, c.fails = c.oks+1, 0
	} else {
		c.oks, c.fails = 0, c.fails+1
	}
	switch kind {
	case Startup:
		if c.oks >= 1 {
			return Success, true
		}
		if c.fails >= c.failure {
			return Failure, true
		}
	case Liveness:
		if c.fails >= c.failure {
			return Failure, true
		}
	case Readiness:
		if c.oks >= c.success {
			return Success, false
		}
		if c.fails >= c.failure {
			return Failure, false
		}
	}
	return Unknown, false
}

// Seconds is a probe's time field, or def when unset.
func Seconds(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

// Recorder records probe results: Results, or a filter in front of it.
type Recorder interface {
	Set(k Key, res Result)
}

// Work probes a container's run as p says, after its initial delay and
// then every period, until ctx (the run's) ends or the probe is done, and
// records each result it reaches in results under k. It decides nothing:
// what a result means is Decide's. probe runs the probe once within its
// timeout and tells whether it passed.
func Work(ctx context.Context, k Key, p *corev1.Probe, probe func(ctx context.Context, timeout time.Duration) bool, results Recorder) {
	period := Seconds(p.PeriodSeconds, 10)
	timeout := Seconds(p.TimeoutSeconds, 1)
	if d := time.Duration(p.InitialDelaySeconds) * time.Second; d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
	c := newCounter(p)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		ok := probe(ctx, timeout)
		if ctx.Err() != nil {
			return
		}
		res, done := c.observe(k.Kind, ok)
		if res != Unknown {
			results.Set(k, res)
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
