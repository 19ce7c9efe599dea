// Package doctor checks that a host has what minipod needs (containerd,
// runc, the CNI plugins, IP forwarding, cgroups, bridge and veth support,
// iptables) and says, for each thing missing, exactly what to do.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Result is one check's outcome; Fix says what to do when it is not OK.
type Result struct {
	Check  string
	Status Status
	Detail string
	Fix    string
}

// Config says where to look.
type Config struct {
	// ContainerdAddress is the containerd socket the daemon would use
	// ("" = the system's, else an embedded one started from PATH).
	ContainerdAddress string
	// PluginDirs are searched for the CNI plugins.
	PluginDirs []string
	// Host reads the host; nil is the real one.
	Host *Host
	// Daemon, when set, asks the minipod daemon at Socket which containerd
	// it uses; an error means that no daemon answers there. When one
	// answers, its containerd is the one checked.
	Daemon func(ctx context.Context) (DaemonContainerd, error)
	Socket string
}

// DaemonContainerd is what a running daemon says of its containerd.
type DaemonContainerd struct {
	Address string
	// Embedded: the daemon started it, under its --root.
	Embedded bool
	Version  string
	// Error says why it does not answer the daemon ("" when it does).
	Error string
}

// Host is what the checks read, so that tests can fake it.
type Host struct {
	LookPath func(string) (string, error)
	ReadFile func(string) ([]byte, error)
	Stat     func(string) (os.FileInfo, error)
	Dial     func(ctx context.Context, socket string) error
	Kernel   func() string
	// TryLink creates a link of a kind ("bridge", "veth") in a throwaway
	// network namespace, which proves the kernel supports it.
	TryLink func(ctx context.Context, kind string) error
}

// RealHost reads this host.
func RealHost() *Host {
	return &Host{
		LookPath: exec.LookPath,
		ReadFile: os.ReadFile,
		Stat:     os.Stat,
		Dial: func(ctx context.Context, socket string) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", socket)
			if err != nil {
				return err
			}
			return c.Close()
		},
		Kernel: func() string {
			b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
			return strings.TrimSpace(string(b))
		},
		TryLink: tryLink,
	}
}

// SystemContainerd is where a host's own containerd listens.
const SystemContainerd = "/run/containerd/containerd.sock"

// CNIPlugins are the plugins minipod's network uses.
var CNIPlugins = []string{"bridge", "host-local", "loopback", "portmap", "firewall"}

const installHint = "run scripts/install.sh, or: apt-get install "

// Run runs every check.
func Run(ctx context.Context, cfg Config) []Result {
	h := cfg.Host
	if h == nil {
		h = RealHost()
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}
	}
	var results []Result
	ctrd := func() Result { return checkContainerd(ctx, h, cfg.ContainerdAddress) }
	if cfg.Daemon != nil {
		r, d := checkDaemon(ctx, cfg)
		results = append(results, r)
		if d != nil {
			ctrd = func() Result { return checkDaemonContainerd(*d) }
		}
	}
	return append(results,
		ctrd(),
		checkBinary(h, "runc", "the OCI runtime containerd runs containers with", installHint+"runc"),
		checkCNI(h, cfg.PluginDirs),
		checkIPForward(h),
		checkCgroups(h),
		checkModule(h, "bridge", "the pod network's bridge", "modprobe bridge"),
		checkModule(h, "veth", "the pods' network interfaces", "modprobe veth"),
		checkBinary(h, "iptables", "used by the CNI portmap and firewall plugins (hostPort, pod traffic)", installHint+"iptables"),
	)
}

// checkDaemon asks the daemon; it returns what the daemon said of its
// containerd, or nil when no daemon answers.
func checkDaemon(ctx context.Context, cfg Config) (Result, *DaemonContainerd) {
	r := Result{Check: "daemon"}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, err := cfg.Daemon(dctx)
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("no minipod daemon answers at %s (%v)", cfg.Socket, err)
		r.Fix = "start it: sudo minipod daemon & (or the systemd unit scripts/minipod.service); --socket or $MINIPOD_SOCKET if it listens elsewhere"
		return r, nil
	}
	r.Status, r.Detail = OK, "answers at "+cfg.Socket
	return r, &d
}

// checkDaemonContainerd reports the containerd a running daemon uses.
func checkDaemonContainerd(d DaemonContainerd) Result {
	r := Result{Check: "containerd"}
	whose := "given by its --containerd-address"
	switch {
	case d.Embedded:
		whose = "the daemon's own, under its --root"
	case d.Address == SystemContainerd:
		whose = "the system's"
	}
	if d.Error != "" {
		r.Status, r.Detail = Fail, fmt.Sprintf("the daemon's containerd at %s (%s) does not answer: %s", d.Address, whose, d.Error)
		r.Fix = "start that containerd again (systemctl start containerd), or restart the daemon"
		if d.Embedded {
			r.Fix = "restart the daemon: it starts its own containerd again"
		}
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("the daemon uses containerd %s at %s (%s)", d.Version, d.Address, whose)
	return r
}

func checkContainerd(ctx context.Context, h *Host, addr string) Result {
	r := Result{Check: "containerd"}
	socket := addr
	if socket == "" {
		socket = SystemContainerd
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.Dial(dctx, socket); err == nil {
		r.Status, r.Detail = OK, "answers at "+socket
		return r
	}
	if addr != "" {
		r.Status, r.Detail = Fail, "nothing answers at "+addr+" (--containerd-address)"
		r.Fix = "start that containerd, or leave --containerd-address empty so that minipod starts its own"
		return r
	}
	if p, err := h.LookPath("containerd"); err == nil {
		r.Status, r.Detail = OK, "none answers at "+SystemContainerd+"; a daemon starts its own from "+p
		return r
	}
	r.Status, r.Detail = Fail, "no containerd answers at "+SystemContainerd+" and none is on PATH"
	r.Fix = installHint + "containerd"
	return r
}

func checkBinary(h *Host, name, what, fix string) Result {
	r := Result{Check: name}
	if p, err := h.LookPath(name); err == nil {
		r.Status, r.Detail = OK, p
		return r
	}
	r.Status, r.Detail, r.Fix = Fail, "not found on PATH ("+what+")", fix
	return r
}

func checkCNI(h *Host, dirs []string) Result {
	r := Result{Check: "CNI plugins"}
	var missing, found []string
	for _, p := range CNIPlugins {
		ok := false
		for _, d := range dirs {
			if fi, err := h.Stat(filepath.Join(d, p)); err == nil && !fi.IsDir() {
				ok = true
				found = append(found, filepath.Join(d, p))
				break
			}
		}
		if !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		r.Status, r.Detail = OK, fmt.Sprintf("%s in %s", strings.Join(CNIPlugins, ", "), strings.Join(uniqueDirs(found), ", "))
		return r
	}
	r.Status = Fail
	r.Detail = fmt.Sprintf("missing %s in %s", strings.Join(missing, ", "), strings.Join(dirs, ", "))
	r.Fix = installHint + "containernetworking-plugins (or point the daemon at them with --cni-plugin-dir)"
	return r
}

func uniqueDirs(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if d := filepath.Dir(p); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func checkIPForward(h *Host) Result {
	r := Result{Check: "ip_forward"}
	b, err := h.ReadFile("/proc/sys/net/ipv4/ip_forward")
	switch {
	case err != nil:
		r.Status, r.Detail, r.Fix = Fail, "cannot read /proc/sys/net/ipv4/ip_forward: "+err.Error(), "run on Linux with /proc mounted"
	case strings.TrimSpace(string(b)) == "1":
		r.Status, r.Detail = OK, "net.ipv4.ip_forward = 1"
	default:
		// The bridge plugin turns it on at the first pod; pods reach
		// beyond the host only with it.
		r.Status, r.Detail = Warn, "net.ipv4.ip_forward = 0 (the CNI bridge plugin turns it on at the first pod)"
		r.Fix = "sysctl -w net.ipv4.ip_forward=1 (and net.ipv4.ip_forward=1 in /etc/sysctl.d/ to keep it)"
	}
	return r
}

func checkCgroups(h *Host) Result {
	r := Result{Check: "cgroups"}
	if b, err := h.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		ctrls := strings.Fields(string(b))
		missing := missingOf([]string{"cpu", "memory", "pids"}, ctrls)
		if len(missing) == 0 {
			r.Status, r.Detail = OK, "v2 (unified), controllers: "+strings.Join(ctrls, " ")
			return r
		}
		r.Status, r.Detail = Fail, "v2 without the "+strings.Join(missing, ", ")+" controller(s)"
		r.Fix = "enable them in the kernel command line (e.g. cgroup_enable=memory) and reboot"
		return r
	}
	var have []string
	for _, c := range []string{"cpu", "memory", "pids", "devices", "freezer"} {
		if _, err := h.Stat(filepath.Join("/sys/fs/cgroup", c)); err == nil {
			have = append(have, c)
		}
	}
	if len(have) == 0 {
		r.Status, r.Detail = Fail, "no cgroup file system under /sys/fs/cgroup"
		r.Fix = "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup), or boot with systemd"
		return r
	}
	kind := "v1"
	if _, err := h.Stat("/sys/fs/cgroup/unified"); err == nil {
		kind = "v1+v2 hybrid"
	}
	if missing := missingOf([]string{"cpu", "memory", "pids", "devices"}, have); len(missing) > 0 {
		r.Status, r.Detail = Fail, kind+" without the "+strings.Join(missing, ", ")+" hierarchy"
		r.Fix = "mount the missing cgroup v1 hierarchies under /sys/fs/cgroup, or boot with cgroup v2"
		return r
	}
	r.Status, r.Detail = OK, kind+", hierarchies: "+strings.Join(have, " ")
	return r
}

func missingOf(want, have []string) []string {
	var out []string
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
			}
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// checkModule finds a kernel feature loaded (/sys/module), built in, or
// loadable (modules.builtin / the module's file).
func checkModule(h *Host, name, what, fix string) Result {
	r := Result{Check: name}
	if h.TryLink != nil {
		if err := h.TryLink(context.Background(), name); err == nil {
			r.Status, r.Detail = OK, "works ("+what+")"
			return r
		}
	}
	if _, err := h.Stat("/sys/module/" + name); err == nil {
		r.Status, r.Detail = OK, "loaded ("+what+")"
		return r
	}
	k := h.Kernel()
	dir := filepath.Join("/lib/modules", k)
	if b, err := h.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil && strings.Contains(string(b), "/"+name+".ko") {
		r.Status, r.Detail = OK, "built into the kernel ("+what+")"
		return r
	}
	if b, err := h.ReadFile(filepath.Join(dir, "modules.dep")); err == nil && strings.Contains(string(b), "/"+name+".ko") {
		r.Status, r.Detail = OK, "available as a module, loaded at the first pod ("+what+")"
		return r
	}
	r.Status, r.Detail = Fail, fmt.Sprintf("neither loaded nor available for kernel %s (%s)", k, what)
	r.Fix = fix + " (install the kernel's modules package if that fails)"
	return r
}

// Print writes the results, one per line, with the fix under each that is
// not OK, and says whether the host is ready.
func Print(w io.Writer, results []Result) (failed int) {
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-12s %s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(w, "      %-12s fix: %s\n", "", r.Fix)
		}
		if r.Status == Fail {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "\n%d problem(s) found; fix them and run \"minipod doctor\" again\n", failed)
	} else {
		fmt.Fprintln(w, "\nthis host can run minipod")
	}
	return failed
}

// tryLink runs `ip link add` in a new network namespace (unshare), so that
// nothing of the host's network is touched. It needs root, unshare and ip.
func tryLink(ctx context.Context, kind string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root")
	}
	args := []string{"--net", "ip", "link", "add", "mpdoctor0", "type", kind}
	if kind == "veth" {
		args = append(args, "peer", "name", "mpdoctor1")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "unshare", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
