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

// The record's undo (pushed first, with pushLast) runs only when every
// other undo succeeded; a haltError ends the run where it is returned.
func TestUndoStackLastAndHalt(t *testing.T) {
	errBusy := errors.New("busy")
	tests := []struct {
		name    string
		fail    map[string]error
		wantRan []string
	}{
		{"all succeed: record last", nil, []string{"containers", "volumes", "netns", "record"}},
		{"a failure keeps the record", map[string]error{"volumes": errBusy}, []string{"containers", "volumes", "netns"}},
		{"a halt ends the run", map[string]error{"containers": haltError{errBusy}}, []string{"containers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := undoStack{verb: "tear down"}
			var ran []string
			fn := func(step string) func(context.Context) error {
				return func(context.Context) error {
					ran = append(ran, step)
					return tc.fail[step]
				}
			}
			s.pushLast("record", fn("record"))
			for _, step := range []string{"netns", "volumes", "containers"} {
				s.push(step, fn(step))
			}
			err := s.run(context.Background())
			if !reflect.DeepEqual(ran, tc.wantRan) {
				t.Errorf("undos ran %q, want %q", ran, tc.wantRan)
			}
			if len(tc.fail) == 0 && err != nil {
				t.Errorf("run = %v, want nil", err)
			}
			if len(tc.fail) > 0 && (!errors.Is(err, errBusy) || !strings.Contains(err.Error(), "failed to tear down ")) {
				t.Errorf("run = %v, want the failure, named as a teardown", err)
			}
		})
	}
}

// The fault hook points are the steps of the one list: apply in order,
// teardown backwards, and the names the end-to-end tests and scripts use
// do not change.
func TestStepLists(t *testing.T) {
	wantApply := []string{StepImages, StepRecord, StepNetNS, StepPodNamespaces, StepCNI, StepVolumes, StepPodFiles, StepInitContainers, StepCreate, StepStart, StepRunning}
	if !reflect.DeepEqual(ApplySteps, wantApply) {
		t.Errorf("ApplySteps = %q, want %q", ApplySteps, wantApply)
	}
	wantTeardown := []string{StepTeardownContainers, StepTeardownVolumes, StepTeardownCNI, StepTeardownPodNS, StepTeardownNetNS, StepTeardownRecord}
	if !reflect.DeepEqual(TeardownSteps, wantTeardown) {
		t.Errorf("TeardownSteps = %q, want %q", TeardownSteps, wantTeardown)
	}
	for _, step := range append(append([]string{}, ApplySteps...), TeardownSteps...) {
		for _, mode := range []string{"fail", "crash"} {
			if hook, err := ParseFault(mode + ":" + step); err != nil || hook == nil {
				t.Errorf("ParseFault(%s:%s) = %v", mode, step, err)
			}
		}
	}
	if _, err := ParseFault("fail:" + stepPodCgroup); err == nil {
		t.Errorf("ParseFault accepts %q, which does nothing of its own", stepPodCgroup)
	}
}

// The order rules of podSteps: the record's undo is the first registered
// (so it runs last) and is kept while another undo fails; the CNI DEL is
// registered before the ADD starts and before anything waits for it; the
// containers' undo before any container is created.
func TestPodStepsOrder(t *testing.T) {
	index := func(name string, pred func(podStep) bool) int {
		for i, s := range podSteps {
			if s.name == name && pred(s) {
				return i
			}
		}
		t.Fatalf("no step %q", name)
		return -1
	}
	anyStep := func(podStep) bool { return true }
	withUndo := func(s podStep) bool { return s.undo != nil }
	for i, s := range podSteps {
		if s.undo != nil {
			if s.name != StepRecord || !s.last {
				t.Errorf("first undo is %q (last %v), want the record's, kept while another fails", s.name, s.last)
			}
			break
		}
		if i > 0 && s.name != StepImages {
			t.Errorf("step %q runs before the record", s.name)
		}
	}
	if cni := index(StepCNI, withUndo); cni != index(StepCNI, anyStep) || !podSteps[cni].background {
		t.Errorf("the first CNI ADD entry must register the DEL and start the ADD in the background")
	}
	containers := index(stepContainers, withUndo)
	for _, name := range []string{StepInitContainers, StepCreate, StepStart} {
		if index(name, anyStep) < containers {
			t.Errorf("%q runs before the containers' undo is registered", name)
		}
	}
	if index(stepPodCgroup, withUndo) > index(StepPodNamespaces, anyStep) {
		t.Errorf("the pod cgroup's undo is registered after the pause may be made in it")
	}
}
