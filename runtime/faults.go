package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
)

// FaultEnv names the environment variable of the test-only fault hook. It is
// inert when unset, and no user-facing flag or API sets it. The daemon reads
// it once at start (FaultFromEnv) into Config.Fault:
//
//	MINIPOD_TEST_FAULT=fail:<step>    the step fails once, after its own work
//	MINIPOD_TEST_FAULT=crash:<step>   the daemon SIGKILLs itself right after the
//	                                  step, as a `kill -9` or a power cut would
//
// <step> is one of ApplySteps or TeardownSteps. The end-to-end reliability
// tests drive every step both ways and check that a restarted daemon
// reconciles and that nothing is left.
const FaultEnv = "MINIPOD_TEST_FAULT"

// Teardown steps, named by the fault-injection hook: the undos of podSteps.
// Each fires after the step's own work.
const (
	StepTeardownContainers = "teardown containers"
	StepTeardownCNI        = "teardown CNI DEL"
	StepTeardownNetNS      = "teardown network namespace"
	StepTeardownPodNS      = "teardown ipc and uts namespaces"
	StepTeardownVolumes    = "teardown volumes"
	StepTeardownRecord     = "teardown record"
)

// ApplySteps are the hook points of apply, in order: the steps of podSteps
// that do something.
var ApplySteps = applySteps()

// TeardownSteps are the hook points of teardown, in order: the undos of
// podSteps, backwards.
var TeardownSteps = teardownSteps()

func applySteps() []string {
	var out []string
	for _, s := range podSteps {
		if s.do != nil && !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}

func teardownSteps() []string {
	var out []string
	for i := len(podSteps) - 1; i >= 0; i-- {
		if t := podSteps[i].teardown; t != "" {
			out = append(out, t)
		}
	}
	return out
}

// errInjected is the error of an injected failure.
var errInjected = errors.New("injected fault (" + FaultEnv + ")")

// ParseFault turns a FaultEnv value into a hook for Config.Fault. Empty
// means no hook (nil, nil).
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

// FaultFromEnv is the hook FaultEnv asks for, for the daemon's Config.Fault;
// nil with the variable unset.
func FaultFromEnv() (func(step string) error, error) {
	return ParseFault(os.Getenv(FaultEnv))
}

func knownStep(step string) bool {
	return slices.Contains(ApplySteps, step) || slices.Contains(TeardownSteps, step)
}
