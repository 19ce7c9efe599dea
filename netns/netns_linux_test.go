package netns

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/minipod/minipod/internal/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testName returns a namespace or container name of this test's own.
func testName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "mptest-" + hex.EncodeToString(b)
}

// isMounted reports whether path is a mount point in this process's view.
func isMounted(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && fields[4] == path {
			return true
		}
	}
	return false
}

// newTestNS creates a namespace removed when the test ends.
func newTestNS(t *testing.T) *NetNS {
	t.Helper()
	n, err := New(testName(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Remove(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return n
}

func TestNetNS(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	n, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Remove() })
	if n.Name() != name || n.Path() != "/run/netns/"+name {
		t.Errorf("name %q path %q", n.Name(), n.Path())
	}
	if !isMounted(t, n.Path()) {
		t.Errorf("%s is not a mount point", n.Path())
	}
	if _, err := New(name); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("New of an existing name: %v, want already exists", err)
	}

	// Loopback is up inside, and it is another namespace than ours.
	h, err := netns.GetFromPath(n.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	self, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if h.Equal(self) {
		t.Fatal("the new namespace is the test's own")
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" || links[0].Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("links in the new namespace: want only lo, up; got %d links, first %+v", len(links), links[0].Attrs())
	}
	// ip(8) sees it by name too.
	if out, err := exec.Command("ip", "-n", name, "-br", "link", "show", "lo").CombinedOutput(); err != nil || !strings.Contains(string(out), "UP") {
		t.Errorf("ip -n %s link show lo: %s %v", name, out, err)
	}

	names, err := List("mptest-")
	if err != nil {
		t.Fatal(err)
	}
	if !contains(names, name) {
		t.Errorf("List(mptest-) = %q lacks %q", names, name)
	}
	l, err := Load(name)
	if err != nil || l.Path() != n.Path() {
		t.Fatalf("Load: %v %v", l, err)
	}

	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if isMounted(t, n.Path()) {
		t.Errorf("%s still mounted", n.Path())
	}
	if _, err := os.Stat(n.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", n.Path(), err)
	}
	if _, err := Load(name); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Load after Remove: %v, want not found", err)
	}
	if _, err := New("a/b"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("New(a/b): %v, want invalid argument", err)
	}
}

// TestNetNSLeftover checks that a file left by a crash between creating and
// mounting is found by Load and cleaned by Remove.
func TestNetNSLeftover(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	if err := os.MkdirAll(Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pathOf(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(pathOf(name)) })
	if _, err := New(name); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("New over a leftover: %v, want already exists", err)
	}
	n, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pathOf(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover still there: %v", err)
	}
}

func TestNetNSConcurrent(t *testing.T) {
	testutil.RequiresRoot(t)
	const count = 8
	errs := make(chan error, count)
	made := make(chan *NetNS, count)
	for range count {
		go func() {
			n, err := New(testName(t))
			if err == nil {
				made <- n
			}
			errs <- err
		}()
	}
	for range count {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(made)
	seen := map[string]bool{}
	for n := range made {
		h, err := netns.GetFromPath(n.Path())
		if err != nil {
			t.Fatal(err)
		}
		seen[h.UniqueId()] = true
		h.Close()
		if err := n.Remove(); err != nil {
			t.Error(err)
		}
	}
	if len(seen) != count {
		t.Errorf("%d distinct namespaces, want %d", len(seen), count)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listenIn opens a TCP listener inside the namespace at path: the socket
// belongs to the namespace it was created in, so the thread can go back
// to the host namespace afterwards.
func listenIn(path string) (net.Listener, error) {
	type res struct {
		l   net.Listener
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- res{err: err}
			return
		}
		defer host.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			c <- res{err: err}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			c <- res{err: err}
			return
		}
		l, err := net.Listen("tcp4", ":0")
		if serr := netns.Set(host); serr != nil {
			c <- res{err: errors.Join(err, serr)} // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		c <- res{l, err}
	}()
	r := <-c
	return r.l, r.err
}

// serveHello answers every connection with the namespace's name.
func serveHello(l net.Listener, hello string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, hello)
		_ = c.Close()
	}
}

func dial(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return string(b)
}

// iptablesLines returns the lines of iptables-save that mention any of words.
func iptablesLines(t *testing.T, words ...string) []string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, w := range words {
			if w != "" && strings.Contains(line, w) {
				lines = append(lines, line)
				break
			}
		}
	}
	return lines
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ownBridges claims bridge names for the test: none may exist before it,
// and at its end they are deleted and IP forwarding, which the bridge plugin
// turns on for its gateway, is put back as it was.
func ownBridges(t *testing.T, names ...string) {
	t.Helper()
	for _, br := range names {
		if _, err := netlink.LinkByName(br); err == nil {
			t.Fatalf("bridge %s exists before the test: remove it (ip link del %s)", br, br)
		}
	}
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, br := range names {
			if l, err := netlink.LinkByName(br); err == nil {
				if err := netlink.LinkDel(l); err != nil {
					t.Errorf("cleanup: delete bridge %s: %v", br, err)
				}
			}
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", fwd, 0o644); err != nil {
			t.Errorf("cleanup: restore ip_forward: %v", err)
		}
	})
}

func TestCNI(t *testing.T) {
	testutil.RequiresRoot(t)
	const (
		pluginDir = "/usr/lib/cni"
		bridge    = "mptest0"
		subnet    = "10.233.7.0/24"
		network   = "mptest"
	)
	for _, p := range []string{"bridge", "host-local", "firewall", "portmap"} {
		_, err := os.Stat(pluginDir + "/" + p)
		testutil.Require(t, err == nil, "CNI plugin "+pluginDir+"/"+p+" (Debian package containernetworking-plugins)")
	}
	_, err := exec.LookPath("iptables-save")
	testutil.Require(t, err == nil, "iptables-save (Debian package iptables)")
	ownBridges(t, bridge)

	dataDir, cacheDir := t.TempDir(), t.TempDir()
	n, err := NewCNI(CNIConfig{
		PluginDirs: []string{pluginDir},
		Name:       network,
		Bridge:     bridge,
		Subnet:     subnet,
		DataDir:    dataDir,
		CacheDir:   cacheDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	_, ipnet, _ := net.ParseCIDR(subnet)
	nsA, nsB := newTestNS(t), newTestNS(t)
	attach := func(ns *NetNS, ports ...PortMapping) Attachment {
		id := strings.TrimPrefix(ns.Name(), "mptest-") + "-uid"
		return Attachment{
			ID:           id,
			NetNSPath:    ns.Path(),
			Args:         map[string]string{"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": ns.Name(), "K8S_POD_UID": id},
			PortMappings: ports,
		}
	}
	hostPort := int32(40000 + time.Now().UnixNano()%20000)
	a := attach(nsA)
	b := attach(nsB, PortMapping{HostPort: hostPort, ContainerPort: 0 /* set below */, Protocol: "tcp"})

	// B listens first, so its port can go into B's port mapping.
	l, err := listenIn(nsB.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveHello(l, "hello from B")
	b.PortMappings[0].ContainerPort = int32(l.Addr().(*net.TCPAddr).Port)

	// Registered before ADD, as the runtime does.
	t.Cleanup(func() {
		_ = n.Remove(context.Background(), a)
		_ = n.Remove(context.Background(), Attachment{ID: b.ID, PortMappings: b.PortMappings})
	})
	ra, err := n.Setup(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := n.Setup(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A: %+v B: %+v", ra, rb)
	for _, r := range []*Result{ra, rb} {
		if !ipnet.Contains(r.IP) || r.Interface != "eth0" || !r.Gateway.Equal(net.ParseIP("10.233.7.1")) {
			t.Errorf("result %+v: want an IP in %s on eth0 via 10.233.7.1", r, subnet)
		}
		if ones, bits := r.Mask.Size(); ones != 24 || bits != 32 {
			t.Errorf("mask %v, want /24", r.Mask)
		}
	}
	if ra.IP.Equal(rb.IP) {
		t.Fatalf("A and B got the same IP %s", ra.IP)
	}
	res, err := Reservations(dataDir, network)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Errorf("reservations %q, want A's and B's", res)
	}

	// The host reaches B over the bridge.
	addrB := net.JoinHostPort(rb.IP.String(), fmt.Sprint(b.PortMappings[0].ContainerPort))
	if got := dial(t, addrB); got != "hello from B" {
		t.Errorf("from %s: %q", addrB, got)
	}
	// And through B's host port on loopback (portmap DNAT + SNAT).
	addrHost := net.JoinHostPort("127.0.0.1", fmt.Sprint(hostPort))
	if got := dial(t, addrHost); got != "hello from B" {
		t.Errorf("from %s: %q", addrHost, got)
	}
	if lines := iptablesLines(t, b.ID); len(lines) == 0 {
		t.Errorf("no iptables rules carry B's id %q after ADD", b.ID)
	}

	// DEL A, twice.
	if err := n.Remove(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(ctx, a); err != nil {
		t.Errorf("second DEL: %v", err)
	}
	// B's namespace goes first; DEL without a path still frees its IP.
	// The listener's socket holds the namespace alive: close it first.
	l.Close()
	if err := nsB.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(ctx, Attachment{ID: b.ID, PortMappings: b.PortMappings}); err != nil {
		t.Fatalf("DEL without a netns path: %v", err)
	}
	if err := n.Remove(ctx, Attachment{ID: b.ID, NetNSPath: nsB.Path()}); err != nil {
		t.Errorf("DEL with a path that is gone: %v", err)
	}
	// A failed ADD (the interface name is taken inside the namespace), then
	// its DEL.
	nsC := newTestNS(t)
	hC, err := netns.GetFromPath(nsC.Path())
	if err != nil {
		t.Fatal(err)
	}
	nlC, err := netlink.NewHandleAt(hC)
	hC.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = nlC.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"})
	nlC.Close()
	if err != nil {
		t.Fatal(err)
	}
	failed := attach(nsC)
	if _, err := n.Setup(ctx, failed); err == nil {
		t.Errorf("ADD on an interface name that exists succeeded")
	}
	if err := n.Remove(ctx, failed); err != nil {
		t.Errorf("DEL after a failed ADD: %v", err)
	}
	// A leftover plain file where a namespace was is treated as gone.
	leftover := t.TempDir() + "/leftover"
	if err := os.WriteFile(leftover, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(ctx, Attachment{ID: "mptest-leftover", NetNSPath: leftover}); err != nil {
		t.Errorf("DEL with a path that is not a namespace: %v", err)
	}
	if err := n.Remove(ctx, Attachment{ID: "mptest-never-added"}); err != nil {
		t.Errorf("DEL of an id never added: %v", err)
	}
	if res, err := Reservations(dataDir, network); err != nil || len(res) != 0 {
		t.Errorf("reservations after DEL: %q %v, want none", res, err)
	}
	if lines := iptablesLines(t, a.ID, b.ID, failed.ID, ra.IP.String()+"/", rb.IP.String()+"/", `"`+network+`"`); len(lines) != 0 {
		t.Errorf("iptables rules left after DEL:\n%s", strings.Join(lines, "\n"))
	}
	if entries, err := os.ReadDir(cacheDir + "/results"); err == nil && len(entries) != 0 {
		t.Errorf("libcni cache entries left after DEL: %d", len(entries))
	}
	// The veths go with their namespaces; the kernel frees B's lazily.
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the veths on "+bridge+" to go", func() bool {
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				return false
			}
		}
		return true
	})
}

// TestCNIConfListReload: a user's conflist is read again when it changes; a
// change that does not load, or renames the network, fails the next ADD
// with the reason; an attachment is removed with the config it was added
// with, from libcni's cache.
func TestCNIConfListReload(t *testing.T) {
	testutil.RequiresRoot(t)
	const (
		pluginDir = "/usr/lib/cni"
		network   = "mptest-reload"
	)
	for _, p := range []string{"bridge", "host-local"} {
		_, err := os.Stat(pluginDir + "/" + p)
		testutil.Require(t, err == nil, "CNI plugin "+pluginDir+"/"+p+" (Debian package containernetworking-plugins)")
	}
	bridges := []string{"mptest1", "mptest2"}
	ownBridges(t, bridges...)

	// Each version of the file keeps its addresses in a data directory of
	// its own: removing an attachment with any config but the one it was
	// added with would leave its address reserved.
	oldData, newData, cacheDir := t.TempDir(), t.TempDir(), t.TempDir()
	confList := t.TempDir() + "/net.conflist"
	write := func(name, bridge, dataDir, subnet string) {
		t.Helper()
		conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true,
   "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]]}}]}`, name, bridge, dataDir, subnet)
		if err := os.WriteFile(confList, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(network, bridges[0], oldData, "10.233.8.0/24")
	n, err := NewCNI(CNIConfig{PluginDirs: []string{pluginDir}, ConfList: confList, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attach := func(ns *NetNS) Attachment {
		id := strings.TrimPrefix(ns.Name(), "mptest-") + "-uid"
		a := Attachment{ID: id, NetNSPath: ns.Path(), Args: map[string]string{"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": ns.Name(), "K8S_POD_UID": id}}
		t.Cleanup(func() { _ = n.Remove(context.Background(), a) })
		return a
	}
	// setupIn adds a new namespace and checks that its address is in cidr.
	setupIn := func(what, cidr string) Attachment {
		t.Helper()
		a := attach(newTestNS(t))
		r, err := n.Setup(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if _, ipnet, _ := net.ParseCIDR(cidr); !ipnet.Contains(r.IP) {
			t.Errorf("%s got %s, want an address in %s", what, r.IP, cidr)
		}
		return a
	}

	a := setupIn("A", "10.233.8.0/24")
	// The file changes: the next ADD uses the new subnet and bridge.
	write(network, bridges[1], newData, "10.233.9.0/24")
	b := setupIn("B, added after the change,", "10.233.9.0/24")

	// A broken file and a renamed network fail the ADD, saying why.
	c := attach(newTestNS(t))
	if err := os.WriteFile(confList, []byte(`{"cniVersion": "1.0.0", "name": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Setup(ctx, c); err == nil || !strings.Contains(err.Error(), confList) {
		t.Errorf("ADD with a broken conflist: %v, want an error naming %s", err, confList)
	}
	write("mptest-renamed", bridges[1], newData, "10.233.9.0/24")
	if _, err := n.Setup(ctx, c); !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "renames network") {
		t.Errorf("ADD with a renamed network: %v, want FailedPrecondition saying it renames the network", err)
	}
	if n.Name() != network {
		t.Errorf("Name() = %q after a refused rename, want %q", n.Name(), network)
	}
	write(network, bridges[1], newData, "10.233.9.0/24")
	if _, err := n.Setup(ctx, c); err != nil {
		t.Fatalf("ADD once the conflist is right again: %v", err)
	}

	// A, added under the old config, is removed with it: its address is
	// released from the old data directory.
	if err := n.Remove(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, x := range []Attachment{b, c} {
		if err := n.Remove(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{oldData, newData} {
		if res, err := Reservations(dir, network); err != nil || len(res) != 0 {
			t.Errorf("reservations in %s after DEL: %q %v, want none", dir, res, err)
		}
	}
}

// TestRemoveKeepsOtherFiles: Remove takes away only what New makes (a
// namespace pin and its empty file); a user's file or directory at the
// same name is left as it is.
func TestRemoveKeepsOtherFiles(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	name := testName(t)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("a user's file\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub := testName(t)
	if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{name, sub} {
		ns, err := LoadIn(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := ns.Remove(); !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Errorf("Remove of a user's %s: %v, want a refusal", n, err)
		}
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "a user's file\n" {
		t.Errorf("the user's file: %q %v", b, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the user's file's mode: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
		t.Errorf("the user's directory: %v", err)
	}

	// What New makes goes, in the same directory.
	ns, err := NewIn(dir, testName(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := ns.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(ns.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", ns.Path(), err)
	}
}

// TestCheckDir: a --netns-dir holding anything but namespace pins is
// refused; a new one, or one of pins (and the empty files ip-netns and a
// crash leave), is taken.
func TestCheckDir(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	if err := CheckDir(filepath.Join(base, "new")); err != nil {
		t.Errorf("a new directory: %v", err)
	}
	pins := filepath.Join(base, "pins")
	ns, err := NewIn(pins, testName(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ns.Remove()
		_ = unix.Unmount(pins, unix.MNT_DETACH)
	})
	if err := os.WriteFile(filepath.Join(pins, testName(t)), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(pins); err != nil {
		t.Errorf("a directory of pins: %v", err)
	}
	user := filepath.Join(base, "user")
	if err := os.MkdirAll(filepath.Join(user, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(user, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(user); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a directory of a user's files: %v, want refused", err)
	}
	if err := CheckDir(filepath.Join(user, "notes.txt")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a file: %v, want refused", err)
	}
}

// TestCNIDelAfterCutAdd: an ADD killed half way (a Ctrl-C, a daemon
// killed) can leave the pod's address on its interface without the bridge
// plugin's ipMasq chain; the plugin's DEL then fails on the missing chain.
// The CNI spec asks DEL to succeed when what it removes is already gone:
// Remove counts it as done, frees the IP, and a second Remove succeeds too.
func TestCNIDelAfterCutAdd(t *testing.T) {
	testutil.RequiresRoot(t)
	const (
		pluginDir = "/usr/lib/cni"
		bridge    = "mptest2"
		subnet    = "10.233.9.0/24"
		network   = "mptestdel"
	)
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		_, err := os.Stat(pluginDir + "/" + p)
		testutil.Require(t, err == nil, "CNI plugin "+pluginDir+"/"+p+" (Debian package containernetworking-plugins)")
	}
	_, err := exec.LookPath("iptables-save")
	testutil.Require(t, err == nil, "iptables-save (Debian package iptables)")
	ownBridges(t, bridge)
	dataDir := t.TempDir()
	n, err := NewCNI(CNIConfig{PluginDirs: []string{pluginDir}, Name: network, Bridge: bridge, Subnet: subnet, DataDir: dataDir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := newTestNS(t)
	a := Attachment{ID: strings.TrimPrefix(ns.Name(), "mptest-") + "-uid", NetNSPath: ns.Path()}
	t.Cleanup(func() { _ = n.Remove(context.Background(), Attachment{ID: a.ID}) })
	if _, err := n.Setup(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Take away what an ADD cut short never made: the ipMasq rule and chain.
	cmds := masqCleanup(iptablesSave(t), network, a.ID)
	if len(cmds) == 0 {
		t.Fatal("no ipMasq rules of the attachment found after ADD")
	}
	for _, args := range cmds {
		if out, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v: %s", args, err, out)
		}
	}
	if err := n.Remove(ctx, a); err != nil {
		t.Fatalf("DEL after a cut ADD: %v", err)
	}
	if ips, _ := Reservations(dataDir, network); len(ips) != 0 {
		t.Errorf("IP reservations left: %v", ips)
	}
	if left := masqCleanup(iptablesSave(t), network, a.ID); len(left) != 0 {
		t.Errorf("ipMasq rules left: %v", left)
	}
	if err := n.Remove(ctx, a); err != nil {
		t.Errorf("second DEL: %v", err)
	}
}

func iptablesSave(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestCNIBridgeTaken: a bridge that exists with another network's address
// (a second daemon's default bridge) is refused when the network is
// loaded, not at the first pod; one with the subnet's gateway is fine.
func TestCNIBridgeTaken(t *testing.T) {
	testutil.RequiresRoot(t)
	const bridge = "mptest3"
	_, err := os.Stat("/usr/lib/cni/bridge")
	testutil.Require(t, err == nil, "CNI plugins in /usr/lib/cni (Debian package containernetworking-plugins)")
	ownBridges(t, bridge)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridge}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.233.11.1/24")
	if err := netlink.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	cfg := CNIConfig{PluginDirs: []string{"/usr/lib/cni"}, Name: "mptestbr", Bridge: bridge, Subnet: "10.233.12.0/24"}
	_, err = NewCNI(cfg)
	if !errors.Is(err, ErrBridgeTaken) || !strings.Contains(err.Error(), "10.233.11.1/24") {
		t.Fatalf("NewCNI with a bridge of another subnet: %v, want ErrBridgeTaken naming its address", err)
	}
	cfg.Subnet = "10.233.11.0/24"
	if _, err := NewCNI(cfg); err != nil {
		t.Fatalf("NewCNI with the bridge's own subnet: %v", err)
	}
}
