package plan

import (
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name string
		host string
		want string
	}{
		{"empty", "", ""},
		{
			"systemd-resolved stub is dropped, the rest kept",
			"# Generated\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.com lan\n",
			"# Generated\noptions edns0 trust-ad\nsearch example.com lan\n",
		},
		{
			"every loopback v4 and v6 dropped, others kept in order",
			"nameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver ::1\nnameserver 127.1.2.3\nnameserver 2001:db8::53\nnameserver 192.0.2.1\n",
			"nameserver 10.0.0.2\nnameserver 2001:db8::53\nnameserver 192.0.2.1\n",
		},
		{
			"tabs and extra spaces",
			"nameserver\t127.0.0.1\n  nameserver   ::1  \nnameserver\t8.8.8.8\n",
			"nameserver\t8.8.8.8\n",
		},
		{
			"last line without newline gets one",
			"search corp\nnameserver 1.1.1.1",
			"search corp\nnameserver 1.1.1.1\n",
		},
		{
			"a word that is not an address is kept",
			"nameserver localhost\n",
			"nameserver localhost\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(resolvConf([]byte(tc.host))); got != tc.want {
				t.Errorf("resolvConf(%q) =\n%q\nwant\n%q", tc.host, got, tc.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	tests := []struct {
		name     string
		ip, host string
		extra    []string
		want     []string // lines that must be present, in this order
		not      []string
	}{
		{
			name: "with pod IP", ip: "10.233.0.5", host: "web",
			want: []string{"127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "10.233.0.5\tweb"},
		},
		{
			name: "no pod IP yet", host: "web",
			want: []string{"127.0.0.1\tlocalhost"},
			not:  []string{"\tweb"},
		},
		{
			name: "extra lines after the pod", ip: "10.233.0.5", host: "web",
			extra: []string{"10.0.0.1\tdb db.local", "10.0.0.2\tcache"},
			want:  []string{"10.233.0.5\tweb", "10.0.0.1\tdb db.local", "10.0.0.2\tcache"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Sandbox{Hostname: tc.host}
			f := PodFile{Content: s.HostsTemplate(), Placeholders: hostsPlaceholders}
			got := string(f.Render(tc.ip, tc.extra))
			if !strings.HasSuffix(got, "\n") {
				t.Errorf("hosts file does not end with a newline:\n%s", got)
			}
			lines := strings.Split(got, "\n")
			i := 0
			for _, l := range lines {
				if i < len(tc.want) && l == tc.want[i] {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("hosts file lacks %q (in order):\n%s", tc.want[i], got)
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("hosts file contains %q:\n%s", n, got)
				}
			}
		})
	}
}
