package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// undoStack is the rollback of an apply, and the teardown of a pod: each
// step that acquires something pushes the undo that releases it, before the
// step runs. The undos run in reverse order.
type undoStack struct {
	undos []undo
	// verb names the undos in errors: "undo" (a rollback) by default.
	verb string
}

type undo struct {
	step string
	fn   func(ctx context.Context) error
	// last: the undo runs only when every undo run before it succeeded.
	last bool
}

// haltError, returned by an undo, ends the run there: what the undos after
// it would release may still be in use.
type haltError struct{ error }

func (e haltError) Unwrap() error { return e.error }

// push registers fn as the undo of step.
func (s *undoStack) push(step string, fn func(ctx context.Context) error) {
	s.undos = append(s.undos, undo{step: step, fn: fn})
}

// pushLast registers fn as the undo of step, to run only if every undo
// before it (pushed after it) succeeded: the pod record's, so that an undo
// that fails leaves the record for delete to retry.
func (s *undoStack) pushLast(step string, fn func(ctx context.Context) error) {
	s.undos = append(s.undos, undo{step: step, fn: fn, last: true})
}

// rollback runs every undo in reverse on a context that the caller's
// cancellation cannot abort (Ctrl-C must not stop a rollback), and joins the
// errors of those that failed.
func (s *undoStack) rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	return s.run(ctx)
}

// run runs the undos in reverse on ctx, and joins the errors of those that
// failed. A failed undo does not stop the others, except with a haltError.
func (s *undoStack) run(ctx context.Context) error {
	verb := s.verb
	if verb == "" {
		verb = "undo"
	}
	var errs []error
	for i := len(s.undos) - 1; i >= 0; i-- {
		u := s.undos[i]
		if u.last && len(errs) > 0 {
			continue
		}
		err := u.fn(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to %s %s: %w", verb, u.step, err))
		}
		var halt haltError
		if errors.As(err, &halt) {
			break
		}
	}
	s.undos = nil
	return errors.Join(errs...)
}

// podStep is an entry of podSteps.
type podStep struct {
	name string
	// only, when set, tells whether the pod has this step.
	only func(a *podApply) bool
	do   func(a *podApply, ctx context.Context) error
	undo func(a *podApply, ctx context.Context) error
	// teardown names the undo for the fault hook.
	teardown string
	// last: the undo runs only once every undo before it succeeded (the
	// record: an undo that fails leaves it, for delete to retry).
	last bool
	// background: do starts the step's work; a later entry of the same
	// name waits for it.
	background bool
}

// step runs one entry of podSteps: it registers the entry's undo, runs the
// step, logs how long it took (where a pod's start time goes, for
// profiling and the benchmark), and ends it as every step ends: an
// interrupted creation or an injected fault fails it.
func (a *podApply) step(ctx context.Context, s podStep) error {
	if s.only != nil && !s.only(a) {
		return nil
	}
	a.pushUndo(s)
	if s.do == nil {
		return nil
	}
	a.current = s.name
	start := time.Now()
	err := s.do(a, ctx)
	a.r.log.Debug("apply step done", "pod", podKey(a.rec.Pod.Namespace, a.rec.Pod.Name), "step", s.name, "took", time.Since(start))
	if err != nil || s.background {
		return err
	}
	// Running: an interruption now has nothing left to stop.
	if s.name != StepRunning && a.caller.Err() != nil {
		return fmt.Errorf("creation interrupted: %w", context.Cause(a.caller))
	}
	return a.r.fault(s.name)
}

// pushUndo registers the undo of s, if it has one; in a teardown, the
// fault hook fires once it has run.
func (a *podApply) pushUndo(s podStep) {
	if s.undo == nil {
		return
	}
	fn := func(ctx context.Context) error {
		err := s.undo(a, ctx)
		var halt haltError
		if errors.As(err, &halt) {
			return err
		}
		return errors.Join(err, a.r.fault(s.teardown))
	}
	if s.last {
		a.undo.pushLast(s.name, fn)
	} else {
		a.undo.push(s.name, fn)
	}
}

// rollback undoes the steps reached, after err failed one. An undo that
// fails leaves the record, marked Failed so that delete retries it.
func (a *podApply) rollback(ctx context.Context, err error) error {
	serr := &StepError{Step: a.current, Err: err}
	// The rollback kills the containers: they must not be restarted behind
	// its back.
	a.ps.stop()
	if rbErr := a.undo.rollback(ctx); rbErr != nil {
		serr.Rollback = rbErr
		a.ps.mu.Lock()
		a.rec.State = StateRollbackIncomplete
		a.rec.TeardownError = rbErr.Error()
		a.ps.mu.Unlock()
		_ = a.r.records.save(a.rec)
	}
	return serr
}

// fault is the fault-injection hook (Config.Fault) at a named step.
func (r *Runtime) fault(step string) error {
	if r.cfg.Fault == nil || step == "" {
		return nil
	}
	return r.cfg.Fault(step)
}

// StepError is the error of an apply that failed at a named step.
type StepError struct {
	Step string
	Err  error
	// Rollback holds the errors of undos that failed, if any.
	Rollback error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %q failed: %v", e.Step, e.Err)
	if e.Rollback != nil {
		msg += fmt.Sprintf(" (rollback incomplete, run \"minipod delete\" again to retry: %v)", e.Rollback)
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }
