package doctor

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

type fakeFile struct{ dir bool }

func (f fakeFile) Name() string       { return "" }
func (f fakeFile) Size() int64        { return 0 }
func (f fakeFile) Mode() fs.FileMode  { return 0o755 }
func (f fakeFile) ModTime() time.Time { return time.Time{} }
func (f fakeFile) IsDir() bool        { return f.dir }
func (f fakeFile) Sys() any           { return nil }

// fakeHost has the given binaries, files (path -> content) and sockets.
func fakeHost(bins []string, files map[string]string, sockets []string, links bool) *Host {
	return &Host{
		LookPath: func(n string) (string, error) {
			for _, b := range bins {
				if b == n {
					return "/usr/bin/" + n, nil
				}
			}
			return "", errors.New("not found")
		},
		ReadFile: func(p string) ([]byte, error) {
			if c, ok := files[p]; ok {
				return []byte(c), nil
			}
			return nil, os.ErrNotExist
		},
		Stat: func(p string) (os.FileInfo, error) {
			if _, ok := files[p]; ok {
				return fakeFile{}, nil
			}
			if _, ok := files[p+"/"]; ok {
				return fakeFile{dir: true}, nil
			}
			return nil, os.ErrNotExist
		},
		Dial: func(_ context.Context, s string) error {
			for _, x := range sockets {
				if x == s {
					return nil
				}
			}
			return errors.New("refused")
		},
		Kernel: func() string { return "6.1.0" },
		TryLink: func(context.Context, string) error {
			if links {
				return nil
			}
			return errors.New("no")
		},
	}
}

func healthyFiles() map[string]string {
	f := map[string]string{
		"/proc/sys/net/ipv4/ip_forward":     "1\n",
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
	}
	for _, p := range CNIPlugins {
		f["/usr/lib/cni/"+p] = ""
	}
	return f
}

func TestRun(t *testing.T) {
	hybrid := healthyFiles()
	delete(hybrid, "/sys/fs/cgroup/cgroup.controllers")
	for _, c := range []string{"cpu", "memory", "pids", "devices", "unified"} {
		hybrid["/sys/fs/cgroup/"+c+"/"] = ""
	}
	noFwd := healthyFiles()
	noFwd["/proc/sys/net/ipv4/ip_forward"] = "0\n"
	noCNI := healthyFiles()
	delete(noCNI, "/usr/lib/cni/portmap")
	noMemory := healthyFiles()
	noMemory["/sys/fs/cgroup/cgroup.controllers"] = "cpu pids\n"
	modules := healthyFiles()
	modules["/lib/modules/6.1.0/modules.dep"] = "kernel/drivers/net/veth.ko:\nkernel/net/bridge/bridge.ko: x\n"

	all := []string{"containerd", "runc", "iptables"}
	cases := []struct {
		name  string
		host  *Host
		addr  string
		fails map[string]string // check -> a word of its fix
		warns []string
	}{
		{"healthy, containerd running", fakeHost([]string{"runc", "iptables"}, healthyFiles(), []string{SystemContainerd}, true), "", nil, nil},
		{"healthy, containerd startable", fakeHost(all, healthyFiles(), nil, true), "", nil, nil},
		{"cgroup v1 hybrid", fakeHost(all, hybrid, nil, true), "", nil, nil},
		{"modules loadable, not root", fakeHost(all, modules, nil, false), "", nil, nil},
		{"nothing installed", fakeHost(nil, map[string]string{}, nil, false), "", map[string]string{
			"containerd": "containerd", "runc": "runc", "CNI plugins": "containernetworking-plugins", "ip_forward": "/proc",
			"cgroups": "cgroup2", "bridge": "modprobe bridge", "veth": "modprobe veth", "iptables": "iptables",
		}, nil},
		{"given containerd down", fakeHost(all, healthyFiles(), nil, true), "/x.sock", map[string]string{"containerd": "--containerd-address"}, nil},
		{"a CNI plugin missing", fakeHost(all, noCNI, nil, true), "", map[string]string{"CNI plugins": "--cni-plugin-dir"}, nil},
		{"no memory controller", fakeHost(all, noMemory, nil, true), "", map[string]string{"cgroups": "cgroup_enable"}, nil},
		{"ip_forward off", fakeHost(all, noFwd, nil, true), "", nil, []string{"ip_forward"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(context.Background(), Config{Host: tc.host, ContainerdAddress: tc.addr, PluginDirs: []string{"/usr/lib/cni"}})
			if len(res) != 8 {
				t.Fatalf("%d results, want 8", len(res))
			}
			for _, r := range res {
				want := OK
				if _, ok := tc.fails[r.Check]; ok {
					want = Fail
				}
				for _, w := range tc.warns {
					if w == r.Check {
						want = Warn
					}
				}
				if r.Status != want {
					t.Errorf("%s: %s (%s), want %s", r.Check, r.Status, r.Detail, want)
				}
				if r.Status != OK && r.Fix == "" {
					t.Errorf("%s: %s with no fix", r.Check, r.Status)
				}
				if w := tc.fails[r.Check]; w != "" && !strings.Contains(r.Fix, w) {
					t.Errorf("%s: fix %q does not mention %q", r.Check, r.Fix, w)
				}
			}
			var buf bytes.Buffer
			if n := Print(&buf, res); n != len(tc.fails) {
				t.Errorf("Print counted %d failures, want %d\n%s", n, len(tc.fails), buf.String())
			}
		})
	}
}

// TestRunAsksTheDaemon: with a daemon running, the containerd checked is
// the one the daemon uses, not a guess about the system's.
func TestRunAsksTheDaemon(t *testing.T) {
	all := []string{"containerd", "runc", "iptables"}
	embedded := DaemonContainerd{Address: "/var/lib/minipod/containerd/containerd.sock", Embedded: true, Version: "1.6.20"}
	cases := []struct {
		name            string
		daemon          func(context.Context) (DaemonContainerd, error)
		daemonStatus    Status
		containerd      Status
		containerdWords []string
	}{
		{"daemon with its own containerd", func(context.Context) (DaemonContainerd, error) { return embedded, nil },
			OK, OK, []string{"the daemon uses containerd 1.6.20 at /var/lib/minipod/containerd/containerd.sock", "the daemon's own"}},
		{"daemon whose containerd is down", func(context.Context) (DaemonContainerd, error) {
			d := embedded
			d.Version, d.Error = "", "connection refused"
			return d, nil
		}, OK, Fail, []string{"does not answer: connection refused"}},
		{"no daemon", func(context.Context) (DaemonContainerd, error) {
			return DaemonContainerd{}, errors.New("connection refused")
		},
			Warn, OK, []string{"a daemon starts its own from /usr/bin/containerd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(context.Background(), Config{Host: fakeHost(all, healthyFiles(), nil, true), PluginDirs: []string{"/usr/lib/cni"},
				Daemon: tc.daemon, Socket: "/run/minipod/minipod.sock"})
			if len(res) != 9 || res[0].Check != "daemon" || res[1].Check != "containerd" {
				t.Fatalf("results %+v, want the daemon's, then containerd's, then the host's", res)
			}
			if res[0].Status != tc.daemonStatus || (tc.daemonStatus != OK && res[0].Fix == "") {
				t.Errorf("daemon: %s %q (fix %q), want %s", res[0].Status, res[0].Detail, res[0].Fix, tc.daemonStatus)
			}
			if res[1].Status != tc.containerd {
				t.Errorf("containerd: %s %q, want %s", res[1].Status, res[1].Detail, tc.containerd)
			}
			for _, w := range tc.containerdWords {
				if !strings.Contains(res[1].Detail, w) {
					t.Errorf("containerd: %q does not say %q", res[1].Detail, w)
				}
			}
			if strings.Contains(res[1].Detail, "startable") {
				t.Errorf("containerd: %q", res[1].Detail)
			}
		})
	}
}
