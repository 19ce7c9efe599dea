package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/plan"
)

// Every container of a pod lives under one pod-level cgroup, placed as the
// kubelet places it (see plan_cgroup.go): /minipod/pod<uid> for Guaranteed
// pods, /minipod/burstable/pod<uid> and /minipod/besteffort/pod<uid> for
// the others, each container in <pod cgroup>/<container id>. The runtime
// creates the pod cgroup with the kubelet's pod limits before the pod's
// first container, keeps the QoS cgroups' cpu.shares as the kubelet keeps
// them, and removes the pod cgroup at teardown, on cgroup v1 (each
// controller's hierarchy) and v2 alike.

const cgroupRoot = "/sys/fs/cgroup"

// podCgroupPlaces are where a pod's cgroup can be, relative to each
// hierarchy: under each QoS parent.
func podCgroupPlaces(uid string) []string {
	name := plan.PodCgroupName(uid)
	return []string{
		plan.CgroupPodsRoot + "/" + name,
		plan.CgroupPodsRoot + "/" + plan.CgroupBurstableName + "/" + name,
		plan.CgroupPodsRoot + "/" + plan.CgroupBestEffortName + "/" + name,
	}
}

// podCgroupDirs lists the directories of a pod's cgroup that exist, on
// every hierarchy mounted under /sys/fs/cgroup (v1 controllers, the hybrid
// unified mount, or a pure v2 root), under any QoS parent.
func podCgroupDirs(uid string) []string {
	var dirs []string
	entries, _ := os.ReadDir(cgroupRoot)
	for _, rel := range podCgroupPlaces(uid) {
		if _, err := os.Stat(filepath.Join(cgroupRoot, rel)); err == nil {
			dirs = append(dirs, filepath.Join(cgroupRoot, rel))
		}
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink != 0 {
				continue // cpu -> cpu,cpuacct: the same hierarchy
			}
			d := filepath.Join(cgroupRoot, e.Name(), rel)
			if _, err := os.Stat(d); err == nil {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// isCgroupV2 tells whether root is a cgroup v2 (unified) hierarchy with
// the controllers, as on a pure v2 host; a v1 or hybrid host has one
// hierarchy per controller under root.
func isCgroupV2(root string) bool {
	_, err := os.Stat(filepath.Join(root, "cgroup.controllers"))
	return err == nil
}

// setCgroup creates the cgroup at path (relative to the hierarchies under
// root) and writes r's values in it, on cgroup v2 when v2 says so, else on
// the v1 hierarchies of the controllers.
func setCgroup(root, path string, v2 bool, r ResourcesPlan) error {
	if v2 {
		dir := filepath.Join(root, path)
		if err := enableControllers(root, path, "cpu", "memory", "pids"); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create cgroup %q: %w", dir, err)
		}
		return writeCgroupFiles(dir, plan.CgroupV2Files(r))
	}
	byController := map[string][]plan.CgroupFile{}
	var order []string
	for _, f := range plan.CgroupV1Files(r) {
		if _, ok := byController[f.Controller]; !ok {
			order = append(order, f.Controller)
		}
		byController[f.Controller] = append(byController[f.Controller], f)
	}
	for _, c := range order {
		if _, err := os.Stat(filepath.Join(root, c)); err != nil {
			continue // the controller is not mounted: nothing to enforce with
		}
		dir := filepath.Join(root, c, path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create cgroup %q: %w", dir, err)
		}
		if err := writeCgroupFiles(dir, byController[c]); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers makes the controllers available to path's cgroup on
// cgroup v2: each ancestor's cgroup.subtree_control lists them (where the
// ancestor has them). runc does the same for the containers' cgroups.
func enableControllers(root, path string, controllers ...string) error {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	dir := root
	for i := range parts {
		have, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return fmt.Errorf("failed to read the controllers of cgroup %q: %w", dir, err)
		}
		avail := strings.Fields(string(have))
		var enable []string
		for _, c := range controllers {
			if slices.Contains(avail, c) {
				enable = append(enable, "+"+c)
			}
		}
		if len(enable) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644); err != nil {
				return fmt.Errorf("failed to enable the %s controllers in cgroup %q: %w", strings.Join(enable, " "), dir, err)
			}
		}
		dir = filepath.Join(dir, parts[i])
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("failed to create cgroup %q: %w", dir, err)
		}
	}
	return nil
}

func writeCgroupFiles(dir string, files []plan.CgroupFile) error {
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, []byte(f.Value), 0o644); err != nil {
			return fmt.Errorf("failed to set %s of cgroup %q to %s: %w", f.Name, dir, f.Value, err)
		}
	}
	return nil
}

// ensurePodCgroup makes the pod's cgroup with the kubelet's pod limits
// before a container is created in it, and sets the QoS cgroups above it:
// BestEffort's cpu.shares 2 (cpu.weight 1), Burstable's the sum of its
// pods' CPU requests. It is idempotent; the containers' own cgroups are
// runc's.
func (r *Runtime) ensurePodCgroup(p *PodPlan) error {
	r.cgroupMu.Lock()
	defer r.cgroupMu.Unlock()
	v2 := isCgroupV2(cgroupRoot)
	if err := r.setQoSCgroups(v2); err != nil {
		return err
	}
	return setCgroup(cgroupRoot, p.CgroupParent, v2, p.PodResources)
}

// updateQoSCgroups sets the QoS cgroups again, after a pod has gone.
func (r *Runtime) updateQoSCgroups() error {
	r.cgroupMu.Lock()
	defer r.cgroupMu.Unlock()
	return r.setQoSCgroups(isCgroupV2(cgroupRoot))
}

func (r *Runtime) setQoSCgroups(v2 bool) error {
	var pods []*corev1.Pod
	for _, ps := range r.podStates() {
		ps.mu.Lock()
		if ps.rec.State != StateDeleting {
			pods = append(pods, ps.rec.Pod)
		}
		ps.mu.Unlock()
	}
	return errors.Join(
		setCgroup(cgroupRoot, plan.QOSCgroupParent(corev1.PodQOSBestEffort), v2, ResourcesPlan{CPUShares: plan.MinShares}),
		setCgroup(cgroupRoot, plan.QOSCgroupParent(corev1.PodQOSBurstable), v2, ResourcesPlan{CPUShares: plan.BurstableShares(pods)}),
	)
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
	// One deadline for all: a cgroup still busy after it (its processes
	// live on, containerd being down, say) is reported, not waited on once
	// per hierarchy and container.
	deadline := time.Now().Add(5 * time.Second)
	for _, dir := range podCgroupDirs(uid) {
		var subdirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				subdirs = append(subdirs, p)
			}
			return nil
		})
		for i := len(subdirs) - 1; i >= 0; i-- {
			if err := rmdirCgroupBy(subdirs[i], deadline); err != nil {
				errs = append(errs, fmt.Errorf("failed to remove cgroup %q: %w", subdirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup removes a cgroup directory. Right after its last process was
// killed the kernel may still count it for a moment (EBUSY): try again
// until a deadline.
func rmdirCgroup(dir string) error {
	return rmdirCgroupBy(dir, time.Now().Add(5*time.Second))
}

// rmdirCgroupBy is rmdirCgroup with a deadline of the caller's.
func rmdirCgroupBy(dir string, deadline time.Time) error {
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
