package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestSocketAndTCP: the socket is 0660 and root's (or --socket-group's);
// the TCP listener is off unless asked, on loopback only.
func TestSocketAndTCP(t *testing.T) {
	checks, passed := 0, 0
	check := func(ok bool, format string, args ...any) {
		checks++
		if ok {
			passed++
		} else {
			t.Errorf(format, args...)
		}
	}
	port := 19000 + int(envSeq.Load()%500)
	e := newEnv(t, withDaemonArgs("--socket-group", "1", "--listen-tcp", fmt.Sprintf("127.0.0.1:%d", port)))
	st, err := os.Stat(e.socket)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	check(st.Mode().Perm() == 0o660, "socket mode %o, want 0660", st.Mode().Perm())
	check(sys.Uid == 0 && sys.Gid == 1, "socket owned by %d:%d, want 0:1 (--socket-group 1)", sys.Uid, sys.Gid)

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(string(b) == "ok", "healthz over loopback TCP said %q", b)
	} else {
		check(false, "the loopback TCP listener does not answer: %v", err)
	}
	// Only loopback: not on the host's other addresses.
	if ip := hostAddress(); ip != "" {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", ip, port), time.Second)
		if c != nil {
			c.Close()
		}
		check(err != nil, "the API answers on %s:%d", ip, port)
	}

	// Refused: non-loopback addresses, and names.
	for _, addr := range []string{"0.0.0.0:19999", ":19999", "localhost:19999"} {
		dir := t.TempDir()
		cmd := exec.Command(suite.bin, "daemon", "--root", dir, "--socket", filepath.Join(dir, "s.sock"), "--listen-tcp", addr, "--kube-api", "", "--containerd-address", suite.containerd)
		out, err := cmd.CombinedOutput()
		check(err != nil && strings.Contains(string(out), "only a loopback address"), "daemon --listen-tcp %s: %v\n%s", addr, err, out)
	}

	// Without the flag, no TCP listener.
	e2 := newEnv(t)
	_ = e2
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port+1), time.Second)
	if c != nil {
		c.Close()
	}
	check(err != nil, "something listens on 127.0.0.1:%d without --listen-tcp", port+1)
	securityFigure(t, "socket", passed, checks)
}

func hostAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !strings.HasPrefix(n.IP.String(), "10.23") {
			return n.IP.String()
		}
	}
	return ""
}

func securityFigure(t *testing.T, what string, passed, checks int) {
	t.Helper()
	line := fmt.Sprintf("security %s: %d held of %d", what, passed, checks)
	t.Log(line)
	figure(line)
	if passed != checks {
		t.Error(line)
	}
}

// TestSecretsStaySecret: a Secret's value reaches the container (a tmpfs
// file with the requested mode, and an env var) and nowhere else: not the
// daemon's log, describe, get -o yaml/json, error messages, nor any file
// under the state root that is not on tmpfs. And a container cannot see
// the daemon's state root.
func TestSecretsStaySecret(t *testing.T) {
	e := newEnv(t)
	value := "s3cr3t-" + uuid.NewString()
	checks, passed := 0, 0
	check := func(ok bool, format string, args ...any) {
		checks++
		if ok {
			passed++
		} else {
			t.Errorf(format, args...)
		}
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  password: %q
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
    env:
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    volumeMounts: [{name: creds, mountPath: /creds, readOnly: true}]
  volumes:
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
`, value)
	e.apply(manifest)

	// The container gets it, on tmpfs, with mode 0400.
	got, code := e.exec("vault", "app", "cat", "/creds/password")
	check(code == 0 && got == value, "the secret file reads %q (exit %d)", got, code)
	got, _ = e.exec("vault", "app", "sh", "-c", "stat -L -c %a /creds/password")
	check(strings.TrimSpace(got) == "400", "the secret file has mode %s, want 400", strings.TrimSpace(got))
	got, _ = e.exec("vault", "app", "sh", "-c", "grep ' /creds ' /proc/mounts")
	check(strings.Contains(got, "tmpfs"), "/creds is not a tmpfs: %q", got)
	got, _ = e.exec("vault", "app", "sh", "-c", "echo $PASSWORD")
	check(strings.TrimSpace(got) == value, "the env var reads %q", got)

	// The daemon's state root is invisible in the container.
	got, code = e.exec("vault", "app", "sh", "-c", "test -e "+e.root+" && echo visible; grep -c '"+e.root+"' /proc/mounts")
	check(!strings.Contains(got, "visible") && strings.TrimSpace(got) == "0", "the state root is visible in the container: %q (exit %d)", got, code)

	// Nowhere else: what the CLI shows, and error messages.
	for _, args := range [][]string{
		{"get", "pod", "vault", "-o", "yaml"},
		{"get", "pod", "vault", "-o", "json"},
		{"get", "pods", "-o", "wide"},
		{"describe", "pod", "vault"},
		{"get", "secrets"},
	} {
		out, errs, _ := e.run(args...)
		check(!strings.Contains(out+errs, value), "minipod %s shows the secret value", strings.Join(args, " "))
	}
	// The Secret itself, as the README's Security section says: its values
	// base64-encoded, as kubectl shows them to whoever may read Secrets.
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	for _, format := range []string{"yaml", "json"} {
		out, errs, code := e.run("get", "secret", "creds", "-o", format)
		check(code == 0 && strings.Contains(out, encoded) && !strings.Contains(out+errs, value),
			"minipod get secret creds -o %s: exit %d, base64 value shown %v, plain value shown %v", format, code, strings.Contains(out, encoded), strings.Contains(out+errs, value))
	}
	readme := readAll(filepath.Join(suite.repo, "README.md"))
	check(strings.Contains(readme, "`minipod get secret NAME -o yaml|json` shows them base64-encoded"),
		"the README's Security section does not say what get secret -o yaml shows")
	// Errors about the secret: a wrong key, a second pod of the same name,
	// a failing start with the secret in its env.
	bad := strings.Replace(strings.Replace(manifest, "key: password", "key: nosuch", 1), "name: vault", "name: vault2", 1)
	out, errs, code := e.run("run", e.writeFile("bad.yaml", bad))
	check(code != 0 && !strings.Contains(out+errs, value), "an error about a missing key: exit %d, shows the value: %v", code, strings.Contains(out+errs, value))
	dup := strings.Replace(manifest, "name: vault", "name: vault", 1)
	out, errs, code = e.run("run", e.writeFile("dup.yaml", dup))
	check(code != 0 && !strings.Contains(out+errs, value), "a duplicate create: exit %d, shows the value: %v", code, strings.Contains(out+errs, value))
	failing := strings.Replace(strings.Replace(manifest, `command: ["sleep", "3600"]`, `command: ["/no/such/binary"]`, 1), "name: vault", "name: vault3", 1)
	out, errs, code = e.run("run", e.writeFile("fail.yaml", failing))
	check(code != 0 && !strings.Contains(out+errs, value), "a failed start: exit %d, shows the value: %v", code, strings.Contains(out+errs, value))
	// The pod whose container cannot start is kept (retried with back-off,
	// as on a kubelet): its status and events do not show the value either.
	for _, args := range [][]string{{"get", "pod", "vault3", "-o", "yaml"}, {"describe", "pod", "vault3"}, {"events", "vault3"}} {
		out, errs, _ := e.run(args...)
		check(!strings.Contains(out+errs, value), "minipod %s shows the secret value", strings.Join(args, " "))
	}
	e.mustRun("delete", "pod", "vault3")

	// On disk: only on tmpfs.
	tmpfs := tmpfsMounts()
	var onDisk []string
	_ = filepath.Walk(e.root, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() || info.Size() > 64<<20 || strings.HasPrefix(p, filepath.Join(e.root, "containerd")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), value) && !underAny(p, tmpfs) {
			onDisk = append(onDisk, p)
		}
		return nil
	})
	check(len(onDisk) == 0, "the secret value is on disk, not on tmpfs: %v", onDisk)
	// The daemon's own copy of the Secret, in its secret directory: on
	// tmpfs even where /run is not one.
	var stored, storedOnDisk []string
	_ = filepath.Walk(e.secretsMount(), func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && (strings.Contains(string(b), value) || strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte(value)))) {
			stored = append(stored, p)
			if !underAny(p, tmpfs) {
				storedOnDisk = append(storedOnDisk, p)
			}
		}
		return nil
	})
	check(len(stored) > 0 && len(storedOnDisk) == 0, "the daemon's copy of the Secret: %v, not on tmpfs: %v", stored, storedOnDisk)

	e.mustRun("delete", "pod", "vault")
	// The daemon's log, last: everything above went through it.
	check(!strings.Contains(readAll(e.logPath()), value), "the daemon's log holds the secret value")
	check(len(e.leaked()) == 0, "left behind: %v", e.leaked())
	securityFigure(t, "secrets", passed, checks)
}

func readAll(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// tmpfsMounts are the mount points of tmpfs file systems.
func tmpfsMounts() []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 3 && fields[2] == "tmpfs" {
			out = append(out, fields[1])
		}
	}
	return out
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if d != "/" && (p == d || strings.HasPrefix(p, d+"/")) {
			return true
		}
	}
	return false
}
