package netns

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

func TestDefaultConfList(t *testing.T) {
	tests := []struct {
		name                           string
		cfg                            CNIConfig
		wantName, wantBridge, wantNets string
		wantDataDir                    string
		wantPlugins                    []string
	}{
		{name: "defaults", wantName: "minipod", wantBridge: "minipod0", wantNets: "10.77.0.0/16", wantPlugins: []string{"bridge", "portmap"}},
		{
			name:     "custom",
			cfg:      CNIConfig{Name: "mptest", Bridge: "mptest0", Subnet: "10.233.7.0/24", DataDir: "/var/lib/minipod/cni/networks", Firewall: true},
			wantName: "mptest", wantBridge: "mptest0", wantNets: "10.233.7.0/24", wantDataDir: "/var/lib/minipod/cni/networks",
			wantPlugins: []string{"bridge", "firewall", "portmap"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := DefaultConfList(tc.cfg)
			list, err := libcni.ConfListFromBytes(b)
			if err != nil {
				t.Fatalf("libcni cannot parse the default config list: %v\n%s", err, b)
			}
			if list.Name != tc.wantName || list.CNIVersion != "1.0.0" {
				t.Errorf("name %q version %q, want %q 1.0.0", list.Name, list.CNIVersion, tc.wantName)
			}
			var types []string
			for _, p := range list.Plugins {
				types = append(types, p.Network.Type)
			}
			if want := tc.wantPlugins; !reflect.DeepEqual(types, want) {
				t.Fatalf("plugins %q, want %q", types, want)
			}
			if ipam := list.Plugins[0].Network.IPAM.Type; ipam != "host-local" {
				t.Errorf("ipam %q, want host-local", ipam)
			}
			if !list.Plugins[len(list.Plugins)-1].Network.Capabilities["portMappings"] {
				t.Errorf("portmap lacks the portMappings capability")
			}

			var bridge struct {
				Bridge      string `json:"bridge"`
				IsGateway   bool   `json:"isGateway"`
				IPMasq      bool   `json:"ipMasq"`
				HairpinMode bool   `json:"hairpinMode"`
				IPAM        struct {
					Ranges  [][]struct{ Subnet string } `json:"ranges"`
					Routes  []struct{ Dst string }      `json:"routes"`
					DataDir string                      `json:"dataDir"`
				} `json:"ipam"`
			}
			if err := json.Unmarshal(list.Plugins[0].Bytes, &bridge); err != nil {
				t.Fatal(err)
			}
			if bridge.Bridge != tc.wantBridge || !bridge.IsGateway || !bridge.IPMasq || !bridge.HairpinMode {
				t.Errorf("bridge config %+v, want bridge %q with isGateway, ipMasq, hairpinMode", bridge, tc.wantBridge)
			}
			if len(bridge.IPAM.Ranges) != 1 || len(bridge.IPAM.Ranges[0]) != 1 || bridge.IPAM.Ranges[0][0].Subnet != tc.wantNets {
				t.Errorf("ipam ranges %+v, want one range %q", bridge.IPAM.Ranges, tc.wantNets)
			}
			if len(bridge.IPAM.Routes) != 1 || bridge.IPAM.Routes[0].Dst != "0.0.0.0/0" {
				t.Errorf("ipam routes %+v, want a default route", bridge.IPAM.Routes)
			}
			if bridge.IPAM.DataDir != tc.wantDataDir {
				t.Errorf("ipam dataDir %q, want %q", bridge.IPAM.DataDir, tc.wantDataDir)
			}
			var portmap struct {
				SNAT bool `json:"snat"`
			}
			if err := json.Unmarshal(list.Plugins[len(list.Plugins)-1].Bytes, &portmap); err != nil || !portmap.SNAT {
				t.Errorf("portmap snat not set: %s", list.Plugins[len(list.Plugins)-1].Bytes)
			}
		})
	}
}

// fakePluginDir returns a directory holding empty files named like plugins:
// enough for NewCNI, which only checks they exist.
func fakePluginDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNewCNI(t *testing.T) {
	all := fakePluginDir(t, "bridge", "host-local", "firewall", "portmap")
	noPortmap := fakePluginDir(t, "bridge", "host-local", "firewall")
	empty := t.TempDir()

	confDir := t.TempDir()
	own := filepath.Join(confDir, "own.conflist")
	if err := os.WriteFile(own, []byte(`{"cniVersion":"1.0.0","name":"own","plugins":[{"type":"ptp","ipam":{"type":"static"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(confDir, "garbage.conflist")
	if err := os.WriteFile(garbage, []byte(`{"cniVersion":`), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cfg       CNIConfig
		wantName  string
		wantErr   error
		wantInErr []string
	}{
		{name: "default list", cfg: CNIConfig{PluginDirs: []string{empty, all}}, wantName: "minipod"},
		{name: "named", cfg: CNIConfig{PluginDirs: []string{all}, Name: "mptest"}, wantName: "mptest"},
		{
			name:      "plugin missing",
			cfg:       CNIConfig{PluginDirs: []string{empty, noPortmap}},
			wantErr:   errdefs.ErrNotFound,
			wantInErr: []string{`"portmap"`, empty, noPortmap, "containernetworking-plugins"},
		},
		{
			name:      "no plugins at all",
			cfg:       CNIConfig{PluginDirs: []string{empty}, Firewall: true},
			wantErr:   errdefs.ErrNotFound,
			wantInErr: []string{`"bridge"`, `"host-local"`, `"firewall"`, `"portmap"`},
		},
		{
			name:      "own list, ipam plugin missing",
			cfg:       CNIConfig{PluginDirs: []string{fakePluginDir(t, "ptp")}, ConfList: own},
			wantErr:   errdefs.ErrNotFound,
			wantInErr: []string{`"static"`, `network "own"`},
		},
		{name: "own list", cfg: CNIConfig{PluginDirs: []string{fakePluginDir(t, "ptp", "static")}, ConfList: own}, wantName: "own"},
		{
			name:      "own list missing",
			cfg:       CNIConfig{PluginDirs: []string{all}, ConfList: filepath.Join(confDir, "nope.conflist")},
			wantErr:   errdefs.ErrNotFound,
			wantInErr: []string{"nope.conflist"},
		},
		{
			name:      "own list garbage",
			cfg:       CNIConfig{PluginDirs: []string{all}, ConfList: garbage},
			wantErr:   errdefs.ErrInvalidArgument,
			wantInErr: []string{"garbage.conflist"},
		},
		{
			name:      "bad subnet",
			cfg:       CNIConfig{PluginDirs: []string{all}, Subnet: "10.233.7.0"},
			wantErr:   errdefs.ErrInvalidArgument,
			wantInErr: []string{`"10.233.7.0"`},
		},
		{
			name:    "ipv6 subnet",
			cfg:     CNIConfig{PluginDirs: []string{all}, Subnet: "fd00::/64"},
			wantErr: errdefs.ErrInvalidArgument,
		},
		{
			name:      "bridge name too long",
			cfg:       CNIConfig{PluginDirs: []string{all}, Bridge: "a-very-long-bridge"},
			wantErr:   errdefs.ErrInvalidArgument,
			wantInErr: []string{"15 characters"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := NewCNI(tc.cfg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				for _, s := range tc.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if n != nil {
					t.Errorf("got a network with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Name() != tc.wantName {
				t.Errorf("name %q, want %q", n.Name(), tc.wantName)
			}
		})
	}
}

func TestRuntimeConf(t *testing.T) {
	tests := []struct {
		name     string
		a        Attachment
		wantIf   string
		wantArgs [][2]string
		wantCaps map[string]any
		wantErr  error
	}{
		{
			name:     "defaults",
			a:        Attachment{ID: "uid-1", NetNSPath: "/run/netns/minipod-uid-1"},
			wantIf:   "eth0",
			wantArgs: [][2]string{{"IgnoreUnknown", "1"}},
		},
		{
			name: "k8s args sorted, ports",
			a: Attachment{
				ID: "uid-2", IfName: "net1",
				Args: map[string]string{"K8S_POD_UID": "uid-2", "K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "web"},
				PortMappings: []PortMapping{
					{HostPort: 8080, ContainerPort: 80},
					{HostPort: 5353, ContainerPort: 53, Protocol: "UDP", HostIP: "127.0.0.1"},
				},
			},
			wantIf: "net1",
			wantArgs: [][2]string{
				{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_UID", "uid-2"},
			},
			wantCaps: map[string]any{"portMappings": []portMapEntry{
				{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
				{HostPort: 5353, ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1"},
			}},
		},
		{
			name:     "caller's IgnoreUnknown kept",
			a:        Attachment{ID: "uid-3", Args: map[string]string{"IgnoreUnknown": "true"}},
			wantIf:   "eth0",
			wantArgs: [][2]string{{"IgnoreUnknown", "true"}},
		},
		{name: "no id", a: Attachment{NetNSPath: "/run/netns/x"}, wantErr: errdefs.ErrInvalidArgument},
		{
			name:    "bad host IP",
			a:       Attachment{ID: "uid-5", PortMappings: []PortMapping{{HostPort: 1, ContainerPort: 1, HostIP: "localhost"}}},
			wantErr: errdefs.ErrInvalidArgument,
		},
		{
			name:    "bad protocol",
			a:       Attachment{ID: "uid-4", PortMappings: []PortMapping{{HostPort: 1, ContainerPort: 1, Protocol: "sctp"}}},
			wantErr: errdefs.ErrInvalidArgument,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := runtimeConf(tc.a)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rt.ContainerID != tc.a.ID || rt.NetNS != tc.a.NetNSPath || rt.IfName != tc.wantIf {
				t.Errorf("runtime conf %+v, want id %q netns %q ifname %q", rt, tc.a.ID, tc.a.NetNSPath, tc.wantIf)
			}
			if !reflect.DeepEqual(rt.Args, tc.wantArgs) {
				t.Errorf("args %q, want %q", rt.Args, tc.wantArgs)
			}
			if !reflect.DeepEqual(rt.CapabilityArgs, tc.wantCaps) {
				t.Errorf("capability args %+v, want %+v", rt.CapabilityArgs, tc.wantCaps)
			}
		})
	}
}

func TestParseResult(t *testing.T) {
	idx := func(i int) *int { return &i }
	cidr := func(s string) net.IPNet {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return *n
	}
	bridged := &types100.Result{
		CNIVersion: "1.0.0",
		Interfaces: []*types100.Interface{
			{Name: "minipod0"},
			{Name: "veth1234"},
			{Name: "eth0", Sandbox: "/run/netns/minipod-x"},
		},
		IPs: []*types100.IPConfig{
			{Interface: idx(2), Address: cidr("fd00::5/64"), Gateway: net.ParseIP("fd00::1")},
			{Interface: idx(0), Address: cidr("10.77.0.1/16")},
			{Interface: idx(2), Address: cidr("10.77.0.5/16"), Gateway: net.ParseIP("10.77.0.1")},
		},
	}
	tests := []struct {
		name    string
		res     *types100.Result
		ifName  string
		want    *Result
		wantErr error
	}{
		{
			name: "sandbox interface", res: bridged, ifName: "eth0",
			want: &Result{IP: net.ParseIP("10.77.0.5").To4(), Gateway: net.ParseIP("10.77.0.1").To4(), Interface: "eth0", Mask: net.CIDRMask(16, 32)},
		},
		{
			name: "no interface index",
			res:  &types100.Result{CNIVersion: "1.0.0", IPs: []*types100.IPConfig{{Address: cidr("10.233.7.9/24")}}}, ifName: "eth0",
			want: &Result{IP: net.ParseIP("10.233.7.9").To4(), Interface: "eth0", Mask: net.CIDRMask(24, 32)},
		},
		{name: "other interface name", res: bridged, ifName: "net1", wantErr: errdefs.ErrNotFound},
		{name: "empty", res: &types100.Result{CNIVersion: "1.0.0"}, ifName: "eth0", wantErr: errdefs.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseResult(tc.res, tc.ifName)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReservations(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "minipod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lock", "last_reserved_ip.0", "10.77.0.3", "10.77.0.2"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Reservations(dataDir, "minipod")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.77.0.2", "10.77.0.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("reservations %q, want %q", got, want)
	}
	if got, err := Reservations(dataDir, "other"); err != nil || len(got) != 0 {
		t.Errorf("reservations of a network never used: %q, %v; want none", got, err)
	}
	if _, err := Reservations(dataDir, "../etc"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("error %v, want invalid argument", err)
	}
}

func TestNames(t *testing.T) {
	old := runDir
	runDir = t.TempDir()
	t.Cleanup(func() { runDir = old })

	if got, err := List("minipod-"); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty dir: %q, %v", got, err)
	}
	for _, n := range []string{"minipod-b", "minipod-a", "other"} {
		if err := os.WriteFile(filepath.Join(runDir, n), nil, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(runDir, "minipod-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := List("minipod-")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"minipod-a", "minipod-b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List %q, want %q", got, want)
	}

	for _, name := range []string{"", ".", "..", "a/b", "a\x00b"} {
		if err := validateName(name); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("validateName(%q) = %v, want invalid argument", name, err)
		}
	}
	if err := validateName("minipod-0b9f"); err != nil {
		t.Errorf("validateName: %v", err)
	}
}
