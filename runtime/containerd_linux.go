package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/minipod/minipod/internal/atomicfile"
)

// The embedded containerd lives under <root>/containerd: its config, root,
// state, socket, log and pid file. It runs in its own session so that it,
// and the pods, outlive the daemon; a restarted daemon reattaches to it.

func embeddedDir(root string) string    { return filepath.Join(root, "containerd") }
func embeddedSocket(root string) string { return filepath.Join(embeddedDir(root), "containerd.sock") }

// EmbeddedPIDFile is the pid file of the containerd minipod starts under root.
func EmbeddedPIDFile(root string) string { return filepath.Join(embeddedDir(root), "containerd.pid") }

func embeddedConfig(root string) string {
	dir := embeddedDir(root)
	// Version 2 is what containerd 1.6 and 1.7 read; the CRI plugin is not
	// needed (minipod is its own pod manager), and cgroupfs is the driver
	// that works with and without systemd.
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), embeddedSocket(root), embeddedSocket(root)+".ttrpc")
}

// startEmbeddedContainerd reattaches to minipod's own containerd, or starts
// it when it is not running.
func startEmbeddedContainerd(ctx context.Context, root, ns string) (*containerd.Client, string, error) {
	sock := embeddedSocket(root)
	pidFile := EmbeddedPIDFile(root)
	if c, err := dial(ctx, sock, ns, 2*time.Second); err == nil {
		return c, pidFile, nil
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, "", fmt.Errorf("failed to start containerd: no containerd binary on PATH and none answers at %q; install it (scripts/install.sh) or pass --containerd-address", SystemContainerdAddress)
	}
	dir := embeddedDir(root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("failed to create %q: %w", dir, err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := atomicfile.Write(cfgPath, []byte(embeddedConfig(root)), 0o600); err != nil {
		return nil, "", fmt.Errorf("failed to write containerd config %q: %w", cfgPath, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open containerd log: %w", err)
	}
	defer logf.Close()
	_ = os.Remove(sock)
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	// Its own session: not killed with the daemon's process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("failed to start containerd: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := atomicfile.Write(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return nil, "", fmt.Errorf("failed to write %q: %w", pidFile, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := dial(ctx, sock, ns, time.Second); err == nil {
			return c, pidFile, nil
		}
		select {
		case err := <-exited:
			return nil, "", fmt.Errorf("containerd exited at start (%v); see %s", err, filepath.Join(dir, "containerd.log"))
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, "", errors.New("containerd did not answer within 30s; see " + filepath.Join(dir, "containerd.log"))
		}
	}
}

// StopEmbeddedContainerd stops the containerd minipod started under root, by
// the pid in its pid file, and waits for it to exit. It is for tests and for
// `minipod daemon --stop-containerd`-like tooling; pods must be deleted first.
func StopEmbeddedContainerd(root string, timeout time.Duration) error {
	b, err := os.ReadFile(EmbeddedPIDFile(root))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad pid file %q", EmbeddedPIDFile(root))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.Remove(EmbeddedPIDFile(root))
		}
		return err
	}
	deadline := time.Now().Add(timeout)
	for syscall.Kill(pid, 0) == nil {
		if isZombie(pid) {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return os.Remove(EmbeddedPIDFile(root))
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}
