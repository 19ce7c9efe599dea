package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// dirMu serialises making Dir() a shared mount point, so two concurrent
// New calls cannot both bind-mount it onto itself.
var dirMu sync.Mutex

// New creates a network namespace, pins it at Dir()/<name> and brings its
// loopback interface up. It fails with errdefs.ErrAlreadyExists when that
// name is taken. On failure nothing is left behind.
func New(name string) (*NetNS, error) { return NewIn(runDir, name) }

// NewIn is New with the namespace pinned in dir instead of Dir().
func NewIn(dir, name string) (*NetNS, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	dirMu.Lock()
	err := makeDirShared(dir)
	dirMu.Unlock()
	if err != nil {
		return nil, err
	}

	n := &NetNS{name: name, path: filepath.Join(dir, name)}
	// O_EXCL makes the name check and the claim one step.
	f, err := os.OpenFile(n.path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("failed to create network namespace %q: %w", name, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("failed to create network namespace %q: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return nil, errors.Join(fmt.Errorf("failed to create network namespace %q: %w", name, err), n.Remove())
	}
	if err := pin(n.path); err != nil {
		return nil, errors.Join(fmt.Errorf("failed to create network namespace %q: %w", name, err), n.Remove())
	}
	return n, nil
}

// Load returns the namespace pinned at Dir()/<name>, or errdefs.ErrNotFound.
// A file left there by a creation that crashed before it was mounted is
// returned too, so that Remove can clean it up.
func Load(name string) (*NetNS, error) { return LoadIn(runDir, name) }

// LoadIn is Load of a namespace pinned in dir.
func LoadIn(dir, name string) (*NetNS, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	n := &NetNS{name: name, path: filepath.Join(dir, name)}
	if _, err := os.Lstat(n.path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("failed to load network namespace %q: %w", name, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("failed to load network namespace %q: %w", name, err)
	}
	return n, nil
}

// Remove unpins the namespace (a lazy unmount, so a process still inside
// keeps it alive until it exits) and removes its file. Removing a namespace
// that is already gone is not an error. Only what New makes is touched: a
// namespace mount is unmounted, and the file is removed only when it is the
// empty file New creates; anything else at the path (a user's file, another
// kind of mount) is left as it is and reported.
func (n *NetNS) Remove() error {
	if isNetNS(n.path) {
		if err := unix.Unmount(n.path, unix.MNT_DETACH); err != nil &&
			!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			// EINVAL: not a mount point (already unmounted).
			return fmt.Errorf("failed to unmount network namespace %q: %w", n.name, err)
		}
	}
	fi, err := os.Lstat(n.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to remove network namespace %q: %w", n.name, err)
	}
	if !isPinFile(fi) {
		return fmt.Errorf("failed to remove network namespace %q: %q is not a network namespace pin, so it was not made by minipod; left as it is: %w",
			n.name, n.path, errdefs.ErrFailedPrecondition)
	}
	if err := os.Remove(n.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to remove network namespace %q: %w", n.name, err)
	}
	return nil
}

// isPinFile reports whether fi is the empty regular file a namespace is
// pinned on (also what a creation that crashed before mounting leaves).
func isPinFile(fi os.FileInfo) bool { return fi.Mode().IsRegular() && fi.Size() == 0 }

// CheckDir checks, creating nothing, that dir may hold minipod's pinned
// namespaces: it is absent (it will be created), or a directory that
// holds nothing but network namespace pins, as /run/netns does. A
// directory of other files is refused: minipod would bind-mount it onto
// itself to share its mounts.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("not a directory: give a new directory, or one of network namespaces such as /run/netns: %w", errdefs.ErrInvalidArgument)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if isNetNS(p) {
			continue
		}
		if fi, err := e.Info(); err == nil && isPinFile(fi) {
			continue
		}
		return fmt.Errorf("holds %q, which is not a network namespace: minipod pins namespaces only in a new directory or one of network namespaces such as /run/netns, and never mounts over other files: %w", e.Name(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// makeDirShared makes dir a shared mount point, as `ip netns add` does, so
// that a pin mounted or unmounted here propagates into mount namespaces
// copied from the host (and an unmount does not leave the namespace held by
// a copy). A directory that is not a mount point yet is bind-mounted onto
// itself first.
func makeDirShared(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create network namespace directory %q: %w", dir, err)
	}
	for bound := false; ; bound = true {
		err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("failed to make network namespace directory %q a shared mount: %w", dir, err)
		}
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("failed to bind-mount network namespace directory %q: %w", dir, err)
		}
	}
}

// pin creates a new network namespace on a dedicated, locked OS thread,
// bind-mounts it onto target, brings loopback up inside it, and returns the
// thread to the host namespace. If the thread cannot return it stays locked,
// so it exits with its goroutine instead of running other goroutines in the
// wrong namespace.
func pin(target string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// netns.Get reads /proc/<pid>/task/<tid>/ns/net: this thread's
		// namespace, not the main thread's.
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("failed to open the host network namespace: %w", err)
			return
		}
		defer host.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // unshare failed: still in the host namespace
			errc <- fmt.Errorf("failed to unshare the network namespace: %w", err)
			return
		}
		err = setupCurrent(target)
		if serr := netns.Set(host); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("failed to return to the host network namespace: %w", serr))
			return // the thread stays locked and dies
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// setupCurrent pins the calling thread's network namespace onto target and
// brings its loopback up. The thread must be locked and inside the new
// namespace.
func setupCurrent(target string) error {
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Mount(self, target, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("failed to bind-mount %q on %q: %w", self, target, err)
	}
	// Package-level netlink calls open their socket in the calling thread's
	// namespace, which is the new one here.
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("failed to find loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("failed to bring loopback up: %w", err)
	}
	return nil
}

// isNetNS reports whether path is a pinned network namespace (a mount of
// nsfs, or of proc on kernels before 3.19), not a plain file left behind.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC
}

// checkBridge refuses a bridge that exists already with IPv4 addresses of
// which none is the gateway of subnet: another network (another minipod
// daemon's, a user's) owns it, and the bridge plugin would fail on the
// first pod ("already has an IP address different from ...").
func checkBridge(name, subnet string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("failed to look up bridge %q: %w", name, err)
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("%w: %q is a %s, not a bridge", ErrBridgeTaken, name, l.Type())
	}
	gw, err := gatewayOf(subnet)
	if err != nil {
		return err
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("failed to list the addresses of bridge %q: %w", name, err)
	}
	var others []string
	for _, a := range addrs {
		if a.IPNet.String() == gw.String() {
			return nil
		}
		others = append(others, a.IPNet.String())
	}
	if len(others) == 0 {
		return nil
	}
	return fmt.Errorf("%w: bridge %q has address %s, not %s (the gateway of subnet %s)", ErrBridgeTaken, name, strings.Join(others, ", "), gw, subnet)
}
