package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLogPartialLines: output without a final newline reaches the log,
// as on a node: the last line of a container that exited, and a prompt
// written by a container that still runs.
func TestLogPartialLines(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: partial}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: last
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "printf 'line1\\nno-newline-at-end'"]
  - name: prompt
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "printf 'ready\\nprompt> '; exec sleep 3600"]
`)
	for c, want := range map[string]string{"last": "line1\nno-newline-at-end", "prompt": "ready\nprompt> "} {
		var got string
		eventually(t, 10*time.Second, "the log of "+c+" to end with its partial line", func() bool {
			got, _, _ = e.run("logs", "partial", "-c", c)
			return got == want
		})
		if got != want {
			t.Errorf("logs -c %s = %q, want %q", c, got, want)
		}
	}
	e.mustRun("delete", "pod", "partial")
	e.assertNoLeaks()
}

// TestLogRotation: with a small --container-log-max-size the log driver
// rotates the run's log, keeps --container-log-max-files files, and logs
// reads the current file only, as the kubelet does; logs -f follows into
// the files that replace a rotated one.
func TestLogRotation(t *testing.T) {
	const maxSize, maxFiles, lines = 4096, 3, 300
	e := newEnv(t, withDaemonArgs("--container-log-max-size", "4Ki", "--container-log-max-files", strconv.Itoa(maxFiles)))
	e.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo ready; until [ -f /tmp/go ]; do sleep 0.1; done; i=1; while [ $i -le %d ]; do echo \"line $i of the chatty container's output\"; i=$((i+1)); sleep 0.01; done; exec sleep 3600"]
`, lines))
	follow := e.background("logs", "-f", "chatty")
	eventually(t, 10*time.Second, "logs -f to show the first line", func() bool { return strings.Contains(follow.String(), "ready\n") })
	e.mustRun("exec", "chatty", "--", "touch", "/tmp/go")
	last := fmt.Sprintf("line %d of", lines)
	eventually(t, 60*time.Second, "logs -f to show the last line, after several rotations", func() bool { return strings.Contains(follow.String(), last) })

	// The files: the current one and maxFiles-1 rotated, none above the size.
	p := e.pod("chatty")
	dir := filepath.Join(e.root, "logs", "default_chatty_"+string(p.UID), "c")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range entries {
		names = append(names, x.Name())
		if info, err := x.Info(); err == nil && info.Size() > maxSize {
			t.Errorf("log file %s has %d bytes, more than --container-log-max-size %d", x.Name(), info.Size(), maxSize)
		}
	}
	if len(names) != maxFiles || names[0] != "0.log" {
		t.Errorf("log files %q, want 0.log and %d rotated ones", names, maxFiles-1)
	}

	// logs shows the current file only: it ends with the last line and
	// does not go back to the beginning.
	out := e.mustRun("logs", "chatty")
	if !strings.HasSuffix(out, last+" the chatty container's output\n") || strings.Contains(out, "ready\n") || strings.Contains(out, "line 1 of") {
		t.Errorf("logs after rotation:\n%s", out)
	}
	current, err := os.ReadFile(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != strings.Count(string(current), "\n") {
		t.Errorf("logs shows %d lines, the current file holds %d", n, strings.Count(string(current), "\n"))
	}
	// logs -f went on across the rotations, in order, with no line twice.
	prev := 0
	for _, l := range strings.Split(strings.TrimSpace(follow.String()), "\n")[1:] {
		var n int
		if _, err := fmt.Sscanf(l, "line %d of", &n); err != nil || n <= prev {
			t.Fatalf("logs -f: line %q after line %d", l, prev)
		}
		prev = n
	}
	e.mustRun("delete", "pod", "chatty")
	e.assertNoLeaks()
}

// TestSupplementaryGroups: runAsGroup and supplementalGroups give exactly
// the groups the kubelet gives, root's group 0 not among them.
func TestSupplementaryGroups(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: groups}
spec:
  terminationGracePeriodSeconds: 0
  securityContext:
    runAsGroup: 3000
    supplementalGroups: [4000]
  containers:
  - name: root
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
  - name: user
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext: {runAsUser: 1000}
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	for _, c := range []struct{ pod, container, want string }{
		{"groups", "root", "uid=0 gid=3000 groups=3000 4000"},
		{"groups", "user", "uid=1000 gid=3000 groups=3000 4000"},
		{"plain", "c", "uid=0 gid=0 groups=0"},
	} {
		got, _ := e.exec(c.pod, c.container, "sh", "-c", `echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"`)
		if strings.TrimSpace(got) != c.want {
			t.Errorf("%s/%s: %q, want %q", c.pod, c.container, strings.TrimSpace(got), c.want)
		}
	}
	e.mustRun("delete", "pod", "groups", "plain")
	e.assertNoLeaks()
}

// cgroupValue reads a value of a cgroup (path relative to the
// hierarchies) on cgroup v1 (v1name in the controller's hierarchy) or v2.
func cgroupValue(t *testing.T, controller, path, v1name, v2name string) string {
	t.Helper()
	p := filepath.Join("/sys/fs/cgroup", controller, path, v1name)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		p = filepath.Join("/sys/fs/cgroup", path, v2name)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("cgroup value: %v", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// TestQoSCgroups: pods are placed under the kubelet's QoS cgroups with the
// kubelet's values: a BestEffort container weighs 2 shares (cpu.weight 1 on
// cgroup v2), not the kernel's 1024 that outranked Burstable containers.
func TestQoSCgroups(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: besteffort}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: burstable}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources: {requests: {cpu: 100m}}
---
apiVersion: v1
kind: Pod
metadata: {name: guaranteed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources: {limits: {cpu: 500m, memory: 64Mi}}
  - name: d
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources: {limits: {cpu: 250m, memory: 32Mi}}
`)
	v2 := false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = true
	}
	shares := func(s string) string {
		if !v2 {
			return s
		}
		n, _ := strconv.Atoi(s)
		return strconv.Itoa(1 + (n-2)*9999/262142)
	}
	type want struct{ controller, v1, v2, value string }
	cpuShares := func(v string) want { return want{"cpu", "cpu.shares", "cpu.weight", shares(v)} }
	for _, c := range []struct {
		pod, parent string
		pod1        []want
		container   []want
	}{
		{"besteffort", "minipod/besteffort", []want{cpuShares("2")}, []want{cpuShares("2")}},
		{"burstable", "minipod/burstable", []want{cpuShares("102")}, []want{cpuShares("102")}},
		{"guaranteed", "minipod", []want{
			cpuShares("768"),
			{"cpu", "cpu.cfs_quota_us", "cpu.max", map[bool]string{false: "75000", true: "75000 100000"}[v2]},
			{"memory", "memory.limit_in_bytes", "memory.max", "100663296"},
		}, []want{cpuShares("512")}},
	} {
		p := e.pod(c.pod)
		podPath := c.parent + "/pod" + strings.ReplaceAll(string(p.UID), "-", "_")
		id := strings.TrimPrefix(containerStatus(p, "c").ContainerID, "containerd://")
		for _, w := range c.pod1 {
			if got := cgroupValue(t, w.controller, podPath, w.v1, w.v2); got != w.value {
				t.Errorf("%s: pod cgroup %s: %s = %q, want %q", c.pod, podPath, w.v1, got, w.value)
			}
		}
		for _, w := range c.container {
			if got := cgroupValue(t, w.controller, podPath+"/"+id, w.v1, w.v2); got != w.value {
				t.Errorf("%s: container cgroup: %s = %q, want %q", c.pod, w.v1, got, w.value)
			}
		}
	}
	if got := cgroupValue(t, "cpu", "minipod/besteffort", "cpu.shares", "cpu.weight"); got != shares("2") {
		t.Errorf("the BestEffort QoS cgroup has %q, want %s", got, shares("2"))
	}
	// Other daemons on this host may have Burstable pods too: at least this
	// one's request.
	if got, _ := strconv.Atoi(cgroupValue(t, "cpu", "minipod/burstable", "cpu.shares", "cpu.weight")); got < atoi(shares("102")) {
		t.Errorf("the Burstable QoS cgroup has %d, want at least %s", got, shares("102"))
	}
	e.mustRun("delete", "pod", "besteffort", "burstable", "guaranteed")
	e.assertNoLeaks()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestNodeName: a pod is shown on this host, whatever nodeName its manifest
// gave (which is ignored, with a warning).
func TestNodeName(t *testing.T) {
	e := newEnv(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	out := e.apply(`apiVersion: v1
kind: Pod
metadata: {name: placed}
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	_ = out
	if p := e.pod("placed"); p.Spec.NodeName != host {
		t.Errorf("spec.nodeName %q, want the host's name %q", p.Spec.NodeName, host)
	}
	wide := e.mustRun("get", "pods", "-o", "wide")
	if strings.Contains(wide, "node-1") || !strings.Contains(wide, host) {
		t.Errorf("get -o wide shows another node than %s:\n%s", host, wide)
	}
	e.mustRun("delete", "pod", "placed")
	e.assertNoLeaks()
}

// TestEventsAfterDelete: a deleted pod's events stay listed, as the API
// server keeps them for an hour.
func TestEventsAfterDelete(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: gone}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	e.mustRun("delete", "pod", "gone")
	for _, args := range [][]string{{"events", "gone"}, {"events"}} {
		out := e.mustRun(args...)
		for _, want := range []string{"Started", "Killing", "pod/gone"} {
			if !strings.Contains(out, want) {
				t.Errorf("minipod %s after the delete lacks %s:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
	e.assertNoLeaks()
}
