package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container's volume mounts are pinned at every start, as the kubelet
// does with its subpath bind mounts: the source (the volume, or the subPath
// in it) is opened as it is on disk at that moment, checked on the open
// descriptor, and that descriptor is bind-mounted (/proc/self/fd/N) at a
// mount point of the daemon's own, which is what the container's spec
// names. Whatever a container does to the volume between two starts (a
// directory swapped for a link, a link to the host's /), the next start
// resolves it afresh; and what is checked is what is mounted, so a race
// between the check and the mount cannot be won.

// MountAt returns the OCI bind mount that shows volume v at m.ContainerPath
// from the mount point target, which Pin fills before each start of the
// container. It checks m against v and touches nothing on disk.
func MountAt(v Volume, m Mount, target string) (specs.Mount, error) {
	mnt, err := checkMount(v, m)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("failed to mount volume %q at %q: %w", m.Volume, m.ContainerPath, err)
	}
	mnt.Source = target
	return mnt, nil
}

// Pin resolves the source of m in v as it is now and bind-mounts it
// (recursively) at target, replacing whatever was mounted there. The volume
// root is opened following links for a hostPath (its links are the host's)
// and without for the volumes minipod makes; a subPath is resolved beneath
// it without ever leaving it (openSubPath). For a hostPath volume the open
// descriptor must not expose any of the directories in deny (see
// checkExposure). target's parent must be a directory only the daemon
// writes.
func Pin(v Volume, m Mount, target string, deny []string) error {
	if err := pin(v, m, target, deny); err != nil {
		return fmt.Errorf("failed to mount volume %q at %q: %w", m.Volume, m.ContainerPath, err)
	}
	return nil
}

func pin(v Volume, m Mount, target string, deny []string) error {
	if _, err := checkMount(v, m); err != nil {
		return err
	}
	flags := unix.O_PATH | unix.O_CLOEXEC
	if v.Kind != HostPath {
		flags |= unix.O_NOFOLLOW
	}
	root := filepath.Clean(v.Path)
	fd, err := unix.Open(root, flags, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return classf(errdefs.ErrNotFound, "volume path %q does not exist (any more); recreate it, or delete and run the pod again", root)
		}
		return fmt.Errorf("failed to open volume path %q: %w", root, err)
	}
	defer func() { unix.Close(fd) }()
	if m.SubPath != "" {
		rel, err := cleanRelative(m.SubPath)
		if err != nil {
			return classf(errdefs.ErrInvalidArgument, "subPath %q: %v", m.SubPath, err)
		}
		sub, err := openSubPath(fd, root, m.SubPath, rel)
		if err != nil {
			return err
		}
		unix.Close(fd)
		fd = sub
	}
	if v.Kind == HostPath {
		if err := checkExposure(fd, v.Path, deny); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("failed to inspect the source of volume %q: %w", v.Name, err)
	}
	if err := unmountStack(target); err != nil {
		return err
	}
	if err := makeMountPoint(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("failed to bind the source of volume %q at %q: %w", v.Name, target, err)
	}
	return nil
}

// unmountStack detaches every mount stacked at target (none is fine).
func unmountStack(target string) error {
	for i := 0; ; i++ {
		err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		switch {
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case err != nil:
			return fmt.Errorf("failed to unmount %q: %w", target, err)
		case i > 1000:
			return fmt.Errorf("failed to unmount %q: mounts keep appearing there", target)
		}
	}
}

// makeMountPoint creates target as an empty directory, or an empty file for
// a source that is not a directory; what is there of the other kind is
// replaced (it is the daemon's own mount point).
func makeMountPoint(target string, dir bool) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("failed to create mount point %q: %w", target, err)
	}
	fi, err := os.Lstat(target)
	if err == nil && fi.IsDir() == dir && fi.Mode().Type()&os.ModeSymlink == 0 {
		return nil
	}
	if err == nil {
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("failed to replace mount point %q: %w", target, err)
		}
	}
	if dir {
		err = os.Mkdir(target, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("failed to create mount point %q: %w", target, err)
	}
	return nil
}

// Unpin unmounts everything Pin mounted at or under dir and removes dir.
// It never removes through a mount, and succeeds when dir is gone.
func Unpin(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unmountAll(dir); err != nil {
		return err
	}
	if left, err := MountsUnder(dir); err != nil {
		return err
	} else if len(left) > 0 {
		return classf(errdefs.ErrFailedPrecondition, "%q still has %d mount(s) under it (first %q); unmount them and retry", dir, len(left), left[0])
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("failed to remove %q: %w", dir, err)
	}
	return nil
}

// fsLocation says where a directory is independently of the path that
// reached it: the file system (the mount's device) and the path within it.
// A bind mount of a directory elsewhere has the same location.
type fsLocation struct {
	dev  string // major:minor, as /proc/self/mountinfo gives it
	path string // the path inside that file system
}

// locate returns where fd is: its path as the kernel resolved it, and its
// location in its file system, from the mount the descriptor is on
// (mnt_id in /proc/self/fdinfo) and that mount's root in mountinfo.
func locate(fd int, mounts []mountEntry) (string, fsLocation, error) {
	p, err := fdPath(fd)
	if err != nil {
		return "", fsLocation{}, err
	}
	info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return "", fsLocation{}, fmt.Errorf("failed to read the mount of %q: %w", p, err)
	}
	id := ""
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
			id = strings.TrimSpace(v)
		}
	}
	for _, e := range mounts {
		if e.ID != id || !within(p, e.MountPoint) {
			continue
		}
		rel, _ := filepath.Rel(e.MountPoint, p)
		return p, fsLocation{dev: e.Dev, path: filepath.Join(e.Root, rel)}, nil
	}
	return "", fsLocation{}, fmt.Errorf("failed to find the mount of %q (mount id %q) in %s", p, id, mountInfoPath)
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// overlaps reports whether one of two locations is the other or under it.
func (a fsLocation) overlaps(b fsLocation) bool {
	return a.dev == b.dev && (within(a.path, b.path) || within(b.path, a.path))
}

// checkExposure refuses a hostPath source (the open descriptor fd) that
// exposes any directory of deny, judged on what fd is and not on the path
// that named it: its resolved path is one of them, under or above one; or
// it is the same directory of the same file system as one of them, or
// under or above it, reached another way (a bind mount made on the host);
// or a mount under it shows one of them (recursive binds carry it).
func checkExposure(fd int, name string, deny []string) error {
	mounts, err := readMountInfo()
	if err != nil {
		return err
	}
	path, loc, err := locate(fd, mounts)
	if err != nil {
		return err
	}
	for _, d := range deny {
		dfd, err := unix.Open(d, unix.O_PATH|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("failed to open %q to compare hostPath %q with it: %w", d, name, err)
		}
		dpath, dloc, err := locate(dfd, mounts)
		unix.Close(dfd)
		if err != nil {
			return err
		}
		refuse := func(how string) error {
			return classf(errdefs.ErrPermissionDenied, "hostPath %q is now %q, which %s the minipod daemon's own state (%s); minipod refuses hostPath volumes on, under or above its state: check what replaced the path", name, path, how, d)
		}
		switch {
		case within(path, dpath) || within(dpath, path):
			return refuse("reaches")
		case loc.overlaps(dloc):
			return refuse("is a bind mount reaching")
		}
		for _, e := range mounts {
			if e.MountPoint != path && within(e.MountPoint, path) && (fsLocation{dev: e.Dev, path: e.Root}).overlaps(dloc) {
				return refuse(fmt.Sprintf("holds a mount (%s) of", e.MountPoint))
			}
		}
	}
	return nil
}
