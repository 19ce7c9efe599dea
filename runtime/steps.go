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
