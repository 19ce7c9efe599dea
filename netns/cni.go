package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// Defaults of CNIConfig.
const (
	DefaultName   = "minipod"
	DefaultBridge = "minipod0"
	// DefaultSubnet is the pods' subnet. It clashes with none of the
	// defaults of the tools a minipod host is likely to run as well:
	// podman (10.88.0.0/16, 10.89.0.0/16), containerd's CRI example config
	// (10.88.0.0/16), CRI-O (10.85.0.0/16), nerdctl (10.4.0.0/24), k3s
	// (10.42.0.0/16, 10.43.0.0/16), kind/kubeadm flannel (10.244.0.0/16),
	// Docker (172.17.0.0/16 and up).
	DefaultSubnet = "10.77.0.0/16"
	// DefaultIfName is the pod's interface inside its namespace.
	DefaultIfName = "eth0"
)

// DefaultPluginDirs are searched for CNI plugin binaries: the upstream
// location first, then Debian's containernetworking-plugins.
var DefaultPluginDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// PortMapping is one hostPort of a pod, passed to the portmap plugin.
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	Protocol      string // "tcp" (the default when empty) or "udp"
	HostIP        string // "" for all host addresses
}

// Attachment is one pod's attachment to a network: what CNI ADD and DEL
// are called with.
type Attachment struct {
	ID           string            // CNI container id: the pod UID
	NetNSPath    string            // may be "" on Remove when the namespace is already gone
	IfName       string            // DefaultIfName when ""
	Args         map[string]string // CNI_ARGS: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID; IgnoreUnknown=1 is added
	PortMappings []PortMapping     // the portMappings capability
}

// Result is the pod's IPv4 address on the network.
type Result struct {
	IP        net.IP
	Gateway   net.IP
	Interface string
	Mask      net.IPMask
}

// Network attaches pods to a network. NewCNI returns one; cnitest.Fake is a
// failing fake for rollback tests.
type Network interface {
	// Name is the network's name.
	Name() string
	// Setup runs CNI ADD. It may allocate resources and still fail: the
	// caller must call Remove for the same attachment either way.
	Setup(ctx context.Context, a Attachment) (*Result, error)
	// Remove runs CNI DEL. It works with an empty NetNSPath and after a
	// failed or missing Setup, and is idempotent.
	Remove(ctx context.Context, a Attachment) error
}

// CNIConfig configures NewCNI.
type CNIConfig struct {
	PluginDirs []string // DefaultPluginDirs when empty
	ConfList   string   // path of a .conflist to use; DefaultConfList(cfg) when ""
	Name       string   // network name of the default conflist; DefaultName when ""
	Bridge     string   // bridge of the default conflist; DefaultBridge when ""
	Subnet     string   // host-local subnet of the default conflist; DefaultSubnet when ""
	DataDir    string   // host-local dataDir of the default conflist, e.g. <root>/cni/networks; the plugin's default when ""
	CacheDir   string   // libcni cache directory, e.g. <root>/cni/cache; libcni's default when ""
	// Firewall adds the firewall plugin to the default conflist. It is
	// needed only where the FORWARD chain's policy is DROP (Docker hosts);
	// elsewhere it costs tens of milliseconds per ADD and DEL for nothing.
	// ForwardPolicyDrops tells which.
	Firewall bool
}

// ErrBridgeTaken is the error of NewCNI when the bridge of the default
// network exists already with another network's address.
var ErrBridgeTaken = fmt.Errorf("bridge in use by another network: %w", errdefs.ErrFailedPrecondition)

// gatewayOf is the bridge's address on subnet: its first host address, as
// the bridge plugin (isGateway) gives it.
func gatewayOf(subnet string) (*net.IPNet, error) {
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ipnet.IP.To4() == nil {
		return nil, fmt.Errorf("invalid CNI subnet %q: want an IPv4 CIDR such as %q: %w", subnet, DefaultSubnet, errdefs.ErrInvalidArgument)
	}
	gw := make(net.IP, 4)
	copy(gw, ipnet.IP.To4())
	gw[3]++
	return &net.IPNet{IP: gw, Mask: ipnet.Mask}, nil
}

// ForwardPolicyDrops tells whether the host's iptables FORWARD chain drops
// by default, so that pod traffic needs the firewall plugin to pass.
func ForwardPolicyDrops() bool {
	out, err := exec.Command("iptables", "-w", "-S", "FORWARD").Output()
	if err != nil {
		// Cannot tell: be safe and let the firewall plugin open the way.
		return true
	}
	return strings.Contains(string(out), "-P FORWARD DROP") || strings.Contains(string(out), "-P FORWARD REJECT")
}

func (cfg CNIConfig) withDefaults() CNIConfig {
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if cfg.Subnet == "" {
		cfg.Subnet = DefaultSubnet
	}
	return cfg
}

// The default network config list, as JSON.
type (
	confList struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []any  `json:"plugins"`
	}
	bridgeConf struct {
		Type        string   `json:"type"`
		Bridge      string   `json:"bridge"`
		IsGateway   bool     `json:"isGateway"`
		IPMasq      bool     `json:"ipMasq"`
		HairpinMode bool     `json:"hairpinMode"`
		IPAM        ipamConf `json:"ipam"`
	}
	ipamConf struct {
		Type    string        `json:"type"`
		Ranges  [][]ipamRange `json:"ranges"`
		Routes  []ipamRoute   `json:"routes"`
		DataDir string        `json:"dataDir,omitempty"`
	}
	ipamRange struct {
		Subnet string `json:"subnet"`
	}
	ipamRoute struct {
		Dst string `json:"dst"`
	}
	portmapConf struct {
		Type         string          `json:"type"`
		Capabilities map[string]bool `json:"capabilities"`
		SNAT         bool            `json:"snat"`
	}
	firewallConf struct {
		Type string `json:"type"`
	}
)

// DefaultConfList returns the network config list used when cfg.ConfList is
// "": a bridge with host-local IPAM, the firewall plugin when cfg.Firewall
// (it opens the FORWARD chain for pod traffic on hosts whose policy is DROP,
// e.g. with Docker installed) and portmap for hostPorts.
//
// cniVersion is 1.0.0, the newest that Debian's plugins (1.1.1) support.
// There is no loopback plugin: New brings lo up when it creates the
// namespace, which saves one plugin exec per pod on ADD and on DEL.
func DefaultConfList(cfg CNIConfig) []byte {
	cfg = cfg.withDefaults()
	list := confList{
		CNIVersion: "1.0.0",
		Name:       cfg.Name,
		Plugins: []any{
			bridgeConf{
				Type:        "bridge",
				Bridge:      cfg.Bridge,
				IsGateway:   true,
				IPMasq:      true,
				HairpinMode: true,
				IPAM: ipamConf{
					Type:    "host-local",
					Ranges:  [][]ipamRange{{{Subnet: cfg.Subnet}}},
					Routes:  []ipamRoute{{Dst: "0.0.0.0/0"}},
					DataDir: cfg.DataDir,
				},
			},
			portmapConf{
				Type:         "portmap",
				Capabilities: map[string]bool{"portMappings": true},
				SNAT:         true,
			},
		},
	}
	if cfg.Firewall {
		list.Plugins = []any{list.Plugins[0], firewallConf{Type: "firewall"}, list.Plugins[1]}
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		// Only strings, bools, slices and maps of them: cannot fail.
		panic(fmt.Sprintf("failed to marshal the default CNI config list: %v", err))
	}
	return b
}

// cniNetwork is a Network implemented with libcni and the CNI plugin binaries.
type cniNetwork struct {
	cfg CNIConfig // with defaults
	cni libcni.CNI
	// name is the network's name, fixed for the daemon's life: pods are
	// attached under it and found again by it.
	name string

	mu sync.Mutex
	// cur is the config list in use. A user's conflist file is read again
	// when it changes (see current); the default one never changes.
	cur *loadedList
}

// loadedList is a config list as loaded, with what it was loaded from.
type loadedList struct {
	list *libcni.NetworkConfigList
	// noPorts is list without its portmap plugin, used for attachments
	// without port mappings: portmap costs tens of milliseconds on each
	// ADD and DEL and does nothing for them. Nil when list has no portmap.
	noPorts *libcni.NetworkConfigList
	// stamp identifies the conflist file's version; zero for the default.
	stamp fileStamp
}

func newLoadedList(list *libcni.NetworkConfigList, stamp fileStamp) *loadedList {
	return &loadedList{list: list, noPorts: withoutPortmap(list), stamp: stamp}
}

// listFor picks the config list an attachment is added and removed with.
func (l *loadedList) listFor(a Attachment) *libcni.NetworkConfigList {
	if len(a.PortMappings) == 0 && l.noPorts != nil {
		return l.noPorts
	}
	return l.list
}

// fileStamp tells one version of a file from another.
type fileStamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func stampOf(fi fs.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// withoutPortmap returns a copy of list without its portmap plugin, or nil
// when it has none.
func withoutPortmap(list *libcni.NetworkConfigList) *libcni.NetworkConfigList {
	var plugins []*libcni.NetworkConfig
	for _, p := range list.Plugins {
		if p.Network.Type != "portmap" {
			plugins = append(plugins, p)
		}
	}
	if len(plugins) == len(list.Plugins) || len(plugins) == 0 {
		return nil
	}
	cp := *list
	cp.Plugins = plugins
	return &cp
}

var _ Network = (*cniNetwork)(nil)

// NewCNI returns the CNI network of cfg. It loads and checks the network
// config list once, for all pods: it must parse, and every plugin it names
// (IPAM plugins included) must be in cfg.PluginDirs. A conflist file named
// by cfg.ConfList is loaded again, and checked the same way, when it has
// changed by the next pod's ADD.
func NewCNI(cfg CNIConfig) (Network, error) {
	cfg = cfg.withDefaults()
	var cur *loadedList
	if cfg.ConfList == "" {
		if err := checkDefaults(cfg); err != nil {
			return nil, err
		}
		if err := checkBridge(cfg.Bridge, cfg.Subnet); err != nil {
			return nil, err
		}
		list, err := libcni.ConfListFromBytes(DefaultConfList(cfg))
		if err != nil {
			return nil, fmt.Errorf("failed to parse the default CNI config list of network %q: %w: %w", cfg.Name, errdefs.ErrInvalidArgument, err)
		}
		if err := checkList(list, cfg.PluginDirs); err != nil {
			return nil, err
		}
		cur = newLoadedList(list, fileStamp{})
	} else {
		var err error
		if cur, err = loadConfList(cfg); err != nil {
			return nil, err
		}
	}
	return &cniNetwork{
		cfg:  cfg,
		cni:  libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.CacheDir, nil),
		name: cur.list.Name,
		cur:  cur,
	}, nil
}

// loadConfList reads and checks the conflist file of cfg.
func loadConfList(cfg CNIConfig) (*loadedList, error) {
	fail := func(err error) (*loadedList, error) {
		var class error = errdefs.ErrInvalidArgument
		if errors.Is(err, fs.ErrNotExist) {
			class = errdefs.ErrNotFound
		}
		return nil, fmt.Errorf("failed to load CNI config list %q: %w: %w", cfg.ConfList, class, err)
	}
	fi, err := os.Stat(cfg.ConfList)
	if err != nil {
		return fail(err)
	}
	list, err := libcni.ConfListFromFile(cfg.ConfList)
	if err != nil {
		return fail(err)
	}
	if err := checkList(list, cfg.PluginDirs); err != nil {
		return nil, err
	}
	return newLoadedList(list, stampOf(fi)), nil
}

// checkList checks a loaded config list: plugins, all of them found.
func checkList(list *libcni.NetworkConfigList, dirs []string) error {
	if len(list.Plugins) == 0 {
		return fmt.Errorf("failed to load CNI network %q: it has no plugins: %w", list.Name, errdefs.ErrInvalidArgument)
	}
	return findPlugins(list, dirs)
}

// current returns the config list for the next ADD: the one loaded, or the
// conflist file again when it has changed since (one stat per ADD). A
// changed file that does not load, or that renames the network, fails the
// ADD with the reason, and the next ADD tries again.
func (c *cniNetwork) current() (*loadedList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.ConfList == "" {
		return c.cur, nil
	}
	fi, err := os.Stat(c.cfg.ConfList)
	if err != nil {
		return nil, fmt.Errorf("failed to load CNI config list %q: %w", c.cfg.ConfList, err)
	}
	if stampOf(fi) == c.cur.stamp {
		return c.cur, nil
	}
	next, err := loadConfList(c.cfg)
	if err != nil {
		return nil, err
	}
	if next.list.Name != c.name {
		return nil, fmt.Errorf("failed to load CNI config list %q: it renames network %q to %q, and pods are attached under the old name: restart the daemon to rename it: %w",
			c.cfg.ConfList, c.name, next.list.Name, errdefs.ErrFailedPrecondition)
	}
	c.cur = next
	return next, nil
}

// forRemove returns the config list an attachment is removed with: the one
// it was added with, from libcni's cache, so that a conflist changed since
// is no obstacle; the current one when nothing is cached.
func (c *cniNetwork) forRemove(a Attachment, rt *libcni.RuntimeConf) *libcni.NetworkConfigList {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if b, _, err := c.cni.GetNetworkListCachedConfig(cur.list, rt); err == nil && len(b) > 0 {
		if list, err := libcni.ConfListFromBytes(b); err == nil && list.Name == c.name {
			return newLoadedList(list, fileStamp{}).listFor(a)
		}
	}
	return cur.listFor(a)
}

// checkDefaults validates what goes into the default config list, so a
// mistake shows here and not on the first pod.
func checkDefaults(cfg CNIConfig) error {
	if _, ipnet, err := net.ParseCIDR(cfg.Subnet); err != nil || ipnet.IP.To4() == nil {
		return fmt.Errorf("invalid CNI subnet %q: want an IPv4 CIDR such as %q: %w", cfg.Subnet, DefaultSubnet, errdefs.ErrInvalidArgument)
	}
	// IFNAMSIZ is 16 including the terminating NUL.
	if len(cfg.Bridge) > 15 || strings.ContainsAny(cfg.Bridge, "/ \t\n:") {
		return fmt.Errorf("invalid CNI bridge name %q: want at most 15 characters, no '/', ':' or spaces: %w", cfg.Bridge, errdefs.ErrInvalidArgument)
	}
	return nil
}

// findPlugins checks that every plugin binary of list is in dirs.
func findPlugins(list *libcni.NetworkConfigList, dirs []string) error {
	var names []string
	for _, p := range list.Plugins {
		names = append(names, p.Network.Type)
		if p.Network.IPAM.Type != "" {
			names = append(names, p.Network.IPAM.Type)
		}
	}
	var errs []error
	for _, name := range names {
		if _, err := invoke.FindInPath(name, dirs); err != nil {
			errs = append(errs, fmt.Errorf("failed to find CNI plugin %q of network %q in %s: install containernetworking-plugins or set the plugin directories: %w",
				name, list.Name, strings.Join(dirs, ", "), errdefs.ErrNotFound))
		}
	}
	return errors.Join(errs...)
}

// Name returns the network's name.
func (c *cniNetwork) Name() string { return c.name }

// Setup runs CNI ADD for a and returns the IPv4 address of a.IfName.
func (c *cniNetwork) Setup(ctx context.Context, a Attachment) (*Result, error) {
	if a.NetNSPath == "" {
		return nil, fmt.Errorf("failed to set up network %q for %q: no network namespace path: %w", c.name, a.ID, errdefs.ErrInvalidArgument)
	}
	rt, err := runtimeConf(a)
	if err != nil {
		return nil, fmt.Errorf("failed to set up network %q for %q: %w", c.name, a.ID, err)
	}
	cur, err := c.current()
	if err != nil {
		return nil, fmt.Errorf("failed to set up network %q for %q: %w", c.name, a.ID, err)
	}
	res, err := c.cni.AddNetworkList(ctx, cur.listFor(a), rt)
	if err != nil {
		return nil, fmt.Errorf("failed to set up network %q for %q: %w", c.name, a.ID, err)
	}
	r, err := parseResult(res, rt.IfName)
	if err != nil {
		return nil, fmt.Errorf("failed to set up network %q for %q: %w", c.name, a.ID, err)
	}
	return r, nil
}

// Remove runs CNI DEL for a. The plugins release the IP even when
// a.NetNSPath is "" (the namespace is gone), and DEL of an attachment that
// does not exist succeeds. Without a namespace it also removes the bridge
// plugin's ipMasq rules, which that DEL leaves behind (see ipmasq.go).
// Callers should still DEL before they remove the namespace: it is the
// order in which the plugins clean up everything themselves. A DEL that
// fails inside the namespace is run again without it (see below): the
// caller's removal of the namespace must follow.
func (c *cniNetwork) Remove(ctx context.Context, a Attachment) error {
	rt, err := runtimeConf(a)
	if err != nil {
		return fmt.Errorf("failed to remove network %q from %q: %w", c.name, a.ID, err)
	}
	// A path that is no longer a namespace (gone, unmounted, or a file left
	// by a crash before it was pinned) would make the plugins fail: DEL
	// without one, which still frees the IP.
	if rt.NetNS != "" && !isNetNS(rt.NetNS) {
		rt.NetNS = ""
	}
	list := c.forRemove(a, rt)
	if err := c.cni.DelNetworkList(ctx, list, rt); err != nil {
		if rt.NetNS == "" {
			return fmt.Errorf("failed to remove network %q from %q: %w", c.name, a.ID, err)
		}
		// The CNI spec asks a DEL to succeed when what it would remove is
		// already gone, but the bridge plugin (1.1.1) fails when the
		// ipMasq chain of an ADD that was cut short (a Ctrl-C, a daemon
		// killed) does not exist. DEL again without the namespace: the
		// plugins then release what lives outside it (the IP, port
		// mappings; the ipMasq rules below), and the removal of the
		// namespace, which callers do next, takes the interface with it.
		rt.NetNS = ""
		if err2 := c.cni.DelNetworkList(ctx, list, rt); err2 != nil {
			return fmt.Errorf("failed to remove network %q from %q: %w", c.name, a.ID, errors.Join(err, err2))
		}
	}
	if rt.NetNS == "" && masqNeeded(list) {
		if err := removeMasq(ctx, c.name, a.ID); err != nil {
			return fmt.Errorf("failed to remove network %q from %q: %w", c.name, a.ID, err)
		}
	}
	return nil
}

// portMapEntry is the portMappings capability's JSON, as portmap reads it.
type portMapEntry struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

func runtimeConf(a Attachment) (*libcni.RuntimeConf, error) {
	if a.ID == "" {
		return nil, fmt.Errorf("no CNI container id: %w", errdefs.ErrInvalidArgument)
	}
	rt := &libcni.RuntimeConf{
		ContainerID: a.ID,
		NetNS:       a.NetNSPath,
		IfName:      a.IfName,
	}
	if rt.IfName == "" {
		rt.IfName = DefaultIfName
	}
	keys := make([]string, 0, len(a.Args))
	for k := range a.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := a.Args["IgnoreUnknown"]; !ok {
		// Plugins reject CNI_ARGS keys they do not know without it.
		rt.Args = append(rt.Args, [2]string{"IgnoreUnknown", "1"})
	}
	for _, k := range keys {
		rt.Args = append(rt.Args, [2]string{k, a.Args[k]})
	}
	if len(a.PortMappings) > 0 {
		maps := make([]portMapEntry, 0, len(a.PortMappings))
		for _, pm := range a.PortMappings {
			proto := strings.ToLower(pm.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			if proto != "tcp" && proto != "udp" {
				return nil, fmt.Errorf("invalid protocol %q of host port %d: want tcp or udp: %w", pm.Protocol, pm.HostPort, errdefs.ErrInvalidArgument)
			}
			if pm.HostIP != "" && net.ParseIP(pm.HostIP) == nil {
				return nil, fmt.Errorf("invalid host IP %q of host port %d: %w", pm.HostIP, pm.HostPort, errdefs.ErrInvalidArgument)
			}
			maps = append(maps, portMapEntry{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: proto, HostIP: pm.HostIP})
		}
		rt.CapabilityArgs = map[string]any{"portMappings": maps}
	}
	return rt, nil
}

// parseResult finds the IPv4 address of the interface ifName inside the
// namespace in a CNI ADD result.
func parseResult(res types.Result, ifName string) (*Result, error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("failed to convert CNI result: %w", err)
	}
	for _, ip := range r.IPs {
		v4 := ip.Address.IP.To4()
		if v4 == nil {
			continue
		}
		if ip.Interface != nil {
			i := *ip.Interface
			if i < 0 || i >= len(r.Interfaces) {
				continue
			}
			iface := r.Interfaces[i]
			if iface.Sandbox == "" || iface.Name != ifName {
				continue // the host side: the bridge or the veth
			}
		}
		mask := ip.Address.Mask
		if len(mask) == net.IPv6len {
			mask = mask[12:]
		}
		return &Result{IP: v4, Gateway: ip.Gateway.To4(), Interface: ifName, Mask: mask}, nil
	}
	return nil, fmt.Errorf("no IPv4 address for interface %q in the CNI result: %w", ifName, errdefs.ErrNotFound)
}

// Reservations returns the IPs host-local holds for network in dataDir:
// the files there other than its lock and last_reserved_ip* bookkeeping.
// A missing directory holds none.
func Reservations(dataDir, network string) ([]string, error) {
	if network == "" || strings.ContainsRune(network, '/') || network == "." || network == ".." {
		return nil, fmt.Errorf("invalid CNI network name %q: %w", network, errdefs.ErrInvalidArgument)
	}
	dir := filepath.Join(dataDir, network)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to list IP reservations in %q: %w", dir, err)
	}
	var ips []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == "lock" || strings.HasPrefix(name, "last_reserved_ip") {
			continue
		}
		ips = append(ips, name)
	}
	sort.Strings(ips)
	return ips, nil
}
