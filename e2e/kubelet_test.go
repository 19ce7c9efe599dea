package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestOOMKilled really exceeds a memory limit: the container is killed by
// the kernel and reported OOMKilled with exit code 137, as on a node.
func TestOOMKilled(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: hog
    image: docker.io/library/busybox:1.36
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"]
    resources:
      limits: {memory: 32Mi}
`)
	var term *corev1.ContainerStateTerminated
	eventually(t, 20*time.Second, "the container to be OOMKilled", func() bool {
		p := e.pod("hog")
		term = p.Status.ContainerStatuses[0].State.Terminated
		return term != nil && term.Reason == "OOMKilled"
	})
	if term.ExitCode != 137 {
		t.Fatalf("OOMKilled with exit code %d, want 137", term.ExitCode)
	}
	if p := e.pod("hog"); p.Status.Phase != corev1.PodFailed || p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Fatalf("phase %s, qos %s", p.Status.Phase, p.Status.QOSClass)
	}
	e.mustRun("delete", "pod", "hog")
	e.assertNoLeaks()
}

// TestResourcesAndSecurityContext checks each securityContext field and the
// CPU limit from inside (and, for the cgroup, outside) the container.
func TestResourcesAndSecurityContext(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  terminationGracePeriodSeconds: 0
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
    fsGroup: 2000
    sysctls:
    - {name: net.core.somaxconn, value: "1234"}
  containers:
  - name: locked
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: 250m, memory: 32Mi}
      limits: {cpu: 500m, memory: 64Mi}
    volumeMounts: [{name: data, mountPath: /data}]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
  - name: root
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext:
      runAsUser: 0
      capabilities: {add: [NET_ADMIN]}
  volumes:
  - name: data
    emptyDir: {}
`)
	checks := []struct {
		container, cmd, want string
	}{
		{"locked", "id -u", "1000"},
		{"locked", "id -g", "3000"},
		{"locked", "id -G", "4000"},
		{"locked", "id -G", "2000"},
		{"locked", "stat -c %g /data", "2000"},
		{"locked", "touch /data/by-fsgroup && stat -c %g /data/by-fsgroup", "2000"},
		{"locked", "cat /proc/sys/net/core/somaxconn", "1234"},
		{"locked", "grep NoNewPrivs /proc/self/status", "1"},
		{"locked", "grep CapEff /proc/self/status", "0000000000000000"},
		{"locked", "touch /rootfs-write 2>&1 || echo refused", "refused"},
		{"root", "id -u", "0"},
		// no_new_privs only with allowPrivilegeEscalation: false, as a
		// kubelet sets it.
		{"root", "grep NoNewPrivs /proc/self/status", "NoNewPrivs:\t0"},
		// CAP_NET_ADMIN is bit 12.
		{"root", "grep CapEff /proc/self/status", "00000000a80435fb"},
	}
	for _, c := range checks {
		got, _ := e.exec("secure", c.container, "sh", "-c", c.cmd)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q gave %q, want %q in it", c.container, c.cmd, strings.TrimSpace(got), c.want)
		}
	}
	// The CPU limit is a CFS quota of 50ms per 100ms on the container's
	// cgroup (v1 or v2).
	p := e.pod("secure")
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	podCgroup := "minipod/burstable/pod" + strings.ReplaceAll(string(p.UID), "-", "_")
	var quota string
	for _, f := range []string{
		filepath.Join("/sys/fs/cgroup/cpu", podCgroup, id, "cpu.cfs_quota_us"),
		filepath.Join("/sys/fs/cgroup", podCgroup, id, "cpu.max"),
	} {
		if b, err := os.ReadFile(f); err == nil {
			quota = strings.TrimSpace(string(b))
			break
		}
	}
	if quota != "50000" && !strings.HasPrefix(quota, "50000 ") {
		t.Errorf("cpu quota of %s is %q, want 50000", id, quota)
	}
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass %s", p.Status.QOSClass)
	}
	e.mustRun("delete", "pod", "secure")
	for _, d := range []string{filepath.Join("/sys/fs/cgroup/cpu", podCgroup), filepath.Join("/sys/fs/cgroup/memory", podCgroup), filepath.Join("/sys/fs/cgroup", podCgroup)} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("pod cgroup %s left after delete", d)
		}
	}

	// runAsNonRoot with an image that runs as root is refused.
	out, errs, code := e.run("run", e.writeFile("nonroot.yaml", `apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
    securityContext: {runAsNonRoot: true}
`))
	if code == 0 || !strings.Contains(out+errs, "CreateContainerConfigError") {
		t.Fatalf("runAsNonRoot as root: exit %d\n%s%s", code, out, errs)
	}
	fmt.Fprintln(os.Stderr, "securityContext and resources: all checks passed")
	e.assertNoLeaks()
}

// TestRestartBackOff: a crashing container is restarted with back-off
// (scaled down with --restart-backoff), shows CrashLoopBackOff, counts its
// restarts and keeps the previous run's log.
func TestRestartBackOff(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: crashy}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo run at $(date +%s%N); exit 1"]
`)
	eventually(t, 20*time.Second, "CrashLoopBackOff after 2 restarts", func() bool {
		out, _, _ := e.run("get", "pods")
		p := e.pod("crashy")
		return p.Status.ContainerStatuses[0].RestartCount >= 2 && strings.Contains(out, "CrashLoopBackOff")
	})
	p := e.pod("crashy")
	last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 1 {
		t.Fatalf("lastState %+v", p.Status.ContainerStatuses[0].LastTerminationState)
	}
	if out := e.mustRun("logs", "crashy", "--previous"); !strings.Contains(out, "run at") {
		t.Fatalf("logs --previous: %q", out)
	}
	e.mustRun("delete", "pod", "crashy")
	e.assertNoLeaks()
}

// TestProbes: readiness (httpGet from the daemon, nothing in the image)
// drives ready and the Ready condition; a failing liveness probe (exec)
// restarts the container; a startup probe (tcpSocket) holds started back.
func TestProbes(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && touch /tmp/alive && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 1
      failureThreshold: 1
    livenessProbe:
      exec: {command: ["test", "-f", "/tmp/alive"]}
      periodSeconds: 1
      failureThreshold: 2
  - name: slow
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "sleep 2; exec httpd -f -p 9000"]
    startupProbe:
      tcpSocket: {port: 9000}
      periodSeconds: 1
      failureThreshold: 30
`)
	ready := func(p *corev1.Pod, name string) bool { return containerStatus(p, name).Ready }
	p := e.pod("probed")
	if ready(p, "web") {
		t.Fatal("web is ready before its readiness probe passed")
	}
	if out := e.mustRun("get", "pods"); !strings.Contains(out, "0/2") {
		t.Fatalf("READY is not 0/2 at first:\n%s", out)
	}
	e.mustRun("exec", "probed", "-c", "web", "--", "touch", "/www/ready")
	eventually(t, 15*time.Second, "web and slow to be ready and the pod Ready", func() bool {
		p := e.pod("probed")
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue && ready(p, "web") && ready(p, "slow")
			}
		}
		return false
	})
	if out := e.mustRun("get", "pods"); !strings.Contains(out, "2/2") {
		t.Fatalf("READY is not 2/2:\n%s", out)
	}
	e.mustRun("exec", "probed", "-c", "web", "--", "rm", "/www/ready")
	eventually(t, 10*time.Second, "web to be unready again", func() bool { return !ready(e.pod("probed"), "web") })

	// Liveness: remove the file it checks; the container is killed and
	// restarted (which creates the file again).
	e.mustRun("exec", "probed", "-c", "web", "--", "rm", "/tmp/alive")
	eventually(t, 15*time.Second, "web to be restarted by its liveness probe", func() bool {
		cs := containerStatus(e.pod("probed"), "web")
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	if out := e.mustRun("describe", "pod", "probed"); !strings.Contains(out, "Unhealthy") || !strings.Contains(out, "Liveness probe failed") {
		t.Fatalf("describe shows no Unhealthy event:\n%s", out)
	}
	e.mustRun("delete", "pod", "probed")
	e.assertNoLeaks()
}

// TestInitContainersAndSidecars: init containers run in order, a failing
// one is retried with back-off until it succeeds; a native sidecar starts
// in its turn without blocking the next, runs for the pod's life, and is
// stopped after the app containers.
func TestInitContainersAndSidecars(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	e.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: first
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo first >> /out/order"]
    volumeMounts: [{name: out, mountPath: /out}]
  - name: flaky
    image: docker.io/library/busybox:1.36
    # Fails on its first run, succeeds on the second.
    command: ["sh", "-c", "echo flaky >> /out/order; test -f /out/flaky-ran && exit 0; touch /out/flaky-ran; exit 1"]
    volumeMounts: [{name: out, mountPath: /out}]
  - name: sidecar
    image: docker.io/library/busybox:1.36
    restartPolicy: Always
    command: ["sh", "-c", "echo sidecar >> /out/order; trap 'echo sidecar >> /out/stops; exit 0' TERM; while :; do sleep 1 & wait; done"]
    volumeMounts: [{name: out, mountPath: /out}]
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo app >> /out/order; trap 'echo app >> /out/stops; exit 0' TERM; while :; do sleep 1 & wait; done"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo poststart > /out/poststart"]}
      preStop:
        exec: {command: ["sh", "-c", "echo prestop > /out/prestop"]}
  volumes:
  - name: out
    hostPath: {path: %s, type: Directory}
`, out))
	p := e.pod("ordered")
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("phase %s", p.Status.Phase)
	}
	b, _ := os.ReadFile(filepath.Join(out, "order"))
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "first flaky flaky sidecar app" {
		t.Fatalf("run order %q, want first flaky flaky sidecar app", got)
	}
	sidecar, flaky := containerStatus(p, "sidecar"), containerStatus(p, "flaky")
	if flaky.Name == "" || flaky.RestartCount != 1 || flaky.State.Terminated == nil || flaky.State.Terminated.ExitCode != 0 {
		t.Fatalf("flaky init container status %+v", flaky)
	}
	if sidecar.Name == "" || sidecar.State.Running == nil {
		t.Fatalf("sidecar status %+v", sidecar)
	}
	if b, err := os.ReadFile(filepath.Join(out, "poststart")); err != nil || strings.TrimSpace(string(b)) != "poststart" {
		t.Fatalf("postStart hook did not run: %v", err)
	}
	// The sidecar is restarted for the pod's whole life.
	// Killing PID 1 ends the container, and may end the exec with it (137).
	e.run("exec", "ordered", "-c", "sidecar", "--", "kill", "1")
	eventually(t, 15*time.Second, "the sidecar to be restarted", func() bool {
		cs := containerStatus(e.pod("ordered"), "sidecar")
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	os.Remove(filepath.Join(out, "stops"))
	e.mustRun("delete", "pod", "ordered")
	if b, err := os.ReadFile(filepath.Join(out, "prestop")); err != nil || strings.TrimSpace(string(b)) != "prestop" {
		t.Fatalf("preStop hook did not run: %v", err)
	}
	stops, _ := os.ReadFile(filepath.Join(out, "stops"))
	if got := strings.Join(strings.Fields(string(stops)), " "); got != "app sidecar" {
		t.Fatalf("stop order %q, want the app before the sidecar", got)
	}
	e.assertNoLeaks()
}

// TestInitContainerNever: under restartPolicy Never a failing init
// container fails the pod, and nothing is left.
func TestInitContainerNever(t *testing.T) {
	e := newEnv(t)
	out, errs, code := e.run("run", e.writeFile("pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  initContainers:
  - name: init
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "exit 4"]
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
`))
	if code == 0 || !strings.Contains(out+errs, "Init:Error") || !strings.Contains(out+errs, "exited with code 4") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	e.assertNoLeaks()
}

// TestPodOptions: hostAliases, subdomain and dnsConfig shape the pod's
// /etc files; hostNetwork, hostPID and hostIPC put it in the host's
// namespaces, only when asked.
func TestPodOptions(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: opts}
spec:
  terminationGracePeriodSeconds: 0
  hostname: web-0
  subdomain: web
  hostAliases:
  - ip: 10.1.2.3
    hostnames: [db.local, cache.local]
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [example.test]
    options: [{name: ndots, value: "2"}]
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: hostns}
spec:
  terminationGracePeriodSeconds: 0
  hostNetwork: true
  hostPID: true
  hostIPC: true
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	hosts, _ := e.exec("opts", "c", "cat", "/etc/hosts")
	for _, want := range []string{"10.1.2.3\tdb.local\tcache.local", "web-0.web.default.svc.cluster.local\tweb-0"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	resolv, _ := e.exec("opts", "c", "cat", "/etc/resolv.conf")
	if strings.TrimSpace(resolv) != "nameserver 192.0.2.53\nsearch example.test\noptions ndots:2" {
		t.Errorf("resolv.conf with dnsPolicy None:\n%s", resolv)
	}
	if got, _ := e.exec("opts", "c", "hostname"); strings.TrimSpace(got) != "web-0" {
		t.Errorf("hostname %q, want web-0", got)
	}
	for _, ns := range []string{"net", "pid", "ipc"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		in, _ := e.exec("hostns", "c", "readlink", "/proc/self/ns/"+ns)
		if strings.TrimSpace(in) != host {
			t.Errorf("host%s: the container's %s namespace is %q, the host's %q", strings.ToUpper(ns[:1])+ns[1:], ns, strings.TrimSpace(in), host)
		}
		// And the other pod is in its own.
		if own, _ := e.exec("opts", "c", "readlink", "/proc/self/ns/"+ns); strings.TrimSpace(own) == host {
			t.Errorf("a pod that did not ask shares the host's %s namespace", ns)
		}
	}
	e.mustRun("delete", "pod", "opts", "hostns")
	e.assertNoLeaks()
}

// TestDownwardAPIAndExpansion: downwardAPI and projected volumes,
// resourceFieldRef, and $(VAR) expansion in env and args, as Kubernetes
// does them.
func TestDownwardAPIAndExpansion(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata:
  name: downward
  labels: {app: demo, tier: web}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c"]
    args: ["echo 'greeting=$(GREETING) escaped=$$(GREETING)'; sleep 3600"]
    env:
    - name: NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: GREETING
      value: "hello $(NAME) from $(UNDEFINED)"
    - name: MEM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    resources:
      limits: {memory: 64Mi, cpu: 500m}
    volumeMounts:
    - {name: info, mountPath: /info}
    - {name: all, mountPath: /all}
    - {name: cfg, mountPath: /cfg}
  volumes:
  - name: cfg
    configMap:
      name: settings
      defaultMode: 0640
      items: [{key: mode, path: sub/mode.txt, mode: 0600}]
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: cpu-millis, resourceFieldRef: {containerName: c, resource: limits.cpu, divisor: 1m}}
  - name: all
    projected:
      sources:
      - configMap: {name: settings}
      - secret: {name: creds}
      - downwardAPI:
          items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]
`)
	checks := []struct{ cmd, want string }{
		{"echo $GREETING", "hello downward from $(UNDEFINED)"},
		{"echo $MEM_MI", "64"},
		{"cat /info/labels", "app=\"demo\"\ntier=\"web\""},
		{"cat /info/name", "downward"},
		{"cat /info/cpu-millis", "500"},
		{"cat /all/mode /all/token /all/ns", "blues3cr3tdefault"},
		{"grep ' /all ' /proc/mounts | cut -d' ' -f3", "tmpfs"},
		{"cat /cfg/sub/mode.txt; stat -L -c %a /cfg/sub/mode.txt", "blue600"},
		{"ls /cfg", "sub"},
	}
	for _, c := range checks {
		got, _ := e.exec("downward", "c", "sh", "-c", c.cmd)
		if strings.TrimSpace(got) != c.want {
			t.Errorf("%q gave %q, want %q", c.cmd, strings.TrimSpace(got), c.want)
		}
	}
	if out := e.mustRun("events", "downward"); !strings.Contains(out, "Pulled") || !strings.Contains(out, "Created") || !strings.Contains(out, "Started") {
		t.Errorf("events lack Pulled, Created or Started:\n%s", out)
	}
	eventually(t, 10*time.Second, "the expanded args in the log", func() bool {
		out, _, _ := e.run("logs", "downward")
		return strings.Contains(out, "greeting=hello downward from $(UNDEFINED) escaped=$(GREETING)")
	})
	e.mustRun("delete", "pod", "downward")
	e.assertNoLeaks()
}

// TestTerminationMessage: the file at terminationMessagePath, or the end of
// the log under FallbackToLogsOnError, becomes the terminated state's
// message.
func TestTerminationMessage(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: lastwords}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: file
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo -n 'bye from file' > /tmp/last-words; exit 1"]
    terminationMessagePath: /tmp/last-words
  - name: logs
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo starting; echo 'fatal: boom' >&2; exit 2"]
    terminationMessagePolicy: FallbackToLogsOnError
`)
	// stdout and stderr reach the log through two pipes, so the order of
	// the two lines in the fallback message is not defined (nor is it
	// under a kubelet); either order is the right message.
	want := map[string][]string{
		"file": {"bye from file"},
		"logs": {"starting\nfatal: boom\n", "fatal: boom\nstarting\n"},
	}
	// The fallback message is read from the log when the status is asked
	// for, so it can be short while the log driver catches up: wait for the
	// right messages, and show the last ones seen if they never come.
	var msgs map[string]string
	matches := func() bool {
		msgs = map[string]string{}
		for _, cs := range e.pod("lastwords").Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil {
				msgs[cs.Name] = term.Message
			}
		}
		for name, accepted := range want {
			if m, ok := msgs[name]; !ok || !slices.Contains(accepted, m) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(15 * time.Second); !matches(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("termination messages %q, want one of %q each", msgs, want)
		}
	}
	e.mustRun("delete", "pod", "lastwords")
	e.assertNoLeaks()
}

// syncBuffer is an io.Writer that tests can read while a command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background starts the minipod CLI and stops it (by its pid) at the end.
func (e *env) background(args ...string) *syncBuffer {
	e.t.Helper()
	cmd := exec.Command(suite.bin, args...)
	cmd.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return out
}

// TestFollowAndWatch: logs -f keeps following across restarts; get -w
// prints a pod's row as it changes, and events -w each new event, as the
// daemon's watch sends them.
func TestFollowAndWatch(t *testing.T) {
	e := newEnv(t)
	watch := e.background("get", "pods", "-w")
	events := e.background("events", "-w")
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: crashy}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo run; exit 1"]
`)
	follow := e.background("logs", "-f", "crashy")
	eventually(t, 20*time.Second, "logs -f to show three runs", func() bool {
		return strings.Count(follow.String(), "run\n") >= 3
	})
	eventually(t, 10*time.Second, "get -w to show the pod crash-looping", func() bool {
		s := watch.String()
		return strings.Contains(s, "crashy") && strings.Contains(s, "CrashLoopBackOff")
	})
	eventually(t, 10*time.Second, "events -w to show the pod's start and back-off", func() bool {
		s := events.String()
		return strings.Contains(s, "Started") && strings.Contains(s, "BackOff") && strings.Contains(s, "pod/crashy")
	})
	e.mustRun("delete", "pod", "crashy")
	e.assertNoLeaks()
}

// TestShareProcessNamespace: with shareProcessNamespace the containers see
// each other's processes; without it they do not.
func TestShareProcessNamespace(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  terminationGracePeriodSeconds: 0
  shareProcessNamespace: true
  containers:
  - name: a
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3601"]
  - name: b
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3602"]
---
apiVersion: v1
kind: Pod
metadata: {name: apart}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: a
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3601"]
  - name: b
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3602"]
`)
	if ps, _ := e.exec("shared", "b", "ps", "-o", "args"); !strings.Contains(ps, "sleep 3601") {
		t.Fatalf("with shareProcessNamespace, b does not see a's process:\n%s", ps)
	}
	if ps, _ := e.exec("apart", "b", "ps", "-o", "args"); strings.Contains(ps, "sleep 3601") {
		t.Fatalf("without shareProcessNamespace, b sees a's process:\n%s", ps)
	}
	// PID 1 is minipod's pause, isolated as the kubelet's: its mounts are
	// one empty root, it has no capabilities and is not root, and nothing of
	// the host is reachable through it.
	mountinfo, code := e.exec("shared", "a", "cat", "/proc/1/mountinfo")
	if code != 0 || len(strings.Split(strings.TrimSpace(mountinfo), "\n")) != 1 || strings.Contains(mountinfo, e.root) || strings.Contains(mountinfo, "netns") {
		t.Errorf("the pod's PID 1 shows mounts of the host (exit %d):\n%s", code, mountinfo)
	}
	status, _ := e.exec("shared", "a", "cat", "/proc/1/status")
	for _, want := range []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1", "Uid:\t65535"} {
		if !strings.Contains(status, want) {
			t.Errorf("the pod's PID 1 status lacks %q:\n%s", want, status)
		}
	}
	uid := strings.ReplaceAll(string(e.pod("shared").UID), "-", "_")
	if cg, _ := e.exec("shared", "a", "cat", "/proc/1/cgroup"); !strings.Contains(cg, "pod"+uid+"/pause") {
		t.Errorf("the pod's PID 1 is not in a pause cgroup of the pod's:\n%s", cg)
	}
	if out, code := e.exec("shared", "a", "ls", "/proc/1/root/"); code == 0 && strings.TrimSpace(out) != "" {
		t.Errorf("the pod's PID 1 root lists files:\n%s", out)
	}
	e.mustRun("delete", "pod", "shared", "apart")
	e.assertNoLeaks()
}

// TestExecTTY: exec -it gives the command a real terminal of the caller's
// size. util-linux's script provides the caller's terminal.
func TestExecTTY(t *testing.T) {
	testutilRequireTool(t, "script")
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: tty}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	// The size reaches the command's terminal right after it starts, as
	// with kubectl: the command waits for it (with a deadline).
	probe := `tty; echo "term=$TERM"; for i in $(seq 50); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "$s"`
	shell := fmt.Sprintf("stty cols 123 rows 45; MINIPOD_SOCKET=%s %s exec -it tty -- sh -c '%s'", e.socket, suite.bin, probe)
	cmd := exec.Command("script", "-qec", shell, "/dev/null")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "45 123") {
		t.Fatalf("exec -it did not get a terminal of 45x123:\n%q", out)
	}
	// A terminal comes with TERM (the image sets none), as with docker
	// exec -t; without one, the environment is the container's.
	if !strings.Contains(string(out), "term=xterm") {
		t.Fatalf("exec -it set no TERM=xterm:\n%q", out)
	}
	if got, _ := e.exec("tty", "c", "sh", "-c", `echo "term=$TERM"`); strings.TrimSpace(got) != "term=" {
		t.Fatalf("exec without -t: %q, want no TERM", got)
	}
	e.mustRun("delete", "pod", "tty")
	e.assertNoLeaks()
}

// TestRunProgress: on a terminal, minipod run shows what it waits for, with
// the pod's status as the daemon's watch reports it (Init:0/1 while the
// init container runs); piped, it shows nothing of the kind.
func TestRunProgress(t *testing.T) {
	testutilRequireTool(t, "script")
	e := newEnv(t)
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: prepare
    image: docker.io/library/busybox:1.36
    command: ["sleep", "2"]
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`
	file := e.writeFile("slow.yaml", fmt.Sprintf(manifest, "slow"))
	shell := fmt.Sprintf("MINIPOD_SOCKET=%s %s run %s", e.socket, suite.bin, file)
	cmd := exec.Command("script", "-qec", shell, "/dev/null")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "waiting for pod slow: Init:0/1") {
		t.Errorf("run on a terminal did not show the pod's init status:\n%q", out)
	}
	if piped := e.apply(fmt.Sprintf(manifest, "quiet")); strings.Contains(piped, "waiting for") {
		t.Errorf("run, piped, shows progress:\n%q", piped)
	}
	e.mustRun("delete", "pod", "slow", "quiet")
	e.assertNoLeaks()
}

// TestStopSignal: lifecycle.stopSignal is the signal a delete sends first.
// The container traps SIGUSR1 only (SIGTERM would be ignored by the shell
// as PID 1), writes that it got it, and exits; with SIGTERM the trap never
// runs and the grace period would end in SIGKILL.
func TestStopSignal(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	e.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: stopsig}
spec:
  os: {name: linux}
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "trap 'echo usr1 > /out/signal; exit 0' USR1; while true; do sleep 0.1; done"]
    lifecycle:
      stopSignal: SIGUSR1
    volumeMounts: [{name: out, mountPath: /out}]
  volumes:
  - name: out
    hostPath: {path: %s, type: Directory}
`, out))
	start := time.Now()
	e.mustRun("delete", "pod", "stopsig")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("delete took %s: the stop signal did not end the container within the grace period", took)
	}
	if b, err := os.ReadFile(filepath.Join(out, "signal")); err != nil || strings.TrimSpace(string(b)) != "usr1" {
		t.Fatalf("the container did not get SIGUSR1 on delete: %v %q", err, b)
	}
	e.assertNoLeaks()
}

// TestSeccomp: RuntimeDefault when the pod says nothing (minipod's
// default), Unconfined when asked, and a Localhost profile from the state
// root's seccomp directory that denies mkdir.
func TestSeccomp(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Join(e.root, "seccomp", "profiles"), 0o700); err != nil {
		t.Fatal(err)
	}
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(filepath.Join(e.root, "seccomp", "profiles", "no-mkdir.json"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: seccomp}
spec:
  containers:
  - name: default
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
  - name: unconfined
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext: {seccompProfile: {type: Unconfined}}
  - name: local
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/no-mkdir.json}}
`)
	mode := func(c string) string {
		out, code := e.exec("seccomp", c, "sh", "-c", "grep '^Seccomp:' /proc/self/status")
		if code != 0 {
			t.Fatalf("exec in %s: %d %s", c, code, out)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	if got := mode("default"); got != "Seccomp: 2" {
		t.Errorf("container without a profile: %q, want a filter (Seccomp: 2)", got)
	}
	if got := mode("unconfined"); got != "Seccomp: 0" {
		t.Errorf("Unconfined container: %q, want Seccomp: 0", got)
	}
	if out, code := e.exec("seccomp", "local", "mkdir", "/tmp/x"); code == 0 {
		t.Errorf("mkdir under the Localhost profile succeeded: %s", out)
	}
	if out, code := e.exec("seccomp", "default", "mkdir", "/tmp/x"); code != 0 {
		t.Errorf("mkdir under RuntimeDefault failed: %d %s", code, out)
	}
}

// TestOutOfResources: a pod that asks for more than the host has is
// rejected at admission with the kubelet's reason, naming what was asked
// and what the host has, and nothing is created.
func TestOutOfResources(t *testing.T) {
	e := newEnv(t)
	out, errs, code := e.run("run", e.writeFile("big.yaml", `apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: "100", memory: 1000Gi}
`))
	if code == 0 {
		t.Fatal("a pod asking for 100 CPUs and 1000Gi was admitted")
	}
	for _, want := range []string{"OutOfcpu", "OutOfmemory", "requested: 100000"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("error does not say %q:\n%s%s", want, out, errs)
		}
	}
	e.podGone(t, "big")
	e.assertNoLeaks()
}

// TestPodPidsLimit: --pod-pids-limit bounds the processes of a pod in its
// cgroup (pids.max of the pod cgroup), so a fork bomb stays inside its pod.
func TestPodPidsLimit(t *testing.T) {
	e := newEnv(t, withDaemonArgs("--pod-pids-limit", "40"))
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: forky}
spec:
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	uid := string(e.pod("forky").UID)
	files, _ := filepath.Glob("/sys/fs/cgroup/pids/minipod/*/pod" + strings.ReplaceAll(uid, "-", "_") + "/pids.max")
	more, _ := filepath.Glob("/sys/fs/cgroup/minipod/*/pod" + strings.ReplaceAll(uid, "-", "_") + "/pids.max")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatalf("no pids.max of pod %s's cgroup", uid)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err != nil || strings.TrimSpace(string(b)) != "40" {
			t.Errorf("%s = %q, want 40", f, b)
		}
	}
	// 60 processes cannot be started: the shell fails to fork.
	if out, code := e.exec("forky", "app", "sh", "-c", "for i in $(seq 60); do sleep 2 & done; wait; echo all"); code == 0 || strings.Contains(out, "all") {
		t.Errorf("60 processes started in a pod limited to 40 (exit %d): %s", code, out)
	}
	e.mustRun("delete", "pod", "forky", "--now")
	e.assertNoLeaks()
}
