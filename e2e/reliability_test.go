package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/runtime"
)

// faultPod has something for every apply step: an init container, two app
// containers, a directory emptyDir and a tmpfs one.
const faultPod = `apiVersion: v1
kind: Pod
metadata:
  name: faulty
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: init
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo ready > /work/ready"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]
    volumeMounts: [{name: work, mountPath: /work}, {name: mem, mountPath: /mem}]
  - name: side
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: mem, mountPath: /mem}]
  volumes:
  - name: work
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory, sizeLimit: 4Mi}
`

// leaked lists what the host holds now that it did not when the env
// started, as "kind: name". Network namespaces and pod cgroups are
// host-global: only those of this env's pods (e.pods) count, so that
// another test run on the host is not counted as this one's leak.
func (e *env) leaked() []string {
	e.awaitShims()
	after := e.snapshot()
	var bad []string
	for k, v := range after {
		was := map[string]bool{}
		for _, x := range e.before[k] {
			was[x] = true
		}
		for _, x := range v {
			if was[x] {
				continue
			}
			if k == "netns" && !e.pods.has(strings.TrimPrefix(x, "minipod-")) {
				continue
			}
			if k == "pod cgroups" && !e.pods.has(strings.ReplaceAll(strings.TrimPrefix(filepath.Base(x), "pod"), "_", "-")) {
				continue
			}
			bad = append(bad, k+": "+x)
		}
	}
	return bad
}

// podTracker collects the UIDs of the pod directories the env's daemon
// creates (<root>/pods/<uid>), through inotify, so that even a pod rolled
// back within milliseconds is known.
type podTracker struct {
	mu   sync.Mutex
	uids map[string]bool
}

// trackPods watches <root>/pods until the test ends. The inotify descriptor
// is non-blocking and owned by an *os.File, so that Go's poller wakes the
// reader when the file is closed and the number cannot be reused under it;
// the cleanup waits for the reader to return before the test goes on.
func (e *env) trackPods(t *testing.T) *podTracker {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	dir := filepath.Join(e.root, "pods")
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		f.Close()
		t.Fatalf("inotify %s: %v", dir, err)
	}
	p := &podTracker{uids: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for _, name := range inotifyNames(buf[:n]) {
				p.mu.Lock()
				p.uids[name] = true
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		f.Close()
		<-done
	})
	return p
}

// inotifyNames returns the names of the inotify events in buf, stopping at
// the first event whose length runs past what was read.
func inotifyNames(buf []byte) []string {
	var names []string
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		start := off + unix.SizeofInotifyEvent
		end := start + int(ev.Len)
		if ev.Len > uint32(len(buf)) || end > len(buf) {
			break
		}
		if name := string(bytes.TrimRight(buf[start:end], "\x00")); name != "" {
			names = append(names, name)
		}
		off = end
	}
	return names
}

func (p *podTracker) has(uid string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uids[uid]
}

// restartWith stops the daemon (SIGTERM) and starts it again with fault
// (runtime.FaultEnv) set; "" starts it without.
func (e *env) restartWith(t *testing.T, fault string) {
	t.Helper()
	e.stop()
	t.Setenv(runtime.FaultEnv, fault)
	e.start()
}

// awaitCrash waits for the daemon to die of an injected crash.
func (e *env) awaitCrash(t *testing.T) {
	t.Helper()
	select {
	case <-e.exited:
		e.daemon = nil
		e.unregister()
	case <-time.After(60 * time.Second):
		t.Fatalf("the daemon did not crash\n%s", e.daemonLog())
	}
}

// podGone requires that the pod is not listed.
func (e *env) podGone(t *testing.T, name string) {
	t.Helper()
	if out, _, code := e.run("get", "pod", name); code == 0 {
		t.Fatalf("pod %s still listed:\n%s", name, out)
	}
}

// podWorks requires that the pod runs and its containers answer exec.
func (e *env) podWorks(t *testing.T, name, container string) {
	t.Helper()
	eventually(t, 30*time.Second, "pod "+name+" Running and answering exec", func() bool {
		out, _, code := e.run("get", "pod", name, "-o", "json")
		var p corev1.Pod
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Status.Phase != corev1.PodRunning {
			return false
		}
		got, code := e.exec(name, container, "echo", "alive")
		return code == 0 && strings.TrimSpace(got) == "alive"
	})
}

// TestFaultInjection fails, and crashes the daemon right after, every step
// of apply and of teardown; after each case the pod is rolled back, torn
// down or adopted, and the host is as it was.
func TestFaultInjection(t *testing.T) {
	e := newEnv(t)
	manifest := e.writeFile("faulty.yaml", faultPod)
	total, survived, leaks := 0, 0, 0
	check := func(t *testing.T) {
		t.Helper()
		total++
		bad := e.leaked()
		leaks += len(bad)
		if len(bad) > 0 {
			t.Errorf("left behind: %s", strings.Join(bad, ", "))
		}
		if !t.Failed() {
			survived++
		}
	}

	for _, step := range runtime.ApplySteps {
		t.Run("apply fail "+step, func(t *testing.T) {
			defer check(t)
			e.restartWith(t, "fail:"+step)
			out, errs, code := e.run("run", manifest)
			if code == 0 || !strings.Contains(out+errs, fmt.Sprintf("step %q failed", step)) || !strings.Contains(out+errs, "injected fault") {
				t.Fatalf("run: exit %d, want step %q named:\n%s%s", code, step, out, errs)
			}
			e.podGone(t, "faulty")
		})
		t.Run("apply crash "+step, func(t *testing.T) {
			defer check(t)
			e.restartWith(t, "crash:"+step)
			if out, errs, code := e.run("run", manifest); code == 0 {
				t.Fatalf("run succeeded though the daemon crashed:\n%s%s", out, errs)
			}
			e.awaitCrash(t)
			t.Setenv(runtime.FaultEnv, "")
			e.start()
			if step == runtime.StepRunning {
				// Complete: adopted, and it keeps working.
				e.podWorks(t, "faulty", "side")
				e.mustRun("delete", "pod", "faulty", "--now")
			}
			e.podGone(t, "faulty")
		})
	}

	for _, step := range runtime.TeardownSteps {
		t.Run("teardown fail "+step, func(t *testing.T) {
			defer check(t)
			e.restartWith(t, "")
			e.mustRun("run", manifest)
			e.restartWith(t, "fail:"+step)
			e.podWorks(t, "faulty", "side")
			out, errs, code := e.run("delete", "pod", "faulty", "--now")
			if code == 0 || !strings.Contains(out+errs, "injected fault") {
				t.Fatalf("delete: exit %d, want the injected fault:\n%s%s", code, out, errs)
			}
			// The pod stays listed, and delete again finishes it.
			e.mustRun("get", "pod", "faulty")
			e.mustRun("delete", "pod", "faulty", "--now")
			e.podGone(t, "faulty")
		})
		t.Run("teardown crash "+step, func(t *testing.T) {
			defer check(t)
			e.restartWith(t, "")
			e.mustRun("run", manifest)
			e.restartWith(t, "crash:"+step)
			e.podWorks(t, "faulty", "side")
			if out, errs, code := e.run("delete", "pod", "faulty", "--now"); code == 0 {
				t.Fatalf("delete succeeded though the daemon crashed:\n%s%s", out, errs)
			}
			e.awaitCrash(t)
			t.Setenv(runtime.FaultEnv, "")
			e.start()
			e.podGone(t, "faulty")
		})
	}
	t.Setenv(runtime.FaultEnv, "")
	if e.daemon == nil {
		e.start()
	}
	report(t, "faults", survived, total, leaks)
}

func (p *podTracker) all() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for k := range p.uids {
		out[k] = true
	}
	return out
}

// TestInotifyNamesBounded: a length read from the kernel (or from a reused
// descriptor's garbage) never indexes past the buffer.
func TestInotifyNamesBounded(t *testing.T) {
	event := func(name string, length uint32) []byte {
		b := make([]byte, unix.SizeofInotifyEvent)
		binary.NativeEndian.PutUint32(b[12:], length)
		return append(b, name...)
	}
	good := event("abc\x00", 4)
	if got := inotifyNames(good); len(got) != 1 || got[0] != "abc" {
		t.Fatalf("inotifyNames(one event) = %q, want [abc]", got)
	}
	for _, buf := range [][]byte{
		append(append([]byte{}, good...), event("x", 134217749-unix.SizeofInotifyEvent)...),
		event("", 0xffffffff),
		good[:unix.SizeofInotifyEvent+2],
		good[:5],
	} {
		got := inotifyNames(buf)
		if len(got) > 1 {
			t.Errorf("inotifyNames(%d bytes) = %q", len(buf), got)
		}
	}
}
