package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// undoStack is the rollback of an apply: each step that acquires something
// pushes the undo that releases it, before the next step runs. On failure
// the undos run in reverse order.
type undoStack struct {
	undos []undo
}

type undo struct {
	step string
	fn   func(ctx context.Context) error
}

// push registers fn as the undo of step.
func (s *undoStack) push(step string, fn func(ctx context.Context) error) {
	s.undos = append(s.undos, undo{step: step, fn: fn})
}

// rollback runs every undo in reverse on a context that the caller's
// cancellation cannot abort (Ctrl-C must not stop a rollback), and joins the
// errors of those that failed.
func (s *undoStack) rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(s.undos) - 1; i >= 0; i-- {
		u := s.undos[i]
		if err := u.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failed to undo %s: %w", u.step, err))
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
