package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/opencontainers/image-spec/identity"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/runtime"
)

// startRun starts `minipod run manifest` against the env's daemon without
// waiting for it.
func (e *env) startRun(t *testing.T, manifest string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(suite.bin, "run", manifest)
	cmd.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, done
}

// settle waits until the pod is either gone or Running (a creation that
// was interrupted finished one way or the other), then deletes it if it is
// there.
func (e *env) settle(t *testing.T, name string) {
	t.Helper()
	running := false
	eventually(t, 60*time.Second, "pod "+name+" gone or Running", func() bool {
		out, _, code := e.run("get", "pod", name, "-o", "json")
		if code != 0 {
			return true
		}
		var p corev1.Pod
		if json.Unmarshal([]byte(out), &p) != nil {
			return false
		}
		running = p.Status.Phase == corev1.PodRunning
		return running
	})
	if running {
		e.mustRun("delete", "pod", name, "--now")
	}
	e.podGone(t, name)
}

// interruptOffsets are when, after `minipod run` starts, the attacks
// strike: from before the request is sent to when the pod is nearly up.
var interruptOffsets = []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 350 * time.Millisecond, 600 * time.Millisecond}

// TestInterruptRun sends SIGINT (a Ctrl-C) to `minipod run` at several
// offsets. Whatever the daemon was doing, the pod ends fully Running or
// fully gone, and once deleted nothing is left: no lease, no snapshot a
// lease holds, no shim, no log driver.
func TestInterruptRun(t *testing.T) {
	e := newEnv(t)
	manifest := e.writeFile("faulty.yaml", faultPod)
	var counts crashCounts
	for _, off := range interruptOffsets {
		t.Run(fmt.Sprint("SIGINT at ", off), func(t *testing.T) {
			counts.total++
			cmd, done := e.startRun(t, manifest)
			time.Sleep(off) // the attack's offset, not a synchronisation
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("minipod run did not end within 30s of SIGINT")
			}
			e.settle(t, "faulty")
			counts.check(t, e)
		})
	}
	report(t, "interrupts survived", counts.survived, counts.total, counts.leaks)
	figure(fmt.Sprintf("leases leaked: %d after %d interrupts", counts.leases, counts.total))
}

// TestDaemonKilledMidCreate SIGKILLs the daemon while `minipod run`
// creates a pod: at several offsets, and the moment the pod's first shim
// appears (task create in flight). The restarted daemon reconciles, and
// nothing is left: no lease, no snapshot a lease holds, no orphaned shim or
// log driver.
func TestDaemonKilledMidCreate(t *testing.T) {
	e := newEnv(t)
	manifest := e.writeFile("faulty.yaml", faultPod)
	var counts crashCounts
	attack := func(t *testing.T, strike func()) {
		counts.total++
		cmd, done := e.startRun(t, manifest)
		strike()
		e.kill()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("minipod run did not end within 30s of the daemon's death")
		}
		e.start()
		e.settle(t, "faulty")
		counts.check(t, e)
	}
	for _, off := range interruptOffsets[1:] {
		t.Run(fmt.Sprint("SIGKILL at ", off), func(t *testing.T) {
			attack(t, func() { time.Sleep(off) }) // the attack's offset
		})
	}
	// The moment a task is being created: its shim, or its log driver
	// (which the shim starts before runc create), has appeared.
	strikeWhen := func(t *testing.T, what string, cond func() bool) func() {
		return func() {
			deadline := time.Now().Add(30 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("no %s appeared within 30s", what)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	for i := 0; i < 2; i++ {
		t.Run(fmt.Sprint("SIGKILL at the first task create ", i), func(t *testing.T) {
			attack(t, strikeWhen(t, "shim", func() bool { return len(e.shims()) > 0 }))
		})
	}
	for _, c := range []string{"app", "side"} {
		for i := 0; i < 2; i++ {
			t.Run(fmt.Sprintf("SIGKILL at task create of %s %d", c, i), func(t *testing.T) {
				attack(t, strikeWhen(t, "log driver of "+c, func() bool {
					for _, d := range e.logDrivers() {
						if strings.Contains(d, "/"+c+"/") {
							return true
						}
					}
					return false
				}))
			})
		}
	}
	t.Run("SIGKILL under parallel runs", func(t *testing.T) {
		counts.total++
		const n = 6
		var dones []<-chan error
		var cmds []*exec.Cmd
		for i := 0; i < n; i++ {
			m := e.writeFile("pod.yaml", strings.Replace(faultPod, "name: faulty", fmt.Sprintf("name: par-%d", i), 1))
			cmd, done := e.startRun(t, m)
			cmds, dones = append(cmds, cmd), append(dones, done)
		}
		time.Sleep(400 * time.Millisecond) // the attack's offset
		e.kill()
		for i, done := range dones {
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmds[i].Process.Kill()
				<-done
				t.Errorf("minipod run %d did not end within 30s of the daemon's death", i)
			}
		}
		e.start()
		for i := 0; i < n; i++ {
			e.settle(t, fmt.Sprintf("par-%d", i))
		}
		counts.check(t, e)
	})
	report(t, "daemon kills mid-create survived", counts.survived, counts.total, counts.leaks)
	figure(fmt.Sprintf("leases leaked: %d after %d daemon kills mid-create", counts.leases, counts.total))
}

// TestGCDuringCreation runs gc over and over while pods are created: no
// creation fails, and gc removes nothing of theirs.
func TestGCDuringCreation(t *testing.T) {
	e := newEnv(t)
	const pods = 6
	stop := make(chan struct{})
	gcDone := make(chan []string)
	go func() {
		var removed []string
		for {
			select {
			case <-stop:
				gcDone <- removed
				return
			default:
			}
			out, _, _ := e.run("gc")
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "removed") {
					removed = append(removed, l)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]string, pods)
	for i := 0; i < pods; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := strings.Replace(faultPod, "name: faulty", fmt.Sprintf("name: gcrace-%d", i), 1)
			p := filepath.Join(t.TempDir(), "pod.yaml")
			if err := os.WriteFile(p, []byte(m), 0o644); err != nil {
				errs[i] = err.Error()
				return
			}
			if out, errOut, code := e.run("run", p); code != 0 {
				errs[i] = fmt.Sprintf("exit %d: %s%s", code, out, errOut)
			}
		}()
	}
	wg.Wait()
	close(stop)
	removed := <-gcDone
	failed := 0
	for i, msg := range errs {
		if msg != "" {
			failed++
			t.Errorf("run of gcrace-%d while gc ran: %s", i, msg)
		}
	}
	if len(removed) > 0 {
		t.Errorf("gc removed things while pods were created:\n%s", strings.Join(removed, "\n"))
	}
	for i := 0; i < pods; i++ {
		if failed == 0 {
			e.podWorks(t, fmt.Sprintf("gcrace-%d", i), "side")
		}
		e.run("delete", "pod", fmt.Sprintf("gcrace-%d", i), "--now")
	}
	figure(fmt.Sprintf("gc during creation: %d of %d runs failed, %d items removed from pods under creation", failed, pods, len(removed)))
}

// TestSecondDaemonSameBridge starts a second daemon with its own root,
// socket, namespace and subnet but the first one's bridge: it refuses to
// start, naming --bridge, and leaves nothing mounted.
func TestSecondDaemonSameBridge(t *testing.T) {
	e := newEnv(t)
	e.apply(strings.Replace(podA, "pod-a", "first", 1)) // the bridge gets its address
	dir := t.TempDir()
	netnsDir := filepath.Join(dir, "netns")
	secrets := filepath.Join(dir, "secrets")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, "daemon", "--root", filepath.Join(dir, "root"), "--socket", filepath.Join(dir, "minipod.sock"),
		"--containerd-address", suite.containerd, "--containerd-namespace", e.ns+"-second",
		"--network", e.network+"-2", "--bridge", e.bridge, "--subnet", freeSubnet(int(envSeq.Add(1))+100), "--netns-dir", netnsDir,
		"--secret-dir", filepath.Join(secrets, "s"))
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		_ = syscall.Unmount(secrets, syscall.MNT_DETACH)
		_ = syscall.Unmount(netnsDir, syscall.MNT_DETACH)
	})
	if ctx.Err() != nil {
		t.Fatalf("the second daemon with a taken bridge kept running:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "--bridge") || !strings.Contains(string(out), e.bridge) {
		t.Fatalf("second daemon: %v, want a refusal naming bridge %s and --bridge:\n%s", err, e.bridge, out)
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(m), dir) {
		t.Errorf("the refused daemon left a mount under %s", dir)
	}
	e.podWorks(t, "first", "client")
	e.mustRun("delete", "pod", "first", "--now")
	figure("two daemons, one bridge: the second refuses at start, naming --bridge")
}

// orphanShim starts a shim of the env's containerd and namespace that
// containerd does not know, as a task create cut short leaves one, for a
// pod prefix no pod has; it returns the shim's socket, which the test
// removes at its end.
func (e *env) orphanShim(t *testing.T, id string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim writes its log to the fifo "log" in its bundle, which
	// containerd reads; it gives up when nobody does.
	if err := syscall.Mkfifo(filepath.Join(dir, "log"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "log"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd := exec.Command("containerd-shim-runc-v2", "-namespace", e.ns, "-id", id, "-address", suite.containerd, "start")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("failed to start a shim: %v", err)
	}
	sock := strings.TrimPrefix(strings.TrimSpace(string(out)), "unix://")
	t.Cleanup(func() {
		for _, sh := range shimsOf(suite.containerd) {
			if sh.namespace == e.ns && sh.id == id {
				if p, err := os.FindProcess(sh.pid); err == nil {
					_ = p.Kill()
				}
			}
		}
		if strings.HasPrefix(sock, "/run/containerd/s/") {
			_ = os.Remove(sock)
		}
	})
	eventually(t, 10*time.Second, "the orphaned shim running", func() bool {
		for _, sh := range shimsOf(suite.containerd) {
			if sh.namespace == e.ns && sh.id == id {
				return true
			}
		}
		return false
	})
}

// TestGCLeasesAndShims: a lease of minipod's that no operation holds (with
// the snapshot it alone keeps) and a shim that serves no task are listed
// by gc --dry-run and removed by gc; a lease that is not minipod's is left
// alone; a daemon start removes them too.
func TestGCLeasesAndShims(t *testing.T) {
	e := newEnv(t)
	e.apply(strings.Replace(podA, "pod-a", "keeper", 1))
	c, err := containerd.New(suite.containerd)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), e.ns)
	ls := c.LeasesService()
	stale, err := ls.Create(ctx, leases.WithRandomID(), leases.WithLabels(map[string]string{runtime.LabelLease: "create", runtime.LabelPodUID: "0badc0de-0000-0000-0000-000000000000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Delete(ctx, stale, leases.SynchronousDelete) })
	foreign, err := ls.Create(ctx, leases.WithRandomID())
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Delete(ctx, foreign)
	// A snapshot only the stale lease holds, as a creation cut short
	// between the snapshot and the container leaves it.
	img, err := c.GetImage(ctx, "docker.io/library/busybox:1.36")
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := img.RootFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parent := identity.ChainID(diffs).String()
	if _, err := c.SnapshotService("overlayfs").Prepare(leases.WithLease(ctx, stale.ID), "0badc0de0000-app", parent); err != nil {
		t.Fatal(err)
	}
	e.orphanShim(t, "0badc0de0001-app")

	out := e.mustRun("gc", "--dry-run")
	for _, want := range []string{"lease", stale.ID, "shim", "0badc0de0001-app"} {
		if !strings.Contains(out, want) {
			t.Errorf("gc --dry-run does not list %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, foreign.ID) || strings.Contains(out, "keeper") {
		t.Errorf("gc --dry-run lists what is not its own:\n%s", out)
	}
	out = e.mustRun("gc")
	if strings.Count(out, "removed") < 2 {
		t.Errorf("gc:\n%s", out)
	}
	left := map[string]bool{}
	for _, k := range []string{"leases", "snapshots", "shims"} {
		for _, x := range e.snapshot()[k] {
			left[x] = true
		}
	}
	if left[stale.ID] || left["0badc0de0000-app"] || !left[foreign.ID] {
		t.Errorf("after gc: stale lease left %v, its snapshot left %v, foreign lease kept %v", left[stale.ID], left["0badc0de0000-app"], left[foreign.ID])
	}
	for _, sh := range e.shims() {
		if strings.HasSuffix(sh, " 0badc0de0001-app") {
			t.Errorf("gc left the orphaned shim %s", sh)
		}
	}

	// At start-up, the daemon removes them itself.
	e.stop()
	stale2, err := ls.Create(ctx, leases.WithRandomID(), leases.WithLabels(map[string]string{runtime.LabelLease: "pull"}))
	if err != nil {
		t.Fatal(err)
	}
	e.orphanShim(t, "0badc0de0002-app")
	e.start()
	e.mustRun("get", "pods") // served once the start-up's reconcile is done
	for _, x := range e.snapshot()["leases"] {
		if x == stale2.ID {
			t.Errorf("the daemon's start left lease %s", x)
		}
	}
	for _, sh := range e.shims() {
		if strings.HasSuffix(sh, " 0badc0de0002-app") {
			t.Errorf("the daemon's start left the orphaned shim %s", sh)
		}
	}
	e.podWorks(t, "keeper", "client")
	e.mustRun("delete", "pod", "keeper", "--now")
	if err := ls.Delete(ctx, foreign); err != nil {
		t.Error(err)
	}
	figure("gc and daemon start: stale leases (with their snapshots) and orphaned shims removed, foreign leases kept")
}

// TestContainerdKilledMidRun SIGKILLs containerd while `minipod run`
// creates a pod: the CLI ends soon with an error naming containerd (not at
// its 2-minute timeout), the pod does not stay ContainerCreating, and once
// containerd is back, delete finishes and nothing is left.
func TestContainerdKilledMidRun(t *testing.T) {
	dir := privateContainerd(t)
	e := newEnv(t)
	manifest := e.writeFile("faulty.yaml", faultPod)
	var counts crashCounts
	// Offsets from the pod's set-up to its containers' creation and start
	// (a run takes about a second here): a task create that finds
	// containerd unreachable undoes the creation (refusedStart), a pod
	// already Running keeps running under its shims.
	for _, off := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond} {
		t.Run(fmt.Sprint("containerd SIGKILL at ", off), func(t *testing.T) {
			counts.total++
			cmd, done := e.startRun(t, manifest)
			time.Sleep(off) // the attack's offset
			killContainerd(t, dir)
			restarted := false
			defer func() {
				if !restarted {
					startContainerd(t, dir)
				}
			}()
			start := time.Now()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("minipod run still waiting 20s after containerd died")
			}
			t.Logf("run ended %s after containerd died", time.Since(start).Round(time.Millisecond))
			// The daemon answers, and the pod is not left creating.
			creating := ""
			defer func() {
				if t.Failed() {
					t.Logf("last pod status: %s", creating)
				}
			}()
			eventually(t, 30*time.Second, "the pod to leave ContainerCreating", func() bool {
				out, _, code := e.run("get", "pod", "faulty", "-o", "json")
				if code != 0 {
					return true
				}
				var p corev1.Pod
				if json.Unmarshal([]byte(out), &p) != nil {
					return false
				}
				b, _ := json.Marshal(p.Status)
				creating = string(b)
				for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
					if w := cs.State.Waiting; w != nil && (w.Reason == "ContainerCreating" || w.Reason == "PodInitializing") {
						return false
					}
				}
				return p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) > 0
			})
			startContainerd(t, dir)
			restarted = true
			// Gone by itself (the daemon retries an incomplete rollback), or
			// deleted: each delete ends, and one of them finishes.
			var lastErr string
			eventually(t, 60*time.Second, "the pod gone once containerd is back", func() bool {
				if _, _, code := e.run("get", "pod", "faulty"); code != 0 {
					return true
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				del := exec.CommandContext(ctx, suite.bin, "delete", "pod", "faulty", "--now")
				del.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket)
				out, err := del.CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("delete still blocked after 60s:\n%s", out)
				}
				if err != nil {
					lastErr = string(out)
				}
				return err == nil
			})
			if lastErr != "" {
				t.Logf("a delete failed on the way: %s", lastErr)
			}
			e.settle(t, "faulty")
			counts.check(t, e)
		})
	}
	report(t, "containerd kills mid-run survived", counts.survived, counts.total, counts.leaks)
}

// TestDaemonKilledMidDelete SIGKILLs the daemon at several offsets of a
// delete: the restarted daemon finishes the teardown, and nothing is left
// (no orphaned shim, no log driver).
func TestDaemonKilledMidDelete(t *testing.T) {
	e := newEnv(t)
	manifest := e.writeFile("faulty.yaml", faultPod)
	var counts crashCounts
	for _, off := range []time.Duration{0, 30 * time.Millisecond, 80 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(fmt.Sprint("SIGKILL at ", off), func(t *testing.T) {
			counts.total++
			e.mustRun("run", manifest)
			cmd := exec.Command(suite.bin, "delete", "pod", "faulty", "--now")
			cmd.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			time.Sleep(off) // the attack's offset
			e.kill()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("minipod delete did not end within 30s of the daemon's death")
			}
			e.start()
			e.settle(t, "faulty")
			counts.check(t, e)
		})
	}
	report(t, "daemon kills mid-delete survived", counts.survived, counts.total, counts.leaks)
}

// crashCounts tallies a series of crash or interrupt points: how many ran,
// how many left the host as it was, and what they left behind.
type crashCounts struct{ total, survived, leaks, leases int }

// check counts what the point just run left behind (failing t if
// anything), leases apart, and whether it survived.
func (c *crashCounts) check(t *testing.T, e *env) {
	t.Helper()
	bad := e.leaked()
	c.leaks += len(bad)
	for _, b := range bad {
		if strings.HasPrefix(b, "leases:") {
			c.leases++
		}
	}
	if len(bad) > 0 {
		t.Errorf("left behind: %s", strings.Join(bad, ", "))
	}
	if !t.Failed() {
		c.survived++
	}
}
