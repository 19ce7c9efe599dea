package e2e

import (
	"bufio"
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minipod/minipod/netns"
)

// A user's directory: a text file, an executable, a private file in a
// subdirectory, directories named as minipod's state root holds them, and
// a listening unix socket.
type userDir struct {
	path string
	sock net.Listener
}

func newUserDir(t *testing.T, path string) *userDir {
	t.Helper()
	files := map[string]fs.FileMode{
		"notes.txt":               0o644,
		"run.sh":                  0o755,
		"sub/key.pem":             0o600,
		"logs/my_app/today.log":   0o640,
		"pods/not-a-uid/pod.json": 0o644,
	}
	for name, mode := range files {
		p := filepath.Join(path, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := "a user's " + name + "\n"
		if name == "run.sh" {
			content = "#!/bin/sh\necho the tool runs\n"
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("unix", filepath.Join(path, "app.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return &userDir{path: path, sock: l}
}

// state is every path under the user's directory, except those under
// skip, with its mode and content.
func (u *userDir) state(t *testing.T, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(u.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip != "" && p == skip {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// check requires the directory to be as it was, its tool to run and its
// socket to answer.
func (u *userDir) check(t *testing.T, when string, before map[string]string, skip string) {
	t.Helper()
	after := u.state(t, skip)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed: %q -> %q", when, p, v, after[p])
		}
	}
	for p, v := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared (%s)", when, p, v)
		}
	}
	if out, err := exec.Command(filepath.Join(u.path, "run.sh")).CombinedOutput(); err != nil || string(out) != "the tool runs\n" {
		t.Errorf("%s: the user's executable does not run: %v %q", when, err, out)
	}
	c, err := net.DialTimeout("unix", filepath.Join(u.path, "app.sock"), time.Second)
	if err != nil {
		t.Errorf("%s: the user's socket does not answer: %v", when, err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "hello\n" {
		t.Errorf("%s: the user's socket: %q %v", when, line, err)
	}
	if m := mountsAt(u.path); len(m) > 0 {
		t.Errorf("%s: something is mounted on the user's directory: %v", when, m)
	}
}

// mountsAt lists the mount points at exactly p.
func mountsAt(p string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 8 && f[4] == p {
			out = append(out, f[4]+" "+f[len(f)-3])
		}
	}
	return out
}

// TestSecretDirKeepsUserFiles: a --secret-dir under a directory of a
// user's files gets a tmpfs of its own, and the user's files (the
// --cni-conflist among them) stay byte for byte and mode for mode, the
// executable runs and the socket answers: before, while a pod with a
// Secret volume runs, across a daemon restart, and after the daemon is
// gone.
func TestSecretDirKeepsUserFiles(t *testing.T) {
	requireSuite(t)
	u := newUserDir(t, t.TempDir())
	secrets := filepath.Join(u.path, "secrets")
	before := u.state(t, "")
	// Registered before the env, so it runs after the env's cleanup.
	t.Cleanup(func() {
		u.check(t, "after the daemon", before, "")
		if _, err := os.Lstat(secrets); err == nil {
			t.Errorf("%s is left", secrets)
		}
	})
	// The pod network comes from a conflist in the user's directory too:
	// minipod only reads it. It names the env's own network, so it is
	// written once the env has chosen them, before its daemon starts.
	conflist := filepath.Join(u.path, "pods.conflist")
	withConflist := func(e *env) {
		b := netns.DefaultConfList(netns.CNIConfig{Name: e.network, Bridge: e.bridge, Subnet: e.subnet,
			DataDir: filepath.Join(e.root, "cni", "networks"), Firewall: netns.ForwardPolicyDrops()})
		if err := os.WriteFile(conflist, b, 0o644); err != nil {
			t.Fatal(err)
		}
		before[conflist] = "-rw-r--r-- " + string(b)
		e.extra = append(e.extra, "--cni-conflist", conflist)
	}
	e := newEnv(t, withSecretDir(secrets), withConflist)
	u.check(t, "daemon started", before, secrets)
	if m := mountsAt(secrets); len(m) != 1 || !strings.HasSuffix(m[0], " tmpfs") {
		t.Errorf("mounts on %s: %v; want one tmpfs", secrets, m)
	}

	e.apply(`apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: vault}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts: [{name: creds, mountPath: /creds, readOnly: true}]
  volumes:
  - name: creds
    secret: {secretName: creds}
`)
	if out, code := e.exec("vault", "app", "cat", "/creds/password"); code != 0 || out != "s3cret" {
		t.Fatalf("the Secret in the pod: exit %d %q", code, out)
	}
	u.check(t, "a pod with a Secret runs", before, secrets)

	// The next daemon takes the secret directory as its own: the Secret
	// is still there, nothing is mounted twice.
	e.stop()
	e.start()
	if out, _, code := e.run("get", "secret", "creds"); code != 0 || !strings.Contains(out, "creds") {
		t.Errorf("the Secret after a daemon restart: exit %d %q", code, out)
	}
	if m := mountsAt(secrets); len(m) != 1 {
		t.Errorf("mounts on %s after a restart: %v", secrets, m)
	}
	u.check(t, "daemon restarted", before, secrets)
	e.mustRun("delete", "pod", "vault")
	u.check(t, "pod deleted", before, secrets)
}

// daemonRefuses runs `minipod daemon` with args and requires it to fail at
// start with an error that names flag and path. A daemon that starts
// instead (the bug) is killed by its pid once it listens.
func daemonRefuses(t *testing.T, flag, path string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, append([]string{"daemon"}, args...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
		}
		t.Errorf("minipod daemon %s %s started instead of refusing it:\n%s", flag, path, out.String())
		return
	}
	msg := out.String()
	if err == nil || !strings.Contains(msg, flag) || !strings.Contains(msg, path) {
		t.Errorf("minipod daemon with %s %s: %v; want a refusal naming %s and the path:\n%s", flag, path, err, flag, msg)
	}
}

// TestDaemonRefusesUserDirs: --secret-dir, --root and --netns-dir at a
// directory of a user's files, and --socket at a user's file, are refused
// at start with the flag and path named; the user's files stay as they
// were, and nothing is created: no state root, socket, netns directory,
// secret directory or mount.
func TestDaemonRefusesUserDirs(t *testing.T) {
	requireSuite(t)
	for _, flag := range []string{"--secret-dir", "--root", "--netns-dir", "--socket"} {
		t.Run(strings.TrimPrefix(flag, "--"), func(t *testing.T) {
			base := t.TempDir()
			t.Cleanup(func() { unmountUnder(base) })
			u := newUserDir(t, filepath.Join(base, "user"))
			// The other flags name new paths apart from the user's.
			own := filepath.Join(base, "minipod")
			paths := map[string]string{
				"--root":       filepath.Join(own, "root"),
				"--socket":     filepath.Join(own, "run", "minipod.sock"),
				"--netns-dir":  filepath.Join(own, "netns"),
				"--secret-dir": filepath.Join(own, "secrets"),
			}
			paths[flag] = u.path
			if flag == "--socket" {
				paths[flag] = filepath.Join(u.path, "notes.txt")
			}
			before := u.state(t, "")
			args := []string{"--containerd-address", suite.containerd, "--containerd-namespace", "mpt-refuse", "--network", "mpt-refuse"}
			for f, p := range paths {
				args = append(args, f, p)
			}
			daemonRefuses(t, flag, paths[flag], args...)
			u.check(t, "refused", before, "")
			entries, _ := os.ReadDir(base)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the refused daemon created %v beside the user's directory", names)
			}
		})
	}
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			ms = append(ms, f[4])
		}
	}
	for i := len(ms) - 1; i >= 0; i-- {
		_ = syscall.Unmount(ms[i], syscall.MNT_DETACH)
	}
}
