package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Every container of a pod lives under one pod-level cgroup,
// /minipod/pod<uid>/<container id>, as the kubelet keeps a pod's containers
// under kubepods/.../pod<uid>. runc creates the pod level with the first
// container and removes each container's own; teardown removes the pod
// level, on cgroup v1 (each controller's hierarchy) and v2 alike.

const cgroupRoot = "/sys/fs/cgroup"

// podCgroupParent is the cgroup path of a pod, relative to each hierarchy.
func podCgroupParent(uid string) string {
	return "/minipod/pod" + strings.ReplaceAll(uid, "-", "_")
}

// podCgroupDirs lists the directories of a pod's cgroup that exist, on
// every hierarchy mounted under /sys/fs/cgroup (v1 controllers, the hybrid
// unified mount, or a pure v2 root).
func podCgroupDirs(uid string) []string {
	rel := podCgroupParent(uid)
	var dirs []string
	if _, err := os.Stat(filepath.Join(cgroupRoot, rel)); err == nil {
		dirs = append(dirs, filepath.Join(cgroupRoot, rel))
	}
	entries, _ := os.ReadDir(cgroupRoot)
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 {
			continue // cpu -> cpu,cpuacct: the same hierarchy
		}
		d := filepath.Join(cgroupRoot, e.Name(), rel)
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// oomKilledIn reports whether the kernel's OOM killer has killed a process
// of the cgroup at path (relative to each hierarchy under root): the
// oom_kill count of memory.events (cgroup v2) or of memory.oom_control (the
// v1 memory controller). containerd's OOM event can be missed, for one when
// a container is killed as it starts; this count cannot.
func oomKilledIn(root, path string) bool {
	for _, f := range []string{
		filepath.Join(root, path, "memory.events"),
		filepath.Join(root, "memory", path, "memory.oom_control"),
	} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" && strings.TrimSpace(v) != "0" {
				return true
			}
		}
	}
	return false
}

// removePodCgroup removes a pod's cgroup directories, deepest first; absent
// is fine. A cgroup that still holds processes cannot go (EBUSY).
func removePodCgroup(uid string) error {
	var errs []error
	for _, dir := range podCgroupDirs(uid) {
		var subdirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				subdirs = append(subdirs, p)
			}
			return nil
		})
		for i := len(subdirs) - 1; i >= 0; i-- {
			if err := rmdirCgroup(subdirs[i]); err != nil {
				errs = append(errs, fmt.Errorf("failed to remove cgroup %q: %w", subdirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// applyFSGroup gives a volume to the pod's fsGroup, as the kubelet does:
// group-owned, group read-write, directories setgid so that new files
// inherit the group.
func applyFSGroup(root string, gid int64) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return fmt.Errorf("failed to give %q to fsGroup %d: %w", p, gid, err)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() | 0o060
		if d.IsDir() {
			mode |= 0o010 | os.ModeSetgid
		}
		return os.Chmod(p, mode)
	})
}

// rmdirCgroup removes a cgroup directory. Right after its last process was
// killed the kernel may still count it for a moment (EBUSY): try again
// until a deadline.
func rmdirCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
