package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minipod/minipod/internal/atomicfile"
)

// With shareProcessNamespace, the pod's containers share one PID
// namespace. A PID namespace needs a living init, so minipod starts a tiny
// one of its own (`minipod pause`, in its own session, so it outlives a
// daemon restart), pins its PID namespace next to the pod's IPC and UTS
// ones, and every container joins it. It reaps orphans as the kubelet's
// pause container does.

const pausePIDFile = "pause.pid"

// startPause starts the pod's PID-namespace init and pins the namespace
// at dir/pid.
func startPause(dir, exe string) error {
	pidPath := filepath.Join(dir, "pid")
	f, err := os.OpenFile(pidPath, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("failed to create the PID namespace file: %w", err)
	}
	f.Close()
	cmd := exec.Command(exe, "pause")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start the pod's PID namespace init: %w", err)
	}
	pid := cmd.Process.Pid
	// Reaped here while this daemon lives; by init after.
	go func() { _ = cmd.Wait() }()
	if err := atomicfile.Write(filepath.Join(dir, pausePIDFile), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/pid", pid), pidPath, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("failed to pin the pod's PID namespace: %w", err)
	}
	return nil
}

// stopPause kills the pod's PID-namespace init, if it runs, by the pid it
// recorded (after checking the process is still that init).
func stopPause(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, pausePIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad pause pid file in %q", dir)
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.HasSuffix(string(cmdline), "pause\x00") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil && !isZombie(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return os.Remove(filepath.Join(dir, pausePIDFile))
}

// RunPause is `minipod pause`: PID 1 of a pod's shared PID namespace. It
// reaps whatever is reparented to it and exits on SIGTERM or SIGINT.
func RunPause() error {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			return nil
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return nil
}
