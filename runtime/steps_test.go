package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestUndoStackRollback(t *testing.T) {
	errCNI := errors.New("cni del failed")
	errNetNS := fmt.Errorf("netns busy: %w", errdefs.ErrFailedPrecondition)

	tests := []struct {
		name     string
		fail     map[string]error
		wantRan  []string
		wantErrs []error
	}{
		{"all succeed", nil, []string{"containers", "volumes", "cni", "netns", "record"}, nil},
		{"one fails, the rest still run", map[string]error{"cni": errCNI},
			[]string{"containers", "volumes", "cni", "netns", "record"}, []error{errCNI}},
		{"two fail, both joined", map[string]error{"cni": errCNI, "netns": errNetNS},
			[]string{"containers", "volumes", "cni", "netns", "record"}, []error{errCNI, errdefs.ErrFailedPrecondition}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s undoStack
			var ran []string
			for _, step := range []string{"record", "netns", "cni", "volumes", "containers"} {
				s.push(step, func(ctx context.Context) error {
					ran = append(ran, step)
					return tc.fail[step]
				})
			}
			err := s.rollback(context.Background())
			if !reflect.DeepEqual(ran, tc.wantRan) {
				t.Errorf("undos ran %q, want %q (reverse order)", ran, tc.wantRan)
			}
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Errorf("rollback = %v, want nil", err)
				}
				return
			}
			for _, want := range tc.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("rollback error %v does not wrap %v", err, want)
				}
			}
			for step := range tc.fail {
				if !strings.Contains(err.Error(), "failed to undo "+step) {
					t.Errorf("rollback error %q does not name step %q", err, step)
				}
			}
			if got := strings.Count(err.Error(), "failed to undo"); got != len(tc.fail) {
				t.Errorf("rollback error has %d failures, want %d: %v", got, len(tc.fail), err)
			}
		})
	}
}

// Ctrl-C must not abort a rollback: the undos see a live context with a
// deadline even when the caller's is cancelled, and keep its values.
func TestUndoStackRollbackOnCancelledContext(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "pod-a"))
	cancel()

	var s undoStack
	calls := 0
	for range 3 {
		s.push("step", func(ctx context.Context) error {
			calls++
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("undo saw a done context: %w", err)
			}
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("undo context has no deadline")
			}
			if ctx.Value(key{}) != "pod-a" {
				return errors.New("undo context lost the caller's values")
			}
			return nil
		})
	}
	if err := s.rollback(parent); err != nil {
		t.Fatalf("rollback on a cancelled context: %v", err)
	}
	if calls != 3 {
		t.Errorf("%d undos ran, want 3", calls)
	}
	// The stack is empty afterwards: a second rollback runs nothing.
	if err := s.rollback(parent); err != nil || calls != 3 {
		t.Errorf("second rollback: err %v, %d calls in all; want nil and 3", err, calls)
	}
}

func TestStepError(t *testing.T) {
	base := fmt.Errorf("failed to create netns: %w", errdefs.ErrAlreadyExists)
	tests := []struct {
		name string
		err  *StepError
		want string
	}{
		{"no rollback error", &StepError{Step: "network namespace", Err: base},
			`step "network namespace" failed: failed to create netns: already exists`},
		{"incomplete rollback", &StepError{Step: "cni", Err: errors.New("no IP"), Rollback: errors.Join(errors.New("a"), errors.New("b"))},
			"step \"cni\" failed: no IP (rollback incomplete, run \"minipod delete\" again to retry: a\nb)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
	var err error = &StepError{Step: "netns", Err: base}
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("StepError does not unwrap to its cause's class")
	}
	var se *StepError
	if !errors.As(fmt.Errorf("run: %w", err), &se) || se.Step != "netns" {
		t.Errorf("errors.As does not find the StepError")
	}
}
