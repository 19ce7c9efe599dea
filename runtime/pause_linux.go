package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
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

// startPause starts the pod's PID-namespace init in a "pause" child of
// each of the pod's cgroup directories, and pins the namespace at dir/pid.
func startPause(dir, exe string, podCgroups []string) error {
	pidPath := filepath.Join(dir, "pid")
	f, err := os.OpenFile(pidPath, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("failed to create the PID namespace file: %w", err)
	}
	f.Close()
	cmd := exec.Command(exe, "pause")
	// A mount namespace of its own too, so that RunPause can leave the
	// host's file system behind (see isolatePause).
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS, Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start the pod's PID namespace init: %w", err)
	}
	pid := cmd.Process.Pid
	// Reaped here while this daemon lives; by init after.
	go func() { _ = cmd.Wait() }()
	for _, cg := range podCgroups {
		child := filepath.Join(cg, "pause")
		if err := os.Mkdir(child, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("failed to create the pause's cgroup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(child, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("failed to move the pause into cgroup %q: %w", child, err)
		}
	}
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

// pauseUID is the user the pause process runs as, the kubelet's pause
// image's (65535).
const pauseUID = 65535

// RunPause is `minipod pause`: PID 1 of a pod's shared PID namespace. It
// first isolates itself, then reaps whatever is reparented to it and exits
// on SIGTERM or SIGINT.
func RunPause() error {
	if err := isolatePause(); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
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

// `minipod pause` runs on the main thread (see isolatePause): a call of
// LockOSThread in an init function makes main run on it.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "pause" {
		goruntime.LockOSThread()
	}
}

// isolatePause gives the pause process what the kubelet's pause container
// has, so that a container of the pod learns nothing about the host from
// its PID 1 (/proc/1/mountinfo, /proc/1/root, /proc/1/status): its own
// mount namespace with an empty, read-only tmpfs as its root and nothing
// else mounted, no capabilities (bounding set included), no new privileges,
// and user and group 65535. The bounding set and no_new_privs belong to a
// thread: they are set on the main thread, the one /proc/1 shows and the
// one that runs the pause, and on every thread where the Go runtime can
// (not with cgo); the user change clears every thread's capabilities.
func isolatePause() error {
	// Nothing done here may reach the host's mounts.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("failed to make the mounts private: %w", err)
	}
	// The new root: a tmpfs mounted over /tmp in this namespace only.
	root := "/tmp"
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=16k,mode=0755"); err != nil {
		return fmt.Errorf("failed to mount the pause root: %w", err)
	}
	if err := os.Mkdir(filepath.Join(root, "old"), 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, filepath.Join(root, "old")); err != nil {
		return fmt.Errorf("failed to pivot to the pause root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/old", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("failed to leave the host's file system: %w", err)
	}
	if err := os.Remove("/old"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("failed to make the pause root read-only: %w", err)
	}
	// The bounding set first (that needs CAP_SETPCAP), then the user
	// change, which clears every other capability.
	perThread := func(option, arg uintptr) error {
		if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, option, arg, 0, 0, 0, 0); errno != 0 && errno != syscall.ENOTSUP && errno != unix.EINVAL {
			return errno
		}
		if err := unix.Prctl(int(option), arg, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return err
		}
		return nil
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if err := perThread(unix.PR_CAPBSET_DROP, uintptr(c)); err != nil {
			return fmt.Errorf("failed to drop capability %d: %w", c, err)
		}
	}
	if err := perThread(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("failed to set no_new_privs: %w", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("failed to drop supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(pauseUID, pauseUID, pauseUID); err != nil {
		return fmt.Errorf("failed to set the pause group: %w", err)
	}
	if err := syscall.Setresuid(pauseUID, pauseUID, pauseUID); err != nil {
		return fmt.Errorf("failed to set the pause user: %w", err)
	}
	return nil
}
