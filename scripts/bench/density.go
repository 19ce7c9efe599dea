package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/volumes"
)

// densityResult is the density case: many two-container pods at once.
type densityResult struct {
	Pods           int      `json:"pods"`
	Containers     int      `json:"containers"`
	Concurrency    int      `json:"concurrency"`
	RunningSeconds float64  `json:"runningSeconds"`
	RunningPods    int      `json:"runningPods"`
	CreateFailures []string `json:"createFailures,omitempty"`

	DaemonRSSMiB     float64 `json:"daemonRSSMiB"`
	ContainerdRSSMiB float64 `json:"containerdRSSMiB"`
	Shims            int     `json:"shims"`
	ShimRSSMiB       float64 `json:"shimRSSMiB"`
	ShimPSSMiB       float64 `json:"shimPSSMiB"`

	IdleSeconds      float64 `json:"idleSeconds"`
	DaemonIdleCPUSec float64 `json:"daemonIdleCPUSeconds"`
	DaemonIdleCPUPct float64 `json:"daemonIdleCPUPercent"`

	DeleteSeconds float64  `json:"deleteSeconds"`
	Leaks         int      `json:"leaks"`
	LeakList      []string `json:"leakList,omitempty"`
}

// density creates cfg.pods two-container pods, cfg.concurrency at a time,
// through the Go client, measures memory and idle CPU once all run, then
// deletes them all and counts what is left.
func (m *minipodSystem) density(ctx context.Context) (densityResult, error) {
	cfg := m.b.cfg
	r := densityResult{Pods: cfg.pods, Containers: 2 * cfg.pods, Concurrency: cfg.concurrency, IdleSeconds: cfg.idle.Seconds()}
	names := make([]string, cfg.pods)
	for i := range names {
		names[i] = fmt.Sprintf("dense-%03d", i)
	}
	if cfg.profile {
		stop := m.profile(filepath.Join(filepath.Dir(cfg.out), "cpu-density.pprof"))
		defer stop()
	}
	logf("density: creating %d pods × 2 containers, %d at a time", cfg.pods, cfg.concurrency)
	t0 := time.Now()
	// A pod that fails to start is a result (it counts against "all
	// Running"), not the end of the run.
	var failMu sync.Mutex
	err := parallel(ctx, names, cfg.concurrency, func(ctx context.Context, name string) error {
		p, err := m.client.CreatePod(ctx, podOf(name, 2, cmdTrapTerm, 30), api.CreateOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			logf("density: pod %s FAILED: %v", name, err)
			failMu.Lock()
			r.CreateFailures = append(r.CreateFailures, fmt.Sprintf("pod %s: %v", name, err))
			failMu.Unlock()
			return nil
		}
		m.mu.Lock()
		m.uids[string(p.UID)] = true
		m.mu.Unlock()
		return nil
	})
	r.RunningSeconds = time.Since(t0).Seconds()
	if err != nil {
		return r, err
	}
	pods, err := m.client.ListPods(ctx, "default")
	if err != nil {
		return r, err
	}
	for _, p := range pods {
		if strings.HasPrefix(p.Name, "dense-") && allRunning(&p) {
			r.RunningPods++
		}
	}
	logf("density: %d of %d pods running after %.2fs", r.RunningPods, cfg.pods, r.RunningSeconds)

	r.DaemonRSSMiB = kibToMiB(procStatusKiB(m.cmd.Process.Pid, "VmRSS"))
	if pid, err := readPid(filepath.Join(m.b.work, "containerd", "containerd.pid")); err == nil {
		r.ContainerdRSSMiB = kibToMiB(procStatusKiB(pid, "VmRSS"))
	}
	shims := shimPids(m.b.ns(), m.b.containerdSock)
	r.Shims = len(shims)
	for _, pid := range shims {
		r.ShimRSSMiB += kibToMiB(procStatusKiB(pid, "VmRSS"))
		r.ShimPSSMiB += kibToMiB(smapsPssKiB(pid))
	}

	logf("density: measuring the daemon's CPU over %s idle", cfg.idle)
	c0, err := cpuTicks(m.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	select {
	case <-time.After(cfg.idle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	c1, err := cpuTicks(m.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	const clkTck = 100 // USER_HZ on Linux
	r.DaemonIdleCPUSec = float64(c1-c0) / clkTck
	r.DaemonIdleCPUPct = 100 * r.DaemonIdleCPUSec / cfg.idle.Seconds()

	logf("density: deleting all %d pods, %d at a time", cfg.pods, cfg.concurrency)
	t0 = time.Now()
	err = parallel(ctx, names, cfg.concurrency, func(ctx context.Context, name string) error {
		if err := m.client.DeletePod(ctx, "default", name, api.DeleteOptions{}); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("failed to delete pod %s: %w", name, err)
		}
		return nil
	})
	r.DeleteSeconds = time.Since(t0).Seconds()
	if err != nil {
		return r, err
	}
	r.LeakList = m.leaks(ctx)
	r.Leaks = len(r.LeakList)
	logf("density: deleted in %.2fs; %d left behind", r.DeleteSeconds, r.Leaks)
	return r, nil
}

func allRunning(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// parallel calls f for every name, at most n at a time, and returns the
// first error.
func parallel(ctx context.Context, names []string, n int, f func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := f(ctx, name); err != nil {
					errs <- err
					cancel()
				}
			}
		}()
	}
feed:
	for _, name := range names {
		select {
		case work <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// leaks lists what the run's daemon left on the host once every pod is
// deleted: containerd containers, tasks and active snapshots in its
// namespace, shims still running for it, network namespaces of its pods, veths on its bridge, IP
// reservations, mounts under its root and pod directories.
func (m *minipodSystem) leaks(ctx context.Context) []string {
	var out []string
	add := func(kind string, names ...string) {
		for _, n := range names {
			out = append(out, kind+" "+n)
		}
	}
	cctx := namespaces.WithNamespace(ctx, m.b.ns())
	if c, err := containerd.New(m.b.containerdSock); err == nil {
		cs, _ := c.Containers(cctx)
		for _, x := range cs {
			add("container", x.ID())
			if _, err := x.Task(cctx, nil); err == nil {
				add("task", x.ID())
			}
		}
		_ = c.SnapshotService("overlayfs").Walk(cctx, func(_ context.Context, info snapshots.Info) error {
			if info.Kind != snapshots.KindCommitted {
				add("snapshot", info.Name)
			}
			return nil
		})
		c.Close()
	} else {
		add("containerd unreachable", err.Error())
	}
	// Shims exit shortly after their last task is deleted.
	deadline := time.Now().Add(10 * time.Second)
	for len(shimPids(m.b.ns(), m.b.containerdSock)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range shimPids(m.b.ns(), m.b.containerdSock) {
		add("containerd-shim", strconv.Itoa(pid))
	}
	m.mu.Lock()
	uids := m.uids
	m.mu.Unlock()
	all, _ := netns.List("minipod-")
	for _, n := range all {
		if uids[strings.TrimPrefix(n, "minipod-")] {
			add("netns", n)
		}
	}
	if br, err := netlink.LinkByName(m.b.bridge("0")); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				add("veth", l.Attrs().Name)
			}
		}
	}
	ips, _ := netns.Reservations(filepath.Join(m.root, "cni", "networks"), m.network)
	add("ip reservation", ips...)
	mounts, _ := volumes.MountsUnder(m.root)
	add("mount", mounts...)
	dirs, _ := os.ReadDir(filepath.Join(m.root, "pods"))
	for _, d := range dirs {
		add("pod dir", d.Name())
	}
	sort.Strings(out)
	return out
}

// procStatusKiB reads a "Key: N kB" field of /proc/<pid>/status.
func procStatusKiB(pid int, key string) float64 {
	return procField(fmt.Sprintf("/proc/%d/status", pid), key+":")
}

// smapsPssKiB is a process's proportional share of the memory it maps.
func smapsPssKiB(pid int) float64 {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

func procField(file, key string) float64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == key {
			v, _ := strconv.ParseFloat(fields[1], 64)
			return v
		}
	}
	return 0
}

func kibToMiB(k float64) float64 { return k / 1024 }

// cpuTicks is utime+stime of a process, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the daemon's CPU time: %w", err)
	}
	// The command name in parentheses may hold spaces: count from after it.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat", pid)
	}
	// Fields 14 and 15 of stat(5); f[0] is field 3.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("failed to parse /proc/%d/stat", pid)
	}
	return ut + st, nil
}

func readPid(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// shimPids finds the containerd shims serving namespace ns (any, if "")
// of the containerd at address.
func shimPids(ns, address string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if (ns == "" || argValue(args, "-namespace") == ns) && argValue(args, "-address") == address {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func argValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
