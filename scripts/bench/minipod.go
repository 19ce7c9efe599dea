package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
	"github.com/minipod/minipod/netns"
)

const benchImage = "docker.io/library/busybox:1.36"

// minipodSystem is the run's private minipod daemon.
type minipodSystem struct {
	b       *bench
	bin     string
	root    string
	socket  string
	network string
	dir     string // manifests
	cmd     *exec.Cmd
	exited  chan error
	client  *client.Client
	mu      sync.Mutex
	uids    map[string]bool // every pod UID the run created, for clean-up
}

func startMinipod(ctx context.Context, b *bench) (*minipodSystem, error) {
	m := &minipodSystem{
		b:       b,
		bin:     b.cfg.minipod,
		root:    filepath.Join(b.work, "minipod"),
		socket:  filepath.Join(b.work, "minipod.sock"),
		network: "mpbench-" + b.cfg.id,
		dir:     filepath.Join(b.work, "manifests", "minipod"),
		uids:    map[string]bool{},
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"daemon", "--root", m.root, "--socket", m.socket,
		"--containerd-address", b.containerdSock, "--containerd-namespace", b.ns(),
		"--network", m.network, "--bridge", b.bridge("0"), "--subnet", b.subnet(0, 22),
		// Secrets on a tmpfs under the run's work directory, which cleanup
		// unmounts: nothing under the host's /run/minipod.
		"--secret-dir", filepath.Join(b.work, "secrets", "s"),
		// The Kubernetes API is served (its cost is part of the figures),
		// on a free port rather than a user's 6443.
		"--kube-api", "127.0.0.1:0",
		"--log-level", "warn"}
	if b.cfg.profile {
		args = append(args, "--pprof")
	}
	args = append(args, b.cfg.daemonArgs...)
	logf("starting %s %s", m.bin, strings.Join(args, " "))
	logFile, err := os.Create(filepath.Join(b.work, "daemon.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	m.cmd = exec.Command(m.bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the minipod daemon: %w", err)
	}
	m.exited = make(chan error, 1)
	go func() { m.exited <- m.cmd.Wait() }()
	b.onCleanup(m.stop)
	m.client = client.New(m.socket)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := m.client.Ping(ctx); err == nil {
			break
		}
		select {
		case err := <-m.exited:
			m.exited <- err
			return nil, fmt.Errorf("the minipod daemon exited at start: %v\n%s", err, tail(filepath.Join(b.work, "daemon.log")))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the minipod daemon did not answer within 30s\n%s", tail(filepath.Join(b.work, "daemon.log")))
		}
	}
	if err := m.cli(ctx, "image", "load", b.cfg.image); err != nil {
		return nil, err
	}
	return m, nil
}

// stop deletes the pods the run left, ends the daemon by its pid and
// removes what a dead daemon could have left: netns of the run's pods, the
// bridge.
func (m *minipodSystem) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if pods, err := m.client.ListPods(ctx, ""); err == nil {
		zero := int64(0)
		for _, p := range pods {
			if err := m.client.DeletePod(ctx, p.Namespace, p.Name, api.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				logf("failed to delete pod %s: %v", p.Name, err)
			}
		}
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		logf("the minipod daemon (pid %d) ignored SIGTERM for 30s: killing it", m.cmd.Process.Pid)
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for uid := range m.uids {
		if ns, err := netns.Load("minipod-" + uid); err == nil {
			_ = ns.Remove()
		}
	}
	deleteLink(m.b.bridge("0"))
}

// cli runs the minipod CLI against the run's daemon.
func (m *minipodSystem) cli(ctx context.Context, args ...string) error {
	return runCmd(ctx, []string{"MINIPOD_SOCKET=" + m.socket}, m.bin, args...)
}

func (m *minipodSystem) manifest(name string) string { return filepath.Join(m.dir, name+".yaml") }

func (m *minipodSystem) write(name string, n int, cmd []string, grace int64) error {
	return writePod(m.manifest(name), name, n, cmd, grace)
}

// run is `minipod run FILE`: it returns when every container runs.
func (m *minipodSystem) run(ctx context.Context, name string) error {
	if err := m.cli(ctx, "run", m.manifest(name)); err != nil {
		return err
	}
	return m.remember(ctx, name)
}

// remember notes the pod's UID, so that clean-up finds its netns even if
// the daemon dies.
func (m *minipodSystem) remember(ctx context.Context, name string) error {
	p, err := m.client.GetPod(ctx, "default", name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.uids[string(p.UID)] = true
	m.mu.Unlock()
	return nil
}

// delete is `minipod delete pod NAME`, with the pod's grace period.
func (m *minipodSystem) delete(ctx context.Context, name string) error {
	return m.cli(ctx, "delete", "pod", name)
}

// deleteNow kills the pod's containers at once (untimed clean-up).
func (m *minipodSystem) deleteNow(ctx context.Context, name string) error {
	zero := int64(0)
	return m.client.DeletePod(ctx, "default", name, api.DeleteOptions{GracePeriodSeconds: &zero})
}

// forget removes a pod after a failed repetition, if it exists.
func (m *minipodSystem) forget(ctx context.Context, name string) error {
	err := m.deleteNow(ctx, name)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// profile saves CPU profiles of the daemon to file.N.pprof, 10 s each,
// until the returned function is called.
func (m *minipodSystem) profile(file string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", m.socket)
	}}}
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://minipod/debug/pprof/profile?seconds=10", nil)
			resp, err := hc.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					logf("failed to take a CPU profile: %v", err)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				logf("failed to take a CPU profile: %s: %s (is the daemon run with --pprof?)", resp.Status, strings.TrimSpace(string(msg)))
				return
			}
			name := strings.TrimSuffix(file, ".pprof") + fmt.Sprintf(".%d.pprof", i)
			if err := saveTo(name, resp.Body); err != nil {
				logf("failed to save a CPU profile: %v", err)
			} else {
				logf("CPU profile %s", name)
			}
			resp.Body.Close()
		}
	}()
	return func() { cancel(); <-done }
}

func saveTo(name string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Close())
}

// writePod writes a pod of n busybox containers running cmd, as YAML
// (strings quoted as JSON, which YAML reads).
func writePod(file, name string, n int, cmd []string, grace int64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: %d\n  containers:\n", name, grace)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    image: %s\n    command: %s\n", i, benchImage, jsonString(cmd))
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// podOf is the same pod as writePod's, for the Go client.
func podOf(name string, n int, cmd []string, grace int64) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	p.Spec.TerminationGracePeriodSeconds = &grace
	for i := 0; i < n; i++ {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name: fmt.Sprintf("c%d", i), Image: benchImage, Command: cmd,
		})
	}
	return p
}

// tail returns the end of a log file.
func tail(file string) string {
	b, _ := os.ReadFile(file)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// jsonString is for error messages.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
