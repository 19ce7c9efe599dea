package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The pod's IPC and UTS namespaces are pinned like its network namespace:
// created once by unshare on a locked thread, bind-mounted to files under
// the pod directory, and joined by every container by path. No pause
// container is needed to hold them.

// pinPodNamespaces creates the pod's IPC and UTS namespaces, sets the
// hostname in the UTS one and pins both under dir (files "ipc" and "uts").
func pinPodNamespaces(dir, hostname string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create namespace directory %q: %w", dir, err)
	}
	for _, n := range []string{"ipc", "uts"} {
		f, err := os.OpenFile(filepath.Join(dir, n), os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			return fmt.Errorf("failed to create namespace file %q: %w", n, err)
		}
		f.Close()
	}
	errc := make(chan error, 1)
	go func() {
		// This goroutine's thread changes namespaces. It is locked to the
		// thread and, if it cannot switch back, never unlocked: the thread
		// then dies with the goroutine instead of serving other work.
		goruntime.LockOSThread()
		tid := unix.Gettid()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/", os.Getpid(), tid)
		origIPC, err := unix.Open(self+"ipc", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to open current ipc namespace: %w", err)
			return
		}
		defer unix.Close(origIPC)
		origUTS, err := unix.Open(self+"uts", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to open current uts namespace: %w", err)
			return
		}
		defer unix.Close(origUTS)
		if err := unix.Unshare(unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to unshare ipc and uts namespaces: %w", err)
			return
		}
		pinErr := unix.Sethostname([]byte(hostname))
		if pinErr == nil {
			for _, n := range []string{"ipc", "uts"} {
				if err := unix.Mount(self+n, filepath.Join(dir, n), "", unix.MS_BIND, ""); err != nil {
					pinErr = fmt.Errorf("failed to pin %s namespace: %w", n, err)
					break
				}
			}
		}
		back := errors.Join(unix.Setns(origIPC, unix.CLONE_NEWIPC), unix.Setns(origUTS, unix.CLONE_NEWUTS))
		if back == nil {
			goruntime.UnlockOSThread()
		}
		errc <- pinErr
	}()
	return <-errc
}

// unpinPodNamespaces unmounts and removes the pinned namespaces; absent is
// fine.
func unpinPodNamespaces(dir string) error {
	var errs []error
	errs = append(errs, stopPause(dir))
	for _, n := range []string{"ipc", "uts", "pid"} {
		p := filepath.Join(dir, n)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to unmount %q: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hostResources are the node's allocatable CPUs and memory, for
// resourceFieldRefs of containers without a limit.
func hostResources() (int, int64) {
	var mem int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				mem = kb * 1024
			}
		}
	}
	return goruntime.NumCPU(), mem
}
