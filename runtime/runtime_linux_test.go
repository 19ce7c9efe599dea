package runtime

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/testutil"
	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/netns/cnitest"
	"github.com/minipod/minipod/volumes"
)

// The test binary doubles as the log driver the shim runs, so these tests
// need no minipod binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "pause" {
		if err := RunPause(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 2 && slices.Contains(os.Args, "log-driver") {
		path, rot, err := ParseLogDriverArgs(os.Args[1:])
		if err == nil {
			err = RunLogDriver(path, rot)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hostEnv is a private containerd with the busybox image, for runtime tests.
type hostEnv struct {
	dir     string
	sock    string
	archive string
}

func newHostEnv(t *testing.T) *hostEnv {
	t.Helper()
	testutil.RequiresRoot(t)
	_, err := exec.LookPath("containerd")
	testutil.Require(t, err == nil, "containerd on PATH")
	repo, _ := filepath.Abs("..")
	h := &hostEnv{dir: t.TempDir()}
	h.archive = os.Getenv("MINIPOD_BUSYBOX_IMAGE")
	if h.archive == "" {
		h.archive = filepath.Join(h.dir, "busybox.tar")
		if out, err := exec.Command("bash", filepath.Join(repo, "scripts/build-busybox-image.sh"), "-o", h.archive).CombinedOutput(); err != nil {
			t.Fatalf("failed to build the busybox image: %v\n%s", err, out)
		}
	}
	cdir := filepath.Join(h.dir, "containerd")
	script := filepath.Join(repo, "scripts/testenv.sh")
	if out, err := exec.Command("bash", script, "start-containerd", cdir).CombinedOutput(); err != nil {
		t.Fatalf("failed to start containerd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop-containerd", cdir).CombinedOutput(); err != nil {
			t.Errorf("failed to stop containerd: %v\n%s", err, out)
		}
	})
	h.sock = filepath.Join(cdir, "containerd.sock")
	return h
}

func (h *hostEnv) runtime(t *testing.T, network netns.Network) *Runtime {
	t.Helper()
	return h.runtimeWith(t, Config{Network: network})
}

func (h *hostEnv) runtimeWith(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	exe, _ := os.Executable()
	// Each test runtime pins its namespaces in a directory of its own.
	base, err := os.MkdirTemp("/run", "minipod-rt-test-")
	if err != nil {
		t.Fatal(err)
	}
	nsDir := filepath.Join(base, "netns")
	t.Cleanup(func() {
		_ = syscall.Unmount(nsDir, syscall.MNT_DETACH)
		_ = syscall.Unmount(filepath.Join(base, "secrets"), syscall.MNT_DETACH)
		os.RemoveAll(base)
	})
	// Each test runtime has a containerd namespace, a network, a bridge
	// and a subnet of its own, so that runtimes, of one test process or of
	// several, can run side by side.
	n := runtimeSeq.Add(1)
	bridge := fmt.Sprintf("mprt%d-%d", os.Getpid()%100000, n)
	r, err := New(context.Background(), Config{
		Root:                filepath.Join(t.TempDir(), "root"),
		ContainerdAddress:   h.sock,
		ContainerdNamespace: fmt.Sprintf("mpt-runtime-%d", n),
		NetworkName:         bridge,
		Bridge:              bridge,
		Subnet:              testSubnet(int(n)),
		LogBinary:           exe,
		Network:             cfg.Network,
		RestartBackOff:      cfg.RestartBackOff,
		Fault:               cfg.Fault,
		NetNSDir:            nsDir,
		SecretDir:           filepath.Join(base, "secrets"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A test that failed midway leaves its pods: they are deleted
		// here, or their shims would outlive the test's containerd and
		// keep its state directory busy.
		if pods, err := r.ListPods(context.Background(), ""); err == nil {
			for _, p := range pods {
				if err := r.DeletePod(context.Background(), p.Namespace, p.Name, api.DeleteOptions{}); err != nil {
					t.Errorf("failed to delete pod %s left by the test: %v", p.Name, err)
				}
			}
		}
		r.Close()
		if l, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil && !strings.Contains(string(l), "Cannot find") {
			t.Logf("ip link del %s: %s", bridge, l)
		}
	})
	f, err := os.Open(h.archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := r.LoadImage(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return r
}

// runtimeSeq numbers the test runtimes of this process.
var runtimeSeq atomic.Int32

// testSubnet picks a 10.236.x.0/24 for the n-th runtime of this process
// that no interface of the host is on (the x from the process ID, so that
// test processes side by side differ).
func testSubnet(n int) string {
	used := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				used[ipn.IP.Mask(net.CIDRMask(24, 32)).String()] = true
			}
		}
	}
	for i := range 250 {
		x := (os.Getpid()*7+n+i)%250 + 1
		if !used[fmt.Sprintf("10.236.%d.0", x)] {
			return fmt.Sprintf("10.236.%d.0/24", x)
		}
	}
	return fmt.Sprintf("10.236.%d.0/24", n%250+1)
}

// admitted is pod as the API hands it to the runtime: defaulted (the API
// validates it too).
func admitted(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	manifest.DefaultPod(p)
	return p
}

func testPod(name string, cmds ...[]string) *corev1.Pod {
	grace := int64(0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &grace},
	}
	for i, c := range cmds {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name: fmt.Sprintf("c%d", i), Image: "docker.io/library/busybox:1.36", Command: c,
		})
	}
	return p
}

func TestRunExecLogsDelete(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtime(t, nil)
	ctx := context.Background()
	pod, err := r.CreatePod(ctx, admitted(testPod("rt", []string{"sh", "-c", "echo started; exec sleep 3600"}, []string{"sleep", "3600"})), api.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
		t.Fatalf("phase %s ip %q", pod.Status.Phase, pod.Status.PodIP)
	}
	var out strings.Builder
	code, err := r.Exec(ctx, "default", "rt", api.ExecOptions{Container: "c1", Command: []string{"sh", "-c", "hostname; exit 3"}}, api.ExecIO{Stdout: &out, Stderr: &out})
	if err != nil || code != 3 || strings.TrimSpace(out.String()) != "rt" {
		t.Fatalf("exec: code %d err %v out %q", code, err, out.String())
	}
	var catOut strings.Builder
	code, err = r.Exec(ctx, "default", "rt", api.ExecOptions{Container: "c1", Command: []string{"cat"}, Stdin: true},
		api.ExecIO{Stdin: strings.NewReader("through stdin\n"), Stdout: &catOut, Stderr: &catOut})
	if err != nil || code != 0 || catOut.String() != "through stdin\n" {
		t.Fatalf("exec cat with stdin: code %d err %v out %q", code, err, catOut.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var logs strings.Builder
		if err := r.Logs(ctx, "default", "rt", api.LogOptions{Container: "c0"}, &logs); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks the container's output: %q", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := r.CreatePod(ctx, admitted(testPod("rt", []string{"true"})), api.CreateOptions{}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create of the same name: %v", err)
	}
	if err := r.DeletePod(ctx, "default", "rt", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetPod(ctx, "default", "rt"); !errdefs.IsNotFound(err) {
		t.Fatalf("pod still there: %v", err)
	}
	assertEmpty(t, r)
}

// TestRollbackAtEveryStep fails a creation at each apply step, as
// podSteps lists them, each on a runtime of its own, and requires that the
// step is named and that nothing is left.
func TestRollbackAtEveryStep(t *testing.T) {
	h := newHostEnv(t)
	for _, step := range ApplySteps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			r := h.runtimeWith(t, Config{Fault: func(s string) error {
				if s == step {
					return fmt.Errorf("injected failure at %s", s)
				}
				return nil
			}})
			p := testPod("fail", []string{"sleep", "3600"}, []string{"sleep", "3600"})
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "docker.io/library/busybox:1.36", Command: []string{"true"}}}
			p.Spec.Volumes = []corev1.Volume{{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "mem", MountPath: "/mem"}}
			_, err := r.CreatePod(context.Background(), admitted(p), api.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("step %q failed", step)) {
				t.Fatalf("want the step named, got %v", err)
			}
			assertEmpty(t, r)
		})
	}
}

// TestTeardownAtEveryStep leaves a pod at each step of its creation, as a
// daemon killed right after the step leaves it, and tears it down from its
// record on disk alone, as the daemon's start-up does; the creation's
// rollback, run afterwards, must then find nothing it cannot undo. From the
// start step on, containers run and are supervised: the end-to-end crash
// tests kill a real daemon there.
func TestTeardownAtEveryStep(t *testing.T) {
	h := newHostEnv(t)
	for _, step := range ApplySteps {
		if step == StepImages {
			continue // nothing is created yet, not even the record
		}
		if step == StepStart {
			break
		}
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			var r *Runtime
			var torn []error
			r = h.runtimeWith(t, Config{Fault: func(s string) error {
				if s != step {
					return nil
				}
				ipGlob := filepath.Join(r.cfg.Root, "cni", "networks", r.cfg.NetworkName, "10.*")
				if step == StepVolumes || step == StepPodFiles {
					// CNI ADD runs in the background there: a daemon
					// killed then leaves the IP it allocates.
					deadline := time.Now().Add(30 * time.Second)
					for ips, _ := filepath.Glob(ipGlob); len(ips) == 0; ips, _ = filepath.Glob(ipGlob) {
						if time.Now().After(deadline) {
							return fmt.Errorf("no IP allocated within 30s")
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				recs, bad := r.records.list()
				if len(recs) != 1 || len(bad) != 0 {
					return fmt.Errorf("want one pod record on disk, got %d (%v)", len(recs), bad)
				}
				torn = append(torn, r.teardown(context.Background(), recs[0], 0))
				// The teardown alone left nothing: no resource, no pod
				// directory, no IP reserved.
				left := leftovers(t, r)
				if entries, _ := os.ReadDir(r.records.dir); len(entries) != 0 {
					left = append(left, fmt.Sprintf("pod directories left: %d", len(entries)))
				}
				if ips, _ := filepath.Glob(ipGlob); len(ips) != 0 {
					left = append(left, fmt.Sprintf("IPs reserved: %v", ips))
				}
				for _, l := range left {
					t.Errorf("after the teardown of the pod left at %q: %s", step, l)
				}
				return fmt.Errorf("injected failure at %s", s)
			}})
			p := testPod("half", []string{"sleep", "3600"}, []string{"sleep", "3600"})
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "docker.io/library/busybox:1.36", Command: []string{"true"}}}
			p.Spec.Volumes = []corev1.Volume{{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "mem", MountPath: "/mem"}}
			_, err := r.CreatePod(context.Background(), admitted(p), api.CreateOptions{})
			if len(torn) != 1 || torn[0] != nil {
				t.Fatalf("teardown of the pod left at %q: %v", step, torn)
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("step %q failed", step)) || strings.Contains(err.Error(), "rollback incomplete") {
				t.Fatalf("want the step named and a complete rollback after the teardown, got %v", err)
			}
			assertEmpty(t, r)
		})
	}
}

func TestRollbackWhenCNIAddFails(t *testing.T) {
	h := newHostEnv(t)
	fake := &cnitest.Fake{FailAdd: fmt.Errorf("injected ADD failure")}
	r := h.runtime(t, fake)
	_, err := r.CreatePod(context.Background(), admitted(testPod("cni", []string{"sleep", "60"})), api.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), `step "CNI ADD" failed`) {
		t.Fatalf("want the CNI step named, got %v", err)
	}
	added, removed := fake.Calls()
	if len(added) != 1 || len(removed) != 1 {
		t.Fatalf("CNI ADD %v, DEL %v: a failed ADD must be followed by a DEL", added, removed)
	}
	assertEmpty(t, r)
}

// assertEmpty requires that no pod resource is left: containers, netns,
// pod directories, mounts.
func assertEmpty(t *testing.T, r *Runtime) {
	t.Helper()
	for _, left := range leftovers(t, r) {
		t.Error(left)
	}
	if len(r.pods) != 0 {
		t.Errorf("pods still known: %d", len(r.pods))
	}
}

// leftovers lists the pod resources the runtime's host holds: containers,
// tasks, netns, mounts, log directories.
func leftovers(t *testing.T, r *Runtime) []string {
	t.Helper()
	var out []string
	ctx := r.nsctx(context.Background())
	cs, err := r.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		out = append(out, fmt.Sprintf("%d containers left", len(cs)))
	}
	// Tasks as containerd lists them: one whose container is gone counts.
	resp, err := r.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range resp.Tasks {
		out = append(out, fmt.Sprintf("task %s left (pid %d, %s)", x.ID, x.Pid, x.Status))
	}
	if nss, _ := netns.ListIn(r.cfg.NetNSDir, NetNSPrefix); len(nss) != 0 {
		out = append(out, fmt.Sprintf("network namespaces left: %v", nss))
	}
	if mounts, _ := volumes.MountsUnder(r.cfg.Root); len(mounts) != 0 {
		out = append(out, fmt.Sprintf("mounts left: %v", mounts))
	}
	if entries, _ := os.ReadDir(filepath.Join(r.cfg.Root, "logs")); len(entries) != 0 {
		out = append(out, fmt.Sprintf("log directories left: %d", len(entries)))
	}
	return out
}

func TestRestartPolicies(t *testing.T) {
	h := newHostEnv(t)
	r := h.runtimeWith(t, Config{RestartBackOff: 200 * time.Millisecond})
	ctx := context.Background()
	waitFor := func(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			p, err := r.GetPod(ctx, "default", name)
			if err != nil {
				t.Fatal(err)
			}
			if cond(p) {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: timed out waiting for %s; status %+v", name, what, p.Status.ContainerStatuses)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Always: a crashing container is restarted with back-off; its last
	// termination and the previous run's log are kept.
	crash := testPod("crash", []string{"sh", "-c", "echo run; exit 3"})
	if _, err := r.CreatePod(ctx, admitted(crash), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitFor("crash", "two restarts", func(p *corev1.Pod) bool { return p.Status.ContainerStatuses[0].RestartCount >= 2 })
	cs := p.Status.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 || last.Reason != "Error" {
		t.Fatalf("lastState %+v", cs.LastTerminationState)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("a restarting pod is %s, want Running", p.Status.Phase)
	}
	waitFor("crash", "CrashLoopBackOff", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	var prev strings.Builder
	if err := r.Logs(ctx, "default", "crash", api.LogOptions{Previous: true}, &prev); err != nil || !strings.Contains(prev.String(), "run") {
		t.Fatalf("previous log %q, %v", prev.String(), err)
	}
	if err := r.DeletePod(ctx, "default", "crash", api.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// OnFailure: exit 0 is not restarted, and the pod Succeeded.
	ok := testPod("ok", []string{"true"})
	ok.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	if _, err := r.CreatePod(ctx, admitted(ok), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitFor("ok", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("exit 0 under OnFailure restarted %d times", p.Status.ContainerStatuses[0].RestartCount)
	}
	// Never: a failure stays failed.
	fail := testPod("fail", []string{"sh", "-c", "exit 2"})
	fail.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := r.CreatePod(ctx, admitted(fail), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitFor("fail", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 2 {
		t.Fatalf("state %+v", p.Status.ContainerStatuses[0].State)
	}
	for _, n := range []string{"ok", "fail"} {
		if err := r.DeletePod(ctx, "default", n, api.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	assertEmpty(t, r)
}

func TestNextBackOff(t *testing.T) {
	base, max := 10*time.Second, 5*time.Minute
	cases := []struct {
		last, ran time.Duration
		restarts  int32
		want      time.Duration
	}{
		{0, time.Second, 0, 0},
		{0, time.Second, 1, 10 * time.Second},
		{10 * time.Second, time.Second, 2, 20 * time.Second},
		{160 * time.Second, time.Second, 6, 5 * time.Minute},
		{5 * time.Minute, time.Second, 9, 5 * time.Minute},
		{5 * time.Minute, 11 * time.Minute, 9, 0},
	}
	for _, c := range cases {
		if got := nextBackOff(c.last, c.ran, base, max, c.restarts); got != c.want {
			t.Errorf("nextBackOff(%s, ran %s, restarts %d) = %s, want %s", c.last, c.ran, c.restarts, got, c.want)
		}
	}
}

// TestNoRestartBehindTeardown deletes, and rolls back, pods whose
// containers crash and are restarted without pause: a restart under way
// when the teardown begins must finish before it, and none may begin after,
// or a task would be created behind the teardown's back (left in the shim,
// its pod cgroup busy, the delete failing).
func TestNoRestartBehindTeardown(t *testing.T) {
	h := newHostEnv(t)
	var fault atomic.Pointer[func(string) error]
	r := h.runtimeWith(t, Config{RestartBackOff: time.Millisecond, Fault: func(s string) error {
		if f := fault.Load(); f != nil {
			return (*f)(s)
		}
		return nil
	}})
	ctx := context.Background()

	// A rollback: the start step fails once the containers are restarting.
	for i := range 3 {
		name := fmt.Sprintf("rollback-%d", i)
		failAt := func(s string) error {
			if s != StepStart {
				return nil
			}
			// The second run of a container logs to 1.log.
			deadline := time.Now().Add(20 * time.Second)
			for {
				if logs, _ := filepath.Glob(filepath.Join(r.cfg.Root, "logs", "*"+name+"*", "*", "1.log")); len(logs) > 0 {
					return fmt.Errorf("injected failure at %s", s)
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("no container of %s restarted within 20s", name)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		fault.Store(&failAt)
		_, err := r.CreatePod(ctx, admitted(testPod(name, []string{"sh", "-c", "exit 1"}, []string{"sh", "-c", "exit 1"})), api.CreateOptions{})
		fault.Store(nil)
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("create of %s: %v, want the injected failure", name, err)
		}
		if strings.Contains(err.Error(), "rollback incomplete") {
			t.Fatalf("rollback of %s while it restarts: %v", name, err)
		}
	}
	assertEmpty(t, r)

	// A delete.
	for i := range 5 {
		name := fmt.Sprintf("crashloop-%d", i)
		pod := testPod(name, []string{"sh", "-c", "exit 1"}, []string{"sh", "-c", "exit 1"})
		created, err := r.CreatePod(ctx, admitted(pod), api.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			p, err := r.GetPod(ctx, "default", name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status.ContainerStatuses[0].RestartCount >= 3 && p.Status.ContainerStatuses[1].RestartCount >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: timed out waiting for three restarts of each container; status %+v", name, p.Status.ContainerStatuses)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := r.DeletePod(ctx, "default", name, api.DeleteOptions{}); err != nil {
			t.Fatalf("delete of %s while it restarts: %v", name, err)
		}
		if dirs := podCgroupDirs(string(created.UID)); len(dirs) != 0 {
			t.Errorf("pod cgroups of %s left: %v", name, dirs)
		}
	}
	assertEmpty(t, r)
}
