package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/volumes"
)

// GC finds what minipod left on the host that belongs to no pod it knows
// (no record on disk, no pod in memory), the same things the end-to-end
// leak checker counts: containerd containers with minipod's pod label,
// active snapshots no container uses, network namespaces minipod-<uid>,
// host-local IP reservations, mounts and directories under the state root,
// minipod's containerd leases that no operation holds, and shims that serve
// no task.
// With dryRun it only reports them.
//
// A network namespace is only taken for this daemon's when its UID shows up
// in this daemon's own state (a container, a reservation, a pod or log
// directory), so that gc never removes another minipod daemon's pods on the
// same host. Nothing of a pod under creation is touched: its UID is known
// from the moment it is claimed, its snapshots carry its UID, and what its
// lease holds is skipped.

// GC removes leftovers that belong to no pod (see above).
func (r *Runtime) GC(ctx context.Context, dryRun bool) (*api.GCReport, error) {
	// Holding r.mu keeps pods from being created meanwhile: a new pod's
	// UID is claimed under it before anything of the pod exists.
	r.mu.Lock()
	defer r.mu.Unlock()
	known := map[string]bool{}
	for _, ps := range r.pods {
		known[string(ps.rec.Pod.UID)] = true
	}
	recs, bad := r.records.list()
	for _, rec := range recs {
		known[string(rec.Pod.UID)] = true
	}
	for uid, err := range bad {
		// A record that exists but cannot be read is left alone: it may be
		// a pod's; a pod directory without any record is a leftover.
		if !errors.Is(err, fs.ErrNotExist) {
			known[uid] = true
		}
	}
	rep := &api.GCReport{DryRun: dryRun, Items: []api.GCItem{}}
	orphans := map[string]bool{} // UIDs of leftovers seen in our state
	add := func(kind, name string, remove func() error) {
		it := api.GCItem{Kind: kind, Name: name}
		if !dryRun {
			if err := remove(); err != nil {
				it.Error = err.Error()
			} else {
				it.Removed = true
			}
		}
		rep.Items = append(rep.Items, it)
	}
	nctx := r.nsctx(ctx)

	// Leases of minipod's that no operation in progress holds: a daemon
	// killed or a request cut short left them. Deleting one lets
	// containerd collect what it alone held (its snapshots, content).
	// Snapshots that a lease holds, stale or live, are not leftovers of
	// their own: they go with the lease, or belong to a creation under way.
	staleLeases, err := r.staleLeases(ctx)
	if err != nil {
		return nil, err
	}
	held, err := r.leasedSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range staleLeases {
		name := l.ID
		if uid := l.Labels[LabelPodUID]; uid != "" {
			name += " (pod " + uid + ")"
		}
		add(api.GCLease, name, func() error {
			if err := r.client.LeasesService().Delete(nctx, l, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			return nil
		})
	}

	// Containers with minipod's pod label.
	cs, err := r.client.Containers(nctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list containers: %w", err)
	}
	inUse := map[string]bool{}
	for _, c := range cs {
		labels, err := c.Labels(nctx)
		if err != nil {
			continue
		}
		// A container's snapshot goes with it: never a leftover of its own.
		if info, err := c.Info(nctx); err == nil {
			inUse[info.SnapshotKey] = true
		}
		uid, ok := labels[LabelPodUID]
		if !ok || known[uid] {
			continue
		}
		orphans[uid] = true
		id := c.ID()
		add(api.GCContainer, id, func() error { return r.removeContainer(ctx, id, "", 0) })
	}

	// Shims that serve no task, of pods gc does not know.
	orphanShims, err := r.orphanShims(ctx, known)
	if err != nil {
		return nil, err
	}
	for _, sh := range orphanShims {
		add(api.GCShim, fmt.Sprintf("%d (%s)", sh.pid, sh.id), func() error { return r.stopShim(sh) })
	}

	// Active snapshots of minipod's containers (labelled with their pod's
	// UID) that no container uses. Any other snapshot, an unpack in
	// progress or another tool's in the same containerd namespace, is not
	// minipod's to remove.
	sn := r.client.SnapshotService(defaults.DefaultSnapshotter)
	var stale []string
	err = sn.Walk(nctx, func(_ context.Context, info snapshots.Info) error {
		// Snapshots that a lease holds go with the lease, or belong to a
		// creation under way.
		uid := info.Labels[LabelPodUID]
		if info.Kind != snapshots.KindActive || inUse[info.Name] || held[info.Name] || uid == "" || known[uid] {
			return nil
		}
		orphans[uid] = true
		stale = append(stale, info.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list snapshots: %w", err)
	}
	for _, key := range stale {
		add(api.GCSnapshot, key, func() error {
			if err := sn.Remove(nctx, key); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			return nil
		})
	}

	// IP reservations of host-local: each file names its container (the
	// pod UID) and interface. CNI DEL frees it, with its port mappings.
	resDir := filepath.Join(r.cfg.Root, "cni", "networks", r.network.Name())
	ips, _ := netns.Reservations(filepath.Join(r.cfg.Root, "cni", "networks"), r.network.Name())
	for _, ip := range ips {
		uid, ifName := readReservation(filepath.Join(resDir, ip))
		if uid == "" || known[uid] {
			continue
		}
		orphans[uid] = true
		if ifName == "" {
			ifName = "eth0"
		}
		att := netns.Attachment{ID: uid, IfName: ifName}
		if _, err := os.Stat(filepath.Join(r.cfg.NetNSDir, NetNSPrefix+uid)); err == nil {
			att.NetNSPath = filepath.Join(r.cfg.NetNSDir, NetNSPrefix+uid)
		}
		add(api.GCIPReservation, ip+" ("+uid+")", func() error { return r.network.Remove(ctx, att) })
	}

	// Pod and log directories, and the mounts under them.
	podsDir := filepath.Join(r.cfg.Root, "pods")
	var podDirs []string
	if entries, err := os.ReadDir(podsDir); err == nil {
		for _, e := range entries {
			if e.IsDir() && !known[e.Name()] {
				orphans[e.Name()] = true
				podDirs = append(podDirs, e.Name())
			}
		}
	}
	logsDir := filepath.Join(r.cfg.Root, "logs")
	var logDirs []string
	if entries, err := os.ReadDir(logsDir); err == nil {
		for _, e := range entries {
			i := strings.LastIndexByte(e.Name(), '_')
			if !e.IsDir() || i < 0 || known[e.Name()[i+1:]] {
				continue
			}
			orphans[e.Name()[i+1:]] = true
			logDirs = append(logDirs, e.Name())
		}
	}

	// Network namespaces of UIDs seen in our state.
	names, _ := netns.ListIn(r.cfg.NetNSDir, NetNSPrefix)
	for _, name := range names {
		uid := strings.TrimPrefix(name, NetNSPrefix)
		if known[uid] || !orphans[uid] {
			continue
		}
		add(api.GCNetNS, name, func() error {
			ns, err := netns.LoadIn(r.cfg.NetNSDir, name)
			if errdefs.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return ns.Remove()
		})
	}

	// Pod-level cgroups of UIDs seen in our state.
	for uid := range orphans {
		if known[uid] {
			continue
		}
		for _, d := range podCgroupDirs(uid) {
			add(api.GCCgroup, d, func() error { return rmdirCgroup(d) })
		}
	}

	mounts, _ := volumes.MountsUnder(podsDir)
	sort.Sort(sort.Reverse(sort.StringSlice(mounts))) // deepest first
	for _, m := range mounts {
		rel, err := filepath.Rel(podsDir, m)
		if err != nil {
			continue
		}
		uid, _, _ := strings.Cut(rel, string(filepath.Separator))
		if known[uid] {
			continue
		}
		add(api.GCMount, m, func() error {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("failed to unmount %q: %w", m, err)
			}
			return nil
		})
	}
	for _, uid := range podDirs {
		p := filepath.Join(podsDir, uid)
		add(api.GCPodDir, p, func() error { return removeUnmounted(p) })
	}
	for _, d := range logDirs {
		p := filepath.Join(logsDir, d)
		add(api.GCLogDir, p, func() error { return os.RemoveAll(p) })
	}
	if n := len(rep.Items); n > 0 {
		r.log.Info("gc", "leftovers", n, "dryRun", dryRun)
	}
	return rep, nil
}

// removeUnmounted removes dir unless something is still mounted under it
// (RemoveAll would then delete inside a mounted file system).
func removeUnmounted(dir string) error {
	if m, _ := volumes.MountsUnder(dir); len(m) > 0 {
		return fmt.Errorf("failed to remove %q: %d mounts remain under it: %w", dir, len(m), errdefs.ErrFailedPrecondition)
	}
	return os.RemoveAll(dir)
}

// readReservation reads a host-local reservation file: container ID, then
// interface name.
func readReservation(p string) (id, ifName string) {
	f, err := os.Open(p)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if s.Scan() {
		id = strings.TrimSpace(s.Text())
	}
	if s.Scan() {
		ifName = strings.TrimSpace(s.Text())
	}
	return id, ifName
}
