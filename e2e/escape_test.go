package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Container escapes through volumes, performed as an attacker would: the
// pod itself changes what its volume paths are between the check and a
// container's (re)start. Each attack must end with the container not
// started and nothing of the host reached.

// TestSubPathSwapOnRestart: a container sharing an emptyDir replaces the
// directory behind another container's subPath with a link to the host's
// "/"; when that container restarts, it must not get the host's root (it
// would write a file into the host's file system).
func TestSubPathSwapOnRestart(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir() // on the host; the victim would reach it as /data<host>
	e.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: swap}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: attacker
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "while [ ! -e /shared/sub/started ]; do sleep 0.05; done; rm -rf /shared/sub && ln -s / /shared/sub && touch /shared/swapped; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: victim
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "touch /data%[1]s/pwned 2>/dev/null; touch /data/started; while [ ! -e /shared/swapped ]; do sleep 0.05; done; exit 1"]
    volumeMounts:
    - {name: shared, mountPath: /data, subPath: sub}
    - {name: shared, mountPath: /shared}
  volumes:
  - name: shared
    emptyDir: {}
`, host))
	pwned := filepath.Join(host, "pwned")
	var pod string
	eventually(t, 30*time.Second, "the victim's restart after the swap", func() bool {
		if _, err := os.Lstat(pwned); err == nil {
			return true
		}
		out, _, _ := e.run("get", "pod", "swap", "-o", "json")
		pod = out
		return strings.Contains(out, "leaves the volume through a symlink")
	})
	held := 1
	if _, err := os.Lstat(pwned); err == nil {
		held = 0
		t.Errorf("ESCAPE: the restarted container wrote %s on the host through its subPath", pwned)
	} else if victim := containerStatus(e.pod("swap"), "victim"); victim.State.Running != nil {
		held = 0
		t.Errorf("the victim runs after its subPath became a link out of the volume: %+v\n%s", victim, pod)
	}
	e.mustRun("delete", "pod", "swap", "--now")
	securityFigure(t, "escapes (subPath swapped before a restart)", held, 1)
}

// TestHostPathSwappedForStateLink: a pod declares hostPath X and X/state
// (DirectoryOrCreate), which pass the check; its init container replaces
// state with a link to the daemon's state root; the app container must
// not start with the daemon's records mounted.
func TestHostPathSwappedForStateLink(t *testing.T) {
	e := newEnv(t)
	x := t.TempDir()
	tried, held := 0, 0
	out, errs, code := e.run("run", e.writeFile("pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hpswap}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  initContainers:
  - name: plant
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "rmdir /x/state && ln -s %[2]s /x/state"]
    volumeMounts: [{name: x, mountPath: /x}]
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: state, mountPath: /state}]
  volumes:
  - name: x
    hostPath: {path: %[1]s, type: Directory}
  - name: state
    hostPath: {path: %[1]s/state, type: DirectoryOrCreate}
`, x, e.root)))
	tried++
	switch {
	case code == 0:
		seen, _ := e.exec("hpswap", "app", "ls", "/state")
		t.Errorf("ESCAPE: the pod ran with its hostPath swapped for a link to the state root; the app sees: %q\n%s", seen, out)
	case !strings.Contains(out+errs, "minipod daemon's own state"):
		t.Errorf("the error does not say why:\nstdout: %s\nstderr: %s", out, errs)
	default:
		held++
	}
	if got, _, _ := e.run("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
		e.run("delete", "pod", "hpswap", "--now")
	}

	// A bind mount of the state root made on the host, given as a hostPath.
	bind := t.TempDir()
	if err := unix.Mount(e.root, bind, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("failed to bind the state root at %s: %v", bind, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(bind, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("failed to unmount %s: %v", bind, err)
		}
	})
	for _, tc := range []struct{ name, path string }{
		{"bind of the state root", bind},
		{"under a bind of the state root", filepath.Join(bind, "pods")},
	} {
		tried++
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := e.run("run", e.writeFile("pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hpbind}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: state, mountPath: /state}]
  volumes:
  - name: state
    hostPath: {path: %s, type: Directory}
`, tc.path)))
			if code == 0 {
				seen, _ := e.exec("hpbind", "app", "ls", "/state")
				e.run("delete", "pod", "hpbind", "--now")
				t.Fatalf("ESCAPE: a bind mount of the state root was admitted as a hostPath; the app sees: %q\n%s", seen, out)
			}
			if !strings.Contains(out+errs, "minipod daemon's own state") {
				t.Fatalf("the error does not say why:\nstdout: %s\nstderr: %s", out, errs)
			}
			held++
		})
	}
	securityFigure(t, "escapes (hostPath swapped for the state, host binds of it)", held, tried)
}

// TestSubPathFlipWhileStarting: a native sidecar flips the directory
// behind another container's subPath between a directory and a link to
// the host's "/" while that container is created and started, run after
// run. Each run may start (with the directory) or be refused (the link),
// but no container may ever get the host's root.
func TestSubPathFlipWhileStarting(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	pwned := filepath.Join(host, "pwned")
	manifest := e.writeFile("pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: flip}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  initContainers:
  - name: flipper
    image: docker.io/library/busybox:1.36
    restartPolicy: Always
    command: ["sh", "-c", "cd /shared; while :; do rm -rf sub; mkdir sub; sleep 0.02; rm -rf sub; ln -s / sub; sleep 0.02; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: victim
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "touch /data%s/pwned 2>/dev/null; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /data, subPath: sub}]
  volumes:
  - name: shared
    emptyDir: {}
`, host))
	const runs = 15
	started, refused, vanished, escaped := 0, 0, 0, 0
	for i := 0; i < runs; i++ {
		out, errs, code := e.run("run", manifest)
		switch {
		case code == 0:
			started++
		case strings.Contains(out+errs, "leaves the volume through a symlink"):
			refused++
		case strings.Contains(out+errs, `to rootfs at "/data"`) && strings.Contains(out+errs, "no such file or directory"):
			// The directory that was opened and pinned was removed
			// before runc bound it: the kernel refuses to bind a removed
			// directory.
			vanished++
		default:
			t.Logf("run %d failed otherwise: %s%s", i, out, errs)
		}
		if got, _, _ := e.run("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
			// Whatever the victim could do, it has done once its shell
			// reached sleep.
			eventually(t, 10*time.Second, "the victim to have run its command", func() bool {
				o, _ := e.exec("flip", "victim", "true")
				return strings.TrimSpace(o) == "" || strings.Contains(o, "not running") || strings.Contains(o, "not found")
			})
			e.mustRun("delete", "pod", "flip", "--now")
		}
		if _, err := os.Lstat(pwned); err == nil {
			escaped++
			t.Errorf("ESCAPE in run %d: a container wrote %s through its subPath", i, pwned)
			os.Remove(pwned)
		}
	}
	t.Logf("%d runs: %d started with the directory, %d refused the link, %d found the directory removed", runs, started, refused, vanished)
	securityFigure(t, "escapes (subPath flipped while starting)", runs-escaped, runs)
}
