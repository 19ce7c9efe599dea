package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// bench is one run: its private daemons and what it measured.
type bench struct {
	cfg     config
	work    string
	started time.Time

	containerdSock string
	mp             *minipodSystem
	pm             *podmanSystem
	fl             *floorSystem

	series  []*series
	density densityResult
	gobench []goBenchmark
	undo    []func()
}

// series is the timings of one case on one system, in seconds, and the
// repetitions that failed (not timed).
type series struct {
	Case     string    `json:"case"`
	System   string    `json:"system"`
	Seconds  []float64 `json:"seconds"`
	Failures []string  `json:"failures,omitempty"`
}

func (b *bench) onCleanup(f func()) { b.undo = append(b.undo, f) }

// cleanup undoes the set-up in reverse; every step runs even when an
// earlier one failed.
func (b *bench) cleanup() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
	unmountUnder(b.work)
	if !b.cfg.keep {
		if err := os.RemoveAll(b.work); err != nil {
			logf("failed to remove %s: %v", b.work, err)
		}
	}
}

// names of what this run creates, from --id and --net.
func (b *bench) ns() string             { return "mpbench-" + b.cfg.id }
func (b *bench) floorNS() string        { return "mpbench-" + b.cfg.id + "-floor" }
func (b *bench) bridge(s string) string { return "mpb" + b.cfg.id + s }
func (b *bench) subnet(off, bits int) string {
	return fmt.Sprintf("10.233.%d.0/%d", b.cfg.netBase+off, bits)
}

func (b *bench) setup(ctx context.Context) error {
	if !b.cfg.noPodman {
		if err := checkPodman(); err != nil {
			return err
		}
	}
	for _, s := range []string{"0", "f", "p"} {
		if _, err := netlink.LinkByName(b.bridge(s)); err == nil {
			return fmt.Errorf("a link %s already exists: is another benchmark running? (use --id and --net to run two at once)", b.bridge(s))
		}
	}
	logf("work directory %s", b.work)
	cdir := filepath.Join(b.work, "containerd")
	b.containerdSock = filepath.Join(cdir, "containerd.sock")
	// Runs after containerd has stopped: a shim that lost its socket to a
	// sibling's start (seen with grouped shims) is unknown to containerd
	// and would outlive it.
	b.onCleanup(func() { killShims(b.containerdSock) })
	if out, err := exec.CommandContext(ctx, "bash", filepath.Join(b.cfg.repo, "scripts/testenv.sh"), "start-containerd", cdir).CombinedOutput(); err != nil {
		return fmt.Errorf("failed to start containerd: %v\n%s", err, out)
	}
	b.onCleanup(func() {
		if out, err := exec.Command("bash", filepath.Join(b.cfg.repo, "scripts/testenv.sh"), "stop-containerd", cdir).CombinedOutput(); err != nil {
			logf("failed to stop containerd: %v\n%s", err, out)
		}
	})
	// Containers must go before containerd does: their shims outlive it.
	b.onCleanup(func() {
		for _, ns := range []string{b.ns(), b.floorNS()} {
			if err := purgeNamespace(b.containerdSock, ns); err != nil {
				logf("failed to clean containerd namespace %s: %v", ns, err)
			}
		}
	})

	var err error
	if b.mp, err = startMinipod(ctx, b); err != nil {
		return err
	}
	if b.fl, err = newFloor(ctx, b); err != nil {
		return err
	}
	if !b.cfg.noPodman {
		if b.pm, err = newPodman(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// A timed case: how to run it once on one system. setup and after are not
// timed; cleanup removes the pod after a failed repetition, whatever state
// it is in.
type trial struct {
	system  string
	setup   func(ctx context.Context, name string) error
	timed   func(ctx context.Context, name string) error
	after   func(ctx context.Context, name string) error
	cleanup func(ctx context.Context, name string) error
}

// maxFailures is how many failed repetitions of one case and system the
// run records (and goes on) before it gives up.
const maxFailures = 3

// runCase runs every trial reps times, interleaved (A B C, then B C A, ...),
// each time on a pod of its own name.
func (b *bench) runCase(ctx context.Context, caseName, prefix string, trials []trial) error {
	got := make([]*series, len(trials))
	for i, t := range trials {
		got[i] = &series{Case: caseName, System: t.system}
		b.series = append(b.series, got[i])
	}
	for rep := 0; rep < b.cfg.reps; rep++ {
		for k := range trials {
			i := (k + rep) % len(trials)
			t := trials[i]
			name := fmt.Sprintf("%s-%d-%d", prefix, i, rep)
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := runTrial(ctx, t, name)
			if err == nil {
				got[i].Seconds = append(got[i].Seconds, d.Seconds())
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// A failure is a result: record it, remove the pod, go on.
			logf("%s, %s, pod %s FAILED: %v", caseName, t.system, name, err)
			got[i].Failures = append(got[i].Failures, fmt.Sprintf("pod %s: %v", name, err))
			if t.cleanup != nil {
				if cerr := t.cleanup(ctx, name); cerr != nil {
					logf("failed to clean up pod %s: %v", name, cerr)
				}
			}
			if len(got[i].Failures) >= maxFailures {
				return fmt.Errorf("%s, %s: %d repetitions failed, the last: %w", caseName, t.system, len(got[i].Failures), err)
			}
		}
	}
	for _, s := range got {
		if len(s.Failures) > 0 {
			logf("%-32s %-34s %d failed", caseName, s.System, len(s.Failures))
		}
		logf("%-32s %-34s median %.3fs", caseName, s.System, median(s.Seconds))
	}
	return nil
}

// runTrial runs one repetition and returns the timed part's duration.
func runTrial(ctx context.Context, t trial, name string) (time.Duration, error) {
	if t.setup != nil {
		if err := t.setup(ctx, name); err != nil {
			return 0, fmt.Errorf("failed to set up: %w", err)
		}
	}
	t0 := time.Now()
	err := t.timed(ctx, name)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if t.after != nil {
		if err := t.after(ctx, name); err != nil {
			return 0, fmt.Errorf("failed to clean up: %w", err)
		}
	}
	return d, nil
}

func (b *bench) measure(ctx context.Context) error {
	logf("warming up each system once (untimed)")
	if err := b.warmUp(ctx); err != nil {
		return err
	}
	stopProfile := func() {}
	if b.cfg.profile && b.cfg.cases["start"] {
		stopProfile = b.mp.profile(filepath.Join(filepath.Dir(b.cfg.out), "cpu-start.pprof"))
	}
	for _, n := range []int{1, 3} {
		if !b.cfg.cases["start"] {
			break
		}
		caseName := fmt.Sprintf("start, %d container", n)
		if n > 1 {
			caseName += "s"
		}
		trials := []trial{{
			system:  sysMinipodRun,
			setup:   func(_ context.Context, name string) error { return b.mp.write(name, n, cmdSleep, 2) },
			timed:   b.mp.run,
			after:   b.mp.deleteNow,
			cleanup: b.mp.forget,
		}, {
			system:  sysFloor,
			timed:   func(ctx context.Context, name string) error { return b.fl.start(ctx, name, n) },
			after:   b.fl.remove,
			cleanup: b.fl.remove,
		}}
		if b.pm != nil {
			trials = append(trials, trial{
				system:  sysPodmanPlay,
				setup:   func(_ context.Context, name string) error { return b.pm.write(name, n, cmdSleep, 2) },
				timed:   b.pm.play,
				after:   b.pm.removeNow,
				cleanup: b.pm.forget,
			})
		}
		if err := b.runCase(ctx, caseName, fmt.Sprintf("s%d", n), trials); err != nil {
			return err
		}
	}
	stopProfile()
	for _, kind := range []struct {
		name, prefix string
		cmd          []string
	}{
		{"delete, 3 containers exiting on SIGTERM", "dt", cmdTrapTerm},
		{"delete, 3 containers ignoring SIGTERM (grace 2 s)", "di", cmdSleep},
	} {
		if !b.cfg.cases["delete"] {
			break
		}
		trials := []trial{{
			system: sysMinipodDelete,
			setup: func(ctx context.Context, name string) error {
				if err := b.mp.write(name, 3, kind.cmd, teardownGrace); err != nil {
					return err
				}
				return b.mp.run(ctx, name)
			},
			timed:   b.mp.delete,
			cleanup: b.mp.forget,
		}}
		if b.pm != nil {
			setup := func(ctx context.Context, name string) error {
				if err := b.pm.write(name, 3, kind.cmd, teardownGrace); err != nil {
					return err
				}
				return b.pm.play(ctx, name)
			}
			trials = append(trials,
				trial{system: sysPodmanDown, setup: setup, timed: b.pm.down, cleanup: b.pm.forget},
				trial{system: sysPodmanRm, setup: setup, timed: b.pm.rm, cleanup: b.pm.forget},
				trial{system: sysPodmanStopRm, setup: setup, timed: b.pm.stopRm, cleanup: b.pm.forget},
			)
		}
		if err := b.runCase(ctx, kind.name, kind.prefix, trials); err != nil {
			return err
		}
	}
	if b.cfg.cases["density"] {
		var err error
		if b.density, err = b.mp.density(ctx); err != nil {
			return err
		}
	}
	if b.cfg.cases["go"] {
		var err error
		if b.gobench, err = runGoBench(ctx, b.cfg.repo, b.cfg.benchtime); err != nil {
			return err
		}
	}
	return nil
}

// warmUp runs each system once, untimed: podman builds its pause image on
// first use, and caches fill.
func (b *bench) warmUp(ctx context.Context) error {
	const name = "warmup"
	if err := b.mp.write(name, 3, cmdSleep, 2); err != nil {
		return err
	}
	if err := b.mp.run(ctx, name); err != nil {
		return fmt.Errorf("failed to warm up minipod: %w", err)
	}
	if err := b.mp.deleteNow(ctx, name); err != nil {
		return err
	}
	if err := b.fl.start(ctx, name, 3); err != nil {
		return fmt.Errorf("failed to warm up the floor: %w", err)
	}
	if err := b.fl.remove(ctx, name); err != nil {
		return err
	}
	if b.pm != nil {
		if err := b.pm.write(name, 3, cmdSleep, 2); err != nil {
			return err
		}
		if err := b.pm.play(ctx, name); err != nil {
			return fmt.Errorf("failed to warm up podman: %w", err)
		}
		if err := b.pm.removeNow(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// The systems, as the table names them.
const (
	sysMinipodRun    = "minipod run"
	sysPodmanPlay    = "podman kube play"
	sysFloor         = "floor: netns + CNI ADD + ctr run -d ×n"
	sysMinipodDelete = "minipod delete"
	sysPodmanDown    = "podman kube down"
	sysPodmanRm      = "podman pod rm -f -t 2"
	sysPodmanStopRm  = "podman pod stop -t 0 && pod rm"
)

// teardownGrace is the terminationGracePeriodSeconds of the teardown pods.
const teardownGrace = 2

// The containers' commands: sleep as PID 1 ignores SIGTERM; the trap loop
// exits on it.
var (
	cmdSleep    = []string{"sleep", "3600"}
	cmdTrapTerm = []string{"sh", "-c", `trap "exit 0" TERM; sleep 3600 & wait`}
)

// runCmd runs a command and returns its error with its output.
func runCmd(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			logf("failed to unmount %s: %v", m, err)
		}
	}
}

// killShims ends the shims still serving the run's containerd (by pid:
// SIGTERM, then SIGKILL).
func killShims(address string) {
	pids := shimPids("", address)
	for _, pid := range pids {
		logf("stopping containerd-shim %d left by the run", pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(shimPids("", address)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range shimPids("", address) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// deleteLink removes a network link of this run, if it exists.
func deleteLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			logf("failed to delete link %s: %v", name, err)
		}
	}
}
