package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/volumes"
)

// survivorPod logs a numbered line every 100ms, has a container that exits
// every second (restartPolicy Always: restarts count up), a sleeping one
// for exec, and a tmpfs and a directory volume.
const survivorPod = `apiVersion: v1
kind: Pod
metadata:
  name: survivor
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: logger
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.1; done"]
    volumeMounts: [{name: mem, mountPath: /mem}]
  - name: shell
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: data, mountPath: /data}, {name: mem, mountPath: /mem}]
  - name: blinker
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "sleep 1; exit 3"]
  volumes:
  - name: data
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory}
`

// logLines is how many lines the logger container has written.
func (e *env) logLines(t *testing.T, pod string) int {
	t.Helper()
	out, _, code := e.run("logs", pod, "-c", "logger")
	if code != 0 {
		return -1
	}
	return strings.Count(out, "line-")
}

func (e *env) restarts(t *testing.T, pod, container string) int32 {
	t.Helper()
	cs := containerStatus(e.pod(pod), container)
	if cs.Name == "" {
		return -1
	}
	return cs.RestartCount
}

// proveAlive checks everything a pod offers after an outage: Running,
// exec, logs growing, restarts counting up.
func (e *env) proveAlive(t *testing.T, pod string) {
	t.Helper()
	e.podWorks(t, pod, "shell")
	n := e.logLines(t, pod)
	eventually(t, 20*time.Second, "the logs to keep growing", func() bool { return e.logLines(t, pod) > n+5 })
	r := e.restarts(t, pod, "blinker")
	eventually(t, 30*time.Second, "the crashing container to be restarted again", func() bool { return e.restarts(t, pod, "blinker") > r })
	if out, code := e.exec(pod, "shell", "sh", "-c", "echo kept > /data/f && cat /data/f"); code != 0 || strings.TrimSpace(out) != "kept" {
		t.Fatalf("exec after the outage: %q (exit %d)", out, code)
	}
}

// TestDaemonRestart: pods outlive a daemon stopped with SIGTERM and one
// killed with SIGKILL; their logs keep flowing while no daemon runs.
func TestDaemonRestart(t *testing.T) {
	e := newEnv(t, withDaemonArgs("--restart-backoff", "100ms"))
	e.apply(survivorPod)
	e.proveAlive(t, "survivor")
	cases := 0
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		n := e.logLines(t, "survivor")
		if how == "SIGTERM" {
			e.stop()
		} else {
			e.kill()
		}
		// No daemon: the shim's log driver keeps writing.
		logFile := e.logFile(t, "survivor", "logger")
		size := fileSize(logFile)
		eventually(t, 10*time.Second, "the log file to grow without a daemon", func() bool { return fileSize(logFile) > size+100 })
		e.start()
		if got := e.logLines(t, "survivor"); got <= n {
			t.Fatalf("after %s: %d log lines, had %d", how, got, n)
		}
		e.proveAlive(t, "survivor")
		cases++
	}
	e.mustRun("delete", "pod", "survivor")
	e.podGone(t, "survivor")
	report(t, "daemon restarts", cases, 2, e.reportLeaks())
}

func (e *env) logFile(t *testing.T, pod, container string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.root, "logs", "default_"+pod+"_*", container, "*.log"))
	if len(m) == 0 {
		t.Fatalf("no log file of %s/%s", pod, container)
	}
	return m[len(m)-1]
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// reportLeaks names what the env's pods left behind, as a test error, and
// counts it.
func (e *env) reportLeaks() int {
	e.t.Helper()
	bad := e.leaked()
	if len(bad) > 0 {
		e.t.Errorf("left behind: %s", strings.Join(bad, ", "))
	}
	return len(bad)
}

// report prints a figure: "<what>: N survived of M, leaks L", and fails
// the test unless all survived with no leak.
func report(t *testing.T, what string, survived, total, leaks int) {
	t.Helper()
	t.Logf("%s: %d survived of %d, leaks %d", what, survived, total, leaks)
	figure(fmt.Sprintf("%s: %d survived of %d, leaks %d", what, survived, total, leaks))
	if survived != total || leaks != 0 {
		t.Errorf("%s: %d survived of %d, leaks %d", what, survived, total, leaks)
	}
}

// privateContainerd starts a containerd of the test's own and points the
// suite (and so the env's daemon and leak checker) at it until the test
// ends. Call it before newEnv.
func privateContainerd(t *testing.T) string {
	t.Helper()
	requireSuite(t)
	dir, err := os.MkdirTemp("", "minipod-e2e-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	startContainerd(t, dir)
	prev := suite.containerd
	suite.containerd = filepath.Join(dir, "containerd.sock")
	t.Cleanup(func() {
		suite.containerd = prev
		script := filepath.Join(suite.repo, "scripts/testenv.sh")
		if out, err := exec.Command("bash", script, "stop-containerd", dir).CombinedOutput(); err != nil {
			t.Errorf("failed to stop containerd: %v\n%s", err, out)
		}
		killShims(dir)
		unmountUnder(dir)
		os.RemoveAll(dir)
	})
	return dir
}

func startContainerd(t *testing.T, dir string) {
	t.Helper()
	script := filepath.Join(suite.repo, "scripts/testenv.sh")
	if out, err := exec.Command("bash", script, "start-containerd", dir).CombinedOutput(); err != nil {
		t.Fatalf("failed to start containerd: %v\n%s", err, out)
	}
}

// killContainerd SIGKILLs the test's containerd by its pid and waits for
// it to be gone.
func killContainerd(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("bad containerd pid file: %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "containerd to die", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err != nil
	})
	os.Remove(filepath.Join(dir, "containerd.pid"))
}

// killShims kills the shims serving the containerd in dir.
func killShims(dir string) {
	for _, sh := range shimsOf(filepath.Join(dir, "containerd.sock")) {
		_ = syscall.Kill(sh.pid, syscall.SIGKILL)
	}
}

// TestContainerdRestart: containerd is killed under running pods and
// started again; the daemon (left running) reconnects, the pods run on,
// exits are seen again (restarts count up) and delete works.
func TestContainerdRestart(t *testing.T) {
	dir := privateContainerd(t)
	e := newEnv(t, withDaemonArgs("--restart-backoff", "100ms"))
	e.apply(survivorPod)
	e.proveAlive(t, "survivor")
	rounds := 0
	for i := 0; i < 2; i++ {
		killContainerd(t, dir)
		// The pod's containers run on under their shims; logs flow.
		logFile := e.logFile(t, "survivor", "logger")
		size := fileSize(logFile)
		eventually(t, 10*time.Second, "logs to flow without containerd", func() bool { return fileSize(logFile) > size+100 })
		// The daemon still answers, from what it knows.
		e.mustRun("get", "pods")
		startContainerd(t, dir)
		e.proveAlive(t, "survivor")
		rounds++
	}
	e.mustRun("delete", "pod", "survivor")
	e.podGone(t, "survivor")
	report(t, "containerd restarts", rounds, 2, e.reportLeaks())
}

// TestHostReboot simulates a reboot under a pod: the daemon stopped, every
// container process, shim and containerd killed, the pod's network
// namespace and mounts gone; the records stay. A new daemon reports the pod
// and deletes it, and nothing is left.
func TestHostReboot(t *testing.T) {
	dir := privateContainerd(t)
	e := newEnv(t)
	e.apply(survivorPod)
	e.podWorks(t, "survivor", "shell")
	e.stop()

	// Power off: the containers' processes, the shims, containerd.
	c, err := containerd.New(suite.containerd)
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), e.ns)
	cs, _ := c.Containers(ctx)
	for _, x := range cs {
		if task, err := x.Task(ctx, nil); err == nil && task.Pid() > 1 {
			_ = syscall.Kill(int(task.Pid()), syscall.SIGKILL)
		}
	}
	c.Close()
	killShims(dir)
	killContainerd(t, dir)
	// /run is empty after a reboot: the pinned network namespaces are gone,
	// and so are the tmpfs and bind mounts under the state root.
	for uid := range e.pods.all() {
		p := filepath.Join(e.netnsDir, "minipod-"+uid)
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
		_ = os.Remove(p)
	}
	mounts, _ := volumes.MountsUnder(e.root)
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}

	// Power on.
	startContainerd(t, dir)
	e.start()
	out := e.mustRun("get", "pods")
	if !strings.Contains(out, "survivor") {
		t.Fatalf("the pod is not reported after the reboot:\n%s", out)
	}
	e.mustRun("describe", "pod", "survivor")
	e.mustRun("delete", "pod", "survivor", "--now")
	e.podGone(t, "survivor")
	survived := 0
	if !t.Failed() {
		survived = 1
	}
	report(t, "host reboot", survived, 1, e.reportLeaks())
}

// figure prints one line of the reliability figures to stdout and, when
// MINIPOD_FIGURES names a file (scripts/test.sh sets it), appends it there
// for the summary.
func figure(line string) {
	fmt.Println(line)
	if p := os.Getenv("MINIPOD_FIGURES"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}

// TestDaemonRestartCrashLoop: containers that were not running when the
// daemon stopped (one in CrashLoopBackOff, one whose task could not be
// started) are restarted after it comes back, as their restartPolicy says,
// and count their restarts on from where they were, each run in a log file
// of its own.
func TestDaemonRestartCrashLoop(t *testing.T) {
	// A long back-off: the daemon stops while the containers wait.
	e := newEnv(t, withDaemonArgs("--restart-backoff", "2s"))
	out, errs, code := e.run("run", e.writeFile("pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: loops}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: crash
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo run; exit 3"]
  - name: nocmd
    image: docker.io/library/busybox:1.36
    command: ["/no/such/command"]
`))
	if code == 0 {
		t.Fatalf("run succeeded for a container that cannot start:\n%s%s", out, errs)
	}
	waiting := func(name string) (int32, bool) {
		cs := containerStatus(e.pod("loops"), name)
		return cs.RestartCount, cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	}
	eventually(t, 30*time.Second, "both containers in CrashLoopBackOff", func() bool {
		n1, w1 := waiting("crash")
		n2, w2 := waiting("nocmd")
		return n1 >= 1 && w1 && n2 >= 1 && w2
	})
	before := map[string]int32{}
	for _, c := range []string{"crash", "nocmd"} {
		before[c], _ = waiting(c)
	}
	e.stop()
	e.start()
	p := e.pod("loops")
	for _, c := range []string{"crash", "nocmd"} {
		if got := containerStatus(p, c).RestartCount; got < before[c] {
			t.Errorf("%s: restartCount %d after the daemon restart, was %d", c, got, before[c])
		}
	}
	eventually(t, 30*time.Second, "both containers restarted after the daemon restart", func() bool {
		p := e.pod("loops")
		return containerStatus(p, "crash").RestartCount > before["crash"] && containerStatus(p, "nocmd").RestartCount > before["nocmd"]
	})
	// One run per log file: no file holds two runs of crash.
	logs, _ := filepath.Glob(filepath.Join(e.root, "logs", "default_loops_*", "crash", "*.log"))
	if len(logs) < 2 {
		t.Fatalf("log files of crash: %v", logs)
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if n := strings.Count(string(b), " run\n"); n > 1 {
			t.Errorf("%s holds %d runs", l, n)
		}
	}
	e.mustRun("delete", "pod", "loops")
	e.assertNoLeaks()
}

// keeperPod has a container that exits with 3 when the test says so (a
// file in a shared emptyDir), each run logging a line of its own; a native
// sidecar whose readiness the test switches with another file; and a
// shell for exec.
const keeperPod = `apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: side
    image: docker.io/library/busybox:1.36
    restartPolicy: Always
    command: ["sleep", "3600"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    readinessProbe:
      exec: {command: ["test", "-e", "/ctl/ready"]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 1
  containers:
  - name: crash
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid); while [ ! -e /ctl/crash ]; do sleep 0.1; done; rm /ctl/crash; exit 3"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  - name: shell
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  volumes:
  - name: ctl
    emptyDir: {}
`

// keeperRun is what the test knows of crash's current run: its status and
// its logs.
type keeperRun struct {
	restarts   int32
	startedAt  time.Time
	lastCode   int32
	lastFinish time.Time
	logs, prev string
}

func (e *env) keeperRun(t *testing.T) keeperRun {
	t.Helper()
	cs := containerStatus(e.pod("keeper"), "crash")
	if cs.State.Running == nil {
		t.Fatalf("crash is not running: %+v", cs.State)
	}
	k := keeperRun{restarts: cs.RestartCount, startedAt: cs.State.Running.StartedAt.Time}
	if last := cs.LastTerminationState.Terminated; last != nil {
		k.lastCode, k.lastFinish = last.ExitCode, last.FinishedAt.Time
	}
	k.logs = e.mustRun("logs", "keeper", "-c", "crash")
	if k.restarts > 0 {
		k.prev = e.mustRun("logs", "keeper", "-c", "crash", "--previous")
	}
	return k
}

// crashKeeper makes crash exit and waits for its next run to log.
func (e *env) crashKeeper(t *testing.T) keeperRun {
	t.Helper()
	n := e.restarts(t, "keeper", "crash")
	if out, code := e.exec("keeper", "shell", "touch", "/ctl/crash"); code != 0 {
		t.Fatalf("touch /ctl/crash: %s", out)
	}
	eventually(t, 30*time.Second, "crash to run again", func() bool {
		cs := containerStatus(e.pod("keeper"), "crash")
		if cs.RestartCount != n+1 || cs.State.Running == nil {
			return false
		}
		out, _, _ := e.run("logs", "keeper", "-c", "crash")
		return strings.HasPrefix(out, "run-")
	})
	return e.keeperRun(t)
}

func (e *env) sidecarReady(t *testing.T) bool {
	t.Helper()
	return containerStatus(e.pod("keeper"), "side").Ready
}

// TestDaemonRestartKeepsState: a daemon restart keeps, exactly, what a
// container's status and logs said: the restart count, the last state's
// exit code and finish time, the current run's start, the current run's
// log and the previous run's; the next run writes a new log file and
// counts on by one; a native sidecar's readiness probe still runs; the
// pod's events are still listed.
func TestDaemonRestartKeepsState(t *testing.T) {
	e := newEnv(t, withDaemonArgs("--restart-backoff", "100ms"))
	e.apply(keeperPod)
	e.crashKeeper(t)
	before := e.crashKeeper(t)
	if before.restarts != 2 || before.lastCode != 3 || strings.Count(before.logs, "run-") != 1 || strings.Count(before.prev, "run-") != 1 || before.logs == before.prev {
		t.Fatalf("before the daemon restart: %+v", before)
	}
	if out, code := e.exec("keeper", "shell", "touch", "/ctl/ready"); code != 0 {
		t.Fatalf("touch /ctl/ready: %s", out)
	}
	eventually(t, 20*time.Second, "the sidecar to be ready", func() bool { return e.sidecarReady(t) })
	eventsBefore := e.mustRun("events", "keeper")
	for _, want := range []string{"Started", "BackOff"} {
		if !strings.Contains(eventsBefore, want) {
			t.Fatalf("events before the daemon restart lack %s:\n%s", want, eventsBefore)
		}
	}

	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		if how == "SIGTERM" {
			e.stop()
		} else {
			e.kill()
		}
		e.start()
		after := e.keeperRun(t)
		if after.restarts != before.restarts {
			t.Errorf("after %s: restartCount %d, was %d", how, after.restarts, before.restarts)
		}
		if after.lastCode != before.lastCode || !after.lastFinish.Equal(before.lastFinish) {
			t.Errorf("after %s: last state exit %d finished %v, was exit %d finished %v", how, after.lastCode, after.lastFinish, before.lastCode, before.lastFinish)
		}
		if !after.startedAt.Equal(before.startedAt) {
			t.Errorf("after %s: running since %v, was since %v", how, after.startedAt, before.startedAt)
		}
		if after.logs != before.logs {
			t.Errorf("after %s: logs %q, were %q", how, after.logs, before.logs)
		}
		if after.prev != before.prev {
			t.Errorf("after %s: logs --previous %q, were %q", how, after.prev, before.prev)
		}
		if !e.sidecarReady(t) {
			t.Errorf("after %s: the sidecar is not ready", how)
		}
		events := e.mustRun("events", "keeper")
		for _, want := range []string{"Started", "BackOff"} {
			if !strings.Contains(events, want) {
				t.Errorf("after %s: events lack %s:\n%s", how, want, events)
			}
		}
	}

	// The sidecar's readiness probe still runs.
	if out, code := e.exec("keeper", "shell", "rm", "/ctl/ready"); code != 0 {
		t.Fatalf("rm /ctl/ready: %s", out)
	}
	eventually(t, 20*time.Second, "the sidecar's readiness to follow its probe after the daemon restart", func() bool { return !e.sidecarReady(t) })

	// The next run counts on by one, in a new log file.
	files, _ := filepath.Glob(filepath.Join(e.root, "logs", "default_keeper_*", "crash", "*.log"))
	next := e.crashKeeper(t)
	if next.restarts != before.restarts+1 || next.lastCode != 3 || !next.lastFinish.After(before.lastFinish) {
		t.Errorf("the run after the daemon restart: %+v, before it %+v", next, before)
	}
	if next.prev != before.logs || next.logs == before.logs || strings.Count(next.logs, "run-") != 1 {
		t.Errorf("the run after the daemon restart: logs %q, --previous %q; the run before logged %q", next.logs, next.prev, before.logs)
	}
	filesNow, _ := filepath.Glob(filepath.Join(e.root, "logs", "default_keeper_*", "crash", "*.log"))
	if len(filesNow) != len(files)+1 {
		t.Errorf("log files %v, were %v: the new run has no file of its own", filesNow, files)
	}
	for _, l := range filesNow {
		b, _ := os.ReadFile(l)
		if n := strings.Count(string(b), " run-"); n != 1 {
			t.Errorf("%s holds %d runs", l, n)
		}
	}
	e.mustRun("delete", "pod", "keeper")
	e.assertNoLeaks()

	// A deleted pod's events outlive a daemon restart too.
	e.stop()
	e.start()
	if out, errs, code := e.run("events", "keeper"); code != 0 || !strings.Contains(out, "Started") || !strings.Contains(out, "BackOff") {
		t.Errorf("events of the deleted pod after a daemon restart: exit %d\n%s%s", code, out, errs)
	}
}

// TestDaemonRestartKeepsBackOff: a container in CrashLoopBackOff when the
// daemon restarts is still in it after, with the same restart count, last
// state and back-off, and is restarted once what was left of its back-off
// has passed, not at once; its next back-off doubles the one before.
func TestDaemonRestartKeepsBackOff(t *testing.T) {
	e := newEnv(t, withDaemonArgs("--restart-backoff", "20s"))
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: backoff}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: crash
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "sleep 1; exit 3"]
`)
	// The first exit restarts at once, the second waits 20s.
	var before corev1.ContainerStatus
	eventually(t, 30*time.Second, "CrashLoopBackOff after the second exit", func() bool {
		before = containerStatus(e.pod("backoff"), "crash")
		return before.RestartCount == 1 && before.State.Waiting != nil && before.State.Waiting.Reason == "CrashLoopBackOff"
	})
	if !strings.Contains(before.State.Waiting.Message, "back-off 20s") || before.LastTerminationState.Terminated == nil {
		t.Fatalf("before the daemon restart: %+v", before)
	}
	e.stop()
	e.start()
	after := containerStatus(e.pod("backoff"), "crash")
	if after.RestartCount != 1 || after.State.Waiting == nil || after.State.Waiting.Reason != "CrashLoopBackOff" || after.State.Waiting.Message != before.State.Waiting.Message {
		t.Fatalf("after the daemon restart: restartCount %d state %+v; before: %d %+v", after.RestartCount, after.State, before.RestartCount, before.State)
	}
	last, was := after.LastTerminationState.Terminated, before.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 3 || !last.FinishedAt.Equal(&was.FinishedAt) || !last.StartedAt.Equal(&was.StartedAt) {
		t.Fatalf("last state after the daemon restart: %+v, before: %+v", last, was)
	}
	eventually(t, 45*time.Second, "the restart once the back-off has passed", func() bool {
		return containerStatus(e.pod("backoff"), "crash").RestartCount == 2
	})
	if since := time.Since(was.FinishedAt.Time); since < 19*time.Second {
		t.Errorf("restarted %v after the exit, within its 20s back-off", since)
	}
	eventually(t, 30*time.Second, "the next back-off", func() bool {
		cs := containerStatus(e.pod("backoff"), "crash")
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	})
	if cs := containerStatus(e.pod("backoff"), "crash"); !strings.Contains(cs.State.Waiting.Message, "back-off 40s") {
		t.Errorf("the back-off after the daemon restart: %q, want it doubled to 40s", cs.State.Waiting.Message)
	}
	e.mustRun("delete", "pod", "backoff")
	e.assertNoLeaks()
}
