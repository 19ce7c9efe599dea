package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
)

// FaultEnv names the environment variable of the test-only fault hook. It is
// inert when unset, and no user-facing flag or API sets it. The daemon reads
// it once at start (InstallFaultFromEnv):
//
//	MINIPOD_TEST_FAULT=fail:<step>    the step fails once, after its own work
//	MINIPOD_TEST_FAULT=crash:<step>   the daemon SIGKILLs itself right after the
//	                                  step, as a `kill -9` or a power cut would
//
// <step> is one of ApplySteps or TeardownSteps. The end-to-end reliability
// tests drive every step both ways and check that a restarted daemon
// reconciles and that nothing is left.
const FaultEnv = "MINIPOD_TEST_FAULT"

// Teardown steps, named by the fault-injection hook. Each fires after the
// step's own work.
const (
	StepRunning            = "running"
	StepTeardownContainers = "teardown containers"
	StepTeardownCNI        = "teardown CNI DEL"
	StepTeardownNetNS      = "teardown network namespace"
	StepTeardownPodNS      = "teardown ipc and uts namespaces"
	StepTeardownVolumes    = "teardown volumes"
	StepTeardownRecord     = "teardown record"
)

// ApplySteps are the hook points of apply, in order. StepRunning fires once
// the record says Running: a crash there leaves a complete pod to adopt.
var ApplySteps = []string{StepImages, StepRecord, StepNetNS, StepPodNamespaces, StepCNI, StepVolumes, StepPodFiles, StepInitContainers, StepCreate, StepStart, StepRunning}

// TeardownSteps are the hook points of teardown, in order.
var TeardownSteps = []string{StepTeardownContainers, StepTeardownCNI, StepTeardownNetNS, StepTeardownPodNS, StepTeardownVolumes, StepTeardownRecord}

// errInjected is the error of an injected failure.
var errInjected = errors.New("injected fault (" + FaultEnv + ")")

// ParseFault turns a FaultEnv value into a hook for FailAt. Empty means no
// hook (nil, nil).
func ParseFault(v string) (func(step string) error, error) {
	if v == "" {
		return nil, nil
	}
	mode, step, ok := strings.Cut(v, ":")
	if !ok || (mode != "fail" && mode != "crash") || !knownStep(step) {
		return nil, fmt.Errorf("invalid %s=%q: want fail:<step> or crash:<step>, with a step among %q and %q", FaultEnv, v, ApplySteps, TeardownSteps)
	}
	var fired atomic.Bool
	return func(s string) error {
		if s != step || !fired.CompareAndSwap(false, true) {
			return nil
		}
		if mode == "crash" {
			// Die as a kill -9 would: no deferred cleanup, no rollback.
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return fmt.Errorf("%w at step %q", errInjected, s)
	}, nil
}

// InstallFaultFromEnv sets FailAt from FaultEnv. It is for the daemon's
// start-up; with the variable unset it does nothing.
func InstallFaultFromEnv() error {
	hook, err := ParseFault(os.Getenv(FaultEnv))
	if err != nil || hook == nil {
		return err
	}
	FailAt = hook
	return nil
}

func knownStep(step string) bool {
	for _, s := range append(append([]string{}, ApplySteps...), TeardownSteps...) {
		if s == step {
			return true
		}
	}
	return false
}
