package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/volumes"
)

var envSeq atomic.Int32

// env is one test's own minipod: state root, socket, containerd namespace,
// CNI network, bridge and subnet, so that tests never touch each other's
// pods or a user's.
type env struct {
	t *testing.T
	// dir holds the env's state root and its daemon's log.
	dir     string
	root    string
	socket  string
	ns      string
	network string
	bridge  string
	subnet  string
	// netnsDir pins this env's pod network namespaces, apart from any
	// other daemon's on the host.
	netnsDir string
	// secretDir is the daemon's --secret-dir, on which it mounts a tmpfs.
	secretDir string
	daemon    *exec.Cmd
	exited    chan error
	// unregister removes the daemon's record for the reaper (startReaper).
	unregister func()
	extra      []string
	before     leaks
	// pods are the UIDs of the pods this env's daemon creates; the leak
	// checker counts host-global things (network namespaces, pod cgroups)
	// only when they are these pods'.
	pods *podTracker
}

type envOption func(*env)

// withSecretDir gives the daemon this --secret-dir instead of the env's
// own; the env unmounts it at the end and removes it when empty, and the
// test removes the rest.
func withSecretDir(dir string) envOption {
	return func(e *env) { e.secretDir = dir }
}

// withDaemonArgs adds flags to `minipod daemon`.
func withDaemonArgs(args ...string) envOption {
	return func(e *env) { e.extra = append(e.extra, args...) }
}

// newEnv starts a daemon of the test's own, loads the busybox image into
// it, and at the end checks that nothing is left behind and stops it.
func newEnv(t *testing.T, opts ...envOption) *env {
	requireSuite(t)
	n := envSeq.Add(1)
	id := fmt.Sprintf("%d%d", os.Getpid()%1000, n)
	// The state root is a new directory of the daemon's own: the daemon
	// refuses a root that holds anything else, even its log.
	dir, err := os.MkdirTemp("", "minipod-e2e-root-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	e := &env{
		t:       t,
		dir:     dir,
		root:    root,
		socket:  filepath.Join(dir, "minipod.sock"),
		ns:      "mpt-" + id,
		network: "mpt-" + id,
		bridge:  "mpt" + id,
		subnet:  freeSubnet(int(n)),
	}
	e.netnsDir = filepath.Join("/run/minipod-e2e", filepath.Base(dir), "netns")
	e.secretDir = filepath.Join(filepath.Dir(e.netnsDir), "secrets")
	for _, o := range opts {
		o(e)
	}
	e.before = e.snapshot()
	e.start()
	t.Cleanup(e.cleanup)
	e.pods = e.trackPods(t)
	e.mustRun("image", "load", suite.image)
	return e
}

func (e *env) start() {
	e.t.Helper()
	args := []string{"daemon", "--root", e.root, "--socket", e.socket,
		"--containerd-address", suite.containerd, "--containerd-namespace", e.ns,
		"--network", e.network, "--bridge", e.bridge, "--subnet", e.subnet, "--netns-dir", e.netnsDir,
		"--secret-dir", e.secretDir,
		"--restart-backoff", "200ms", "--log-level", "debug"}
	if !hasFlag(e.extra, "--kube-api") {
		// The Kubernetes API on a free port of the env's own, never the
		// default 6443 that a user's daemon may hold.
		args = append(args, "--kube-api", "127.0.0.1:0")
	}
	args = append(args, e.extra...)
	cmd := exec.Command(suite.bin, args...)
	logf, err := os.OpenFile(e.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	logf.Close()
	e.daemon = cmd
	e.unregister = registerDaemon(filepath.Base(e.dir), cmd.Process.Pid, e.root)
	e.exited = make(chan error, 1)
	go func() { e.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", e.socket); err == nil {
			c.Close()
			// The socket listens before the runtime has made its state
			// root; the pod tracker watches <root>/pods.
			e.awaitPodsDir(deadline)
			return
		}
		select {
		case err := <-e.exited:
			e.t.Fatalf("daemon exited at start: %v\n%s", err, e.daemonLog())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("daemon did not listen within 30s\n%s", e.daemonLog())
		}
	}
}

// awaitPodsDir waits until the daemon has made <root>/pods, or has exited,
// or the deadline passes.
func (e *env) awaitPodsDir(deadline time.Time) {
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(e.root, "pods")); err == nil {
			return
		}
		select {
		case err := <-e.exited:
			e.exited <- err
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// stop ends the daemon by its pid (SIGTERM) and waits for it.
func (e *env) stop() {
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.exited
	}
	e.daemon = nil
	e.unregister()
}

// kill ends the daemon with SIGKILL, as a crash would.
func (e *env) kill() {
	_ = e.daemon.Process.Kill()
	<-e.exited
	e.daemon = nil
	e.unregister()
}

// logPath is the daemon's log file, beside its state root.
func (e *env) logPath() string { return filepath.Join(e.dir, "daemon.log") }

func (e *env) daemonLog() string {
	b, _ := os.ReadFile(e.logPath())
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

func (e *env) cleanup() {
	t := e.t
	ctx := context.Background()
	// Delete whatever pods the test left, then require a clean host.
	if e.daemon != nil {
		out, _, _ := e.run("get", "pods", "-o", "name")
		for _, l := range strings.Fields(out) {
			e.run("delete", "pod", strings.TrimPrefix(l, "pod/"), "--now")
		}
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", e.daemonLog())
	}
	if !t.Failed() {
		e.assertNoLeaks()
	}
	e.stop()
	// Remove the test's images and containerd namespace, its bridge, and
	// its state root.
	if c, err := containerd.New(suite.containerd); err == nil {
		nctx := namespaces.WithNamespace(ctx, e.ns)
		if imgs, err := c.ImageService().List(nctx); err == nil {
			for _, im := range imgs {
				_ = c.ImageService().Delete(nctx, im.Name, images.SynchronousDelete())
			}
		}
		if err := c.NamespaceService().Delete(ctx, e.ns); err != nil {
			t.Logf("failed to remove containerd namespace %s: %v", e.ns, err)
		}
		c.Close()
	}
	if l, err := netlink.LinkByName(e.bridge); err == nil {
		_ = netlink.LinkDel(l)
	}
	if mounts, _ := volumes.MountsUnder(e.root); len(mounts) > 0 {
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	// The netns directory is a shared bind mount of itself, as ip-netns
	// makes /run/netns.
	_ = syscall.Unmount(e.netnsDir, syscall.MNT_DETACH)
	// The daemon's secret tmpfs outlives it, by design.
	_ = syscall.Unmount(e.secretDir, syscall.MNT_DETACH)
	_ = os.Remove(e.secretDir) // a test's own --secret-dir: the test removes what holds it
	os.RemoveAll(filepath.Dir(e.netnsDir))
	_ = os.Remove(filepath.Dir(filepath.Dir(e.netnsDir))) // the last env's takes the parent
	os.RemoveAll(e.dir)
}

// run runs the minipod CLI against this env's daemon.
func (e *env) run(args ...string) (string, string, int) {
	return e.runStdin(nil, args...)
}

func (e *env) runStdin(stdin []byte, args ...string) (string, string, int) {
	cmd := exec.Command(suite.bin, args...)
	cmd.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("failed to run minipod %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("minipod %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// apply writes a manifest to a file and runs it.
func (e *env) apply(manifest string) string {
	e.t.Helper()
	return e.mustRun("run", e.writeFile("pod.yaml", manifest))
}

func (e *env) writeFile(name, content string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) pod(name string) *corev1.Pod {
	e.t.Helper()
	out := e.mustRun("get", "pod", name, "-o", "json")
	var p corev1.Pod
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		e.t.Fatalf("failed to decode pod %s: %v\n%s", name, err, out)
	}
	return &p
}

// exec runs a command in a container and returns its output.
func (e *env) exec(pod, container string, cmd ...string) (string, int) {
	e.t.Helper()
	args := append([]string{"exec", pod, "-c", container, "--"}, cmd...)
	out, errs, code := e.run(args...)
	return out + errs, code
}

// leaks is what a pod can leave on the host, as names.
type leaks map[string][]string

func (e *env) snapshot() leaks {
	l := leaks{}
	ctx := namespaces.WithNamespace(context.Background(), e.ns)
	if c, err := containerd.New(suite.containerd); err == nil {
		defer c.Close()
		cs, _ := c.Containers(ctx)
		for _, x := range cs {
			l["containers"] = append(l["containers"], x.ID())
		}
		// Tasks as containerd lists them: a task whose container record is
		// gone still counts.
		if resp, err := c.TaskService().List(ctx, &tasks.ListTasksRequest{}); err == nil {
			for _, x := range resp.Tasks {
				l["tasks"] = append(l["tasks"], x.ID)
			}
		}
		_ = c.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			if info.Kind != snapshots.KindCommitted {
				l["snapshots"] = append(l["snapshots"], info.Name)
			}
			return nil
		})
		// Leases, whoever made them (minipod's own, or containerd's
		// client's 24-hour ones), and the snapshots they hold: a lease
		// left by a kill keeps its snapshots from containerd's collector.
		ls := c.LeasesService()
		if all, err := ls.List(ctx); err == nil {
			for _, x := range all {
				l["leases"] = append(l["leases"], x.ID)
				res, _ := ls.ListResources(ctx, x)
				for _, r := range res {
					if strings.HasPrefix(r.Type, "snapshots/") {
						l["snapshots held by leases"] = append(l["snapshots held by leases"], r.ID)
					}
				}
			}
		}
	}
	l["shims"] = e.shims()
	l["log drivers"] = e.logDrivers()
	nss, _ := netns.ListIn(e.netnsDir, "minipod-")
	l["netns"] = nss
	if br, err := netlink.LinkByName(e.bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, x := range links {
			if x.Attrs().MasterIndex == br.Attrs().Index {
				l["veths"] = append(l["veths"], x.Attrs().Name)
			}
		}
	}
	ips, _ := netns.Reservations(filepath.Join(e.root, "cni", "networks"), e.network)
	l["ip reservations"] = ips
	mounts, _ := volumes.MountsUnder(e.root)
	l["mounts"] = mounts
	for _, pattern := range []string{"/sys/fs/cgroup/*/minipod/pod*", "/sys/fs/cgroup/minipod/pod*", "/sys/fs/cgroup/*/minipod/*/pod*", "/sys/fs/cgroup/minipod/*/pod*"} {
		dirs, _ := filepath.Glob(pattern)
		l["pod cgroups"] = append(l["pod cgroups"], dirs...)
	}
	pods, _ := os.ReadDir(filepath.Join(e.root, "pods"))
	for _, p := range pods {
		l["pod dirs"] = append(l["pod dirs"], p.Name())
	}
	for k := range l {
		sort.Strings(l[k])
	}
	return l
}

// shimProc is a containerd shim process.
type shimProc struct {
	pid           int
	namespace, id string
}

// shimsOf lists the shim processes serving the containerd at address.
func shimsOf(address string) []shimProc {
	var out []shimProc
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		flag := func(name string) string {
			for i := 0; i+1 < len(args); i++ {
				if args[i] == name {
					return args[i+1]
				}
			}
			return ""
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && flag("-address") == address {
			out = append(out, shimProc{pid: pid, namespace: flag("-namespace"), id: flag("-id")})
		}
	}
	return out
}

// shims lists the shim processes of the env's containerd namespace, as
// "pid id". A shim exits by itself once its last task is deleted.
func (e *env) shims() []string {
	var out []string
	for _, sh := range shimsOf(suite.containerd) {
		if sh.namespace == e.ns {
			out = append(out, fmt.Sprintf("%d %s", sh.pid, sh.id))
		}
	}
	return out
}

// logDrivers lists the log-driver processes writing under the env's state
// root (a shim runs one per container task), as "pid path".
func (e *env) logDrivers() []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		// minipod log-driver PATH [--max-size N] [--max-files N], in the
		// order containerd's shim gives them.
		if len(args) < 3 || !slices.Contains(args[1:], "log-driver") {
			continue
		}
		for _, a := range args[1:] {
			if strings.HasPrefix(a, e.root+"/") {
				out = append(out, filepath.Base(filepath.Dir(p))+" "+a)
				break
			}
		}
	}
	return out
}

// awaitShims gives the env's shims and log drivers a moment to exit after
// their last task was deleted (they do so asynchronously), so that a leak
// check does not count one on its way out.
func (e *env) awaitShims() {
	deadline := time.Now().Add(5 * time.Second)
	for (len(e.shims()) > len(e.before["shims"]) || len(e.logDrivers()) > 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// assertNoLeaks requires the host to be as the test found it.
func (e *env) assertNoLeaks() {
	e.t.Helper()
	if bad := e.leaked(); len(bad) > 0 {
		e.t.Errorf("left behind: %s", strings.Join(bad, ", "))
	}
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeSubnet picks a 10.234.x.0/24 that no interface of the host is on, so
// that a bridge left by an interrupted run cannot steal the test's routes.
func freeSubnet(n int) string {
	used := map[string]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			used[ipn.IP.Mask(net.CIDRMask(24, 32)).String()] = true
		}
	}
	for i := 0; i < 250; i++ {
		x := (n + i) % 250
		if !used[fmt.Sprintf("10.234.%d.0", x)] {
			return fmt.Sprintf("10.234.%d.0/24", x)
		}
	}
	return fmt.Sprintf("10.234.%d.0/24", n%250)
}

// containerStatus finds a container's status, app or init, by name; a
// zero status when the pod has none of that name.
func containerStatus(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name == name {
				return cs
			}
		}
	}
	return corev1.ContainerStatus{}
}

// secretsMount is the tmpfs the env's daemon keeps its Secrets on, apart
// from any other daemon's.
func (e *env) secretsMount() string { return e.secretDir }
