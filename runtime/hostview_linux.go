package runtime

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/plan"
)

// HostView inspects the host for what the pod is there now. It only reads:
// netlink on the host's side (the veth whose peer lives in the pod's
// namespace, and its bridge), /proc and /sys/fs/cgroup. It never enters
// the pod's namespaces.
func (r *Runtime) HostView(ctx context.Context, namespace, name string) (*api.HostView, error) {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return nil, err
	}
	pod := ps.status(r.hostIP)
	ps.mu.Lock()
	plan := ps.rec.Plan
	ps.mu.Unlock()
	v := newHostView(pod, plan)
	if plan == nil {
		return v, nil
	}
	problem := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }

	if !v.HostNetwork && plan.Sandbox.NetNSPath != "" {
		if err := findVeth(v, plan.Sandbox.NetNSPath); err != nil {
			problem("%v", err)
		}
	}

	nctx := r.nsctx(ctx)
	for i := range v.Containers {
		c := &v.Containers[i]
		if c.ID == "" || c.State != "running" {
			continue
		}
		ctr, err := r.client.LoadContainer(nctx, c.ID)
		if err != nil {
			continue
		}
		t, err := ctr.Task(nctx, nil)
		if err != nil {
			continue
		}
		c.PID = int(t.Pid())
		if v.Shim.PID == 0 && c.PID > 0 {
			if ppid := parentOf(c.PID); ppid > 1 {
				v.Shim = api.HostProcess{PID: ppid, Command: commandOf(ppid)}
			}
		}
	}

	v.Cgroup.Dirs = podCgroupDirs(v.UID)
	v.Cgroup.Memory, v.Cgroup.CPU, v.Cgroup.Pids = cgroupLimits(cgroupRoot, plan.CgroupParent)

	// The sockets of the namespace, from any of its processes; their
	// owners from the file descriptors of the pod's processes.
	owners := map[int]string{} // pid -> container
	for _, c := range v.Containers {
		if c.ID == "" {
			continue
		}
		for _, pid := range cgroupProcs(cgroupRoot, plan.CgroupParent+"/"+c.ID) {
			owners[pid] = c.Name
		}
		if c.PID > 0 {
			owners[c.PID] = c.Name
		}
	}
	for _, c := range v.Containers {
		if c.PID > 0 && !v.HostNetwork {
			v.Listening = listeningSockets(c.PID, owners)
			break
		}
	}

	for _, f := range plan.Sandbox.Files {
		if f.ContainerPath == "/etc/hosts" {
			if b, err := os.ReadFile(f.HostPath); err == nil {
				v.Hosts = string(b)
			}
		}
	}
	return v, nil
}

// findVeth finds the host end of the pod's veth: the host link whose peer
// is in the namespace pinned at path, and the bridge it is enslaved to.
func findVeth(v *api.HostView, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open the network namespace %q: %w", path, err)
	}
	defer f.Close()
	nsid, err := netlink.GetNetNsIdByFd(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("failed to read the id of network namespace %q: %w", path, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("failed to list the host's links: %w", err)
	}
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "veth" || nsid < 0 || a.NetNsID != nsid {
			continue
		}
		v.Veth.Host, v.Veth.Index, v.Veth.MAC = a.Name, a.Index, a.HardwareAddr.String()
		if a.MasterIndex > 0 {
			if br, err := netlink.LinkByIndex(a.MasterIndex); err == nil {
				v.Bridge.Name = br.Attrs().Name
				if addrs, err := netlink.AddrList(br, unix.AF_INET); err == nil && len(addrs) > 0 {
					v.Bridge.IP = addrs[0].IPNet.String()
				}
			}
		}
		return nil
	}
	return fmt.Errorf("no veth on the host leads into %q", path)
}

// parentOf is the parent pid of a process (0 if unknown).
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// commandOf is a process's command line, shortened.
func commandOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) > 0 {
		args[0] = filepath.Base(args[0])
	}
	if len(args) > 3 {
		args = append(args[:3], "...")
	}
	return strings.Join(args, " ")
}

// cgroupLimits reads the memory, CPU and pids limits of the cgroup at rel,
// on cgroup v2 or v1.
func cgroupLimits(root, rel string) (mem, cpu, pids string) {
	read := func(parts ...string) string {
		b, err := os.ReadFile(filepath.Join(append([]string{root}, parts...)...))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	unlimited := func(s string) string {
		if s == "max" {
			return "unlimited"
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n <= 0 || n >= 1<<62 {
				return "unlimited"
			}
			return plan.BytesText(n)
		}
		return s
	}
	if m := read(rel, "memory.max"); m != "" {
		mem = unlimited(m)
	} else if m := read("memory", rel, "memory.limit_in_bytes"); m != "" {
		mem = unlimited(m)
	}
	if c := read(rel, "cpu.max"); c != "" {
		q, p, _ := strings.Cut(c, " ")
		cpu = quotaText(q, p)
	} else if q := read("cpu,cpuacct", rel, "cpu.cfs_quota_us"); q != "" {
		cpu = quotaText(q, read("cpu,cpuacct", rel, "cpu.cfs_period_us"))
	} else if q := read("cpu", rel, "cpu.cfs_quota_us"); q != "" {
		cpu = quotaText(q, read("cpu", rel, "cpu.cfs_period_us"))
	}
	if p := read(rel, "pids.max"); p != "" {
		pids = p
	} else {
		pids = read("pids", rel, "pids.max")
	}
	if pids == "max" {
		pids = "unlimited"
	}
	return mem, cpu, pids
}

func quotaText(quota, period string) string {
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g cores", float64(q)/float64(p))
}

// cgroupProcs lists the processes of the cgroup at rel, from the first
// hierarchy that has it.
func cgroupProcs(root, rel string) []int {
	dirs := []string{filepath.Join(root, rel)}
	for _, c := range []string{"pids", "memory", "cpu,cpuacct", "unified", "systemd"} {
		dirs = append(dirs, filepath.Join(root, c, rel))
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		var pids []int
		for _, l := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(l); err == nil {
				pids = append(pids, n)
			}
		}
		if len(pids) > 0 {
			return pids
		}
	}
	return nil
}

// listeningSockets reads the listening TCP sockets of pid's network
// namespace (/proc/PID/net/tcp and tcp6) and finds, among owners, the
// process holding each.
func listeningSockets(pid int, owners map[int]string) []api.HostSocket {
	inodes := map[string]api.HostSocket{}
	var order []string
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || fl[3] != "0A" { // 0A: LISTEN
				continue
			}
			addr, port, ok := parseProcAddr(fl[1])
			if !ok {
				continue
			}
			if _, dup := inodes[fl[9]]; !dup {
				order = append(order, fl[9])
			}
			inodes[fl[9]] = api.HostSocket{Address: addr, Port: port}
		}
		f.Close()
	}
	for p, ctr := range owners {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ino := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			if s, ok := inodes[ino]; ok && s.PID == 0 {
				s.PID, s.Process, s.Container = p, commandOf(p), ctr
				inodes[ino] = s
			}
		}
	}
	out := make([]api.HostSocket, 0, len(order))
	for _, ino := range order {
		out = append(out, inodes[ino])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// parseProcAddr parses "0100007F:1F90" (or its 32-hex-digit IPv6 form) as
// /proc/net/tcp writes it: the address in host byte order per 32-bit word.
func parseProcAddr(s string) (string, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr := ip.String()
	if ip.IsUnspecified() {
		addr = "*"
	}
	return addr, int(port), true
}
