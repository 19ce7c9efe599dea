package plan

import (
	"slices"
	"testing"
)

func TestContainerUser(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	tests := []struct {
		name         string
		s            Security
		imageUser    string
		user, member string
	}{
		{"image without a user runs as root", Security{}, "", "0", "0"},
		{"runAsGroup alone keeps the image's user", Security{RunAsGroup: i(3000)}, "", "0:3000", "0"},
		{"runAsUser and runAsGroup", Security{RunAsUser: i(1000), RunAsGroup: i(3000)}, "nobody", "1000:3000", "1000"},
		{"runAsUser: gid from the image's passwd", Security{RunAsUser: i(1000)}, "", "1000", "1000"},
		{"image uid:gid: the kubelet passes the uid only", Security{}, "1000:1000", "1000", "1000"},
		{"image user name", Security{}, "nginx", "nginx", "nginx"},
		{"image user name and runAsGroup", Security{RunAsGroup: i(5)}, "nginx:wheel", "nginx:5", "nginx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, member := containerUser(tc.s, tc.imageUser)
			if user != tc.user || member != tc.member {
				t.Errorf("containerUser = %q, %q; want %q, %q", user, member, tc.user, tc.member)
			}
		})
	}
}

// The supplementary groups are the primary gid, the image's memberships,
// supplementalGroups and fsGroup, once each, sorted, as containerd's CRI
// plugin gives them; root's group 0 only when one of these names it.
func TestMergeGroups(t *testing.T) {
	tests := []struct {
		name         string
		have         []uint32
		supplemental []int64
		want         []uint32
	}{
		{"runAsGroup 3000, supplementalGroups 4000", []uint32{3000}, []int64{4000}, []uint32{3000, 4000}},
		{"root's own group when it is the primary", []uint32{0}, nil, []uint32{0}},
		{"fsGroup and a repeated group", []uint32{3000, 10}, []int64{4000, 2000, 3000}, []uint32{10, 2000, 3000, 4000}},
	}
	for _, tc := range tests {
		if got := MergeGroups(tc.have, tc.supplemental); !slices.Equal(got, tc.want) {
			t.Errorf("%s: mergeGroups = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The capability sets are containerd's default set, less the dropped ones,
// plus the added ones in their order; ALL drops or adds every one.
func TestCapabilities(t *testing.T) {
	tests := []struct {
		name string
		s    Security
		want []string
		all  bool
	}{
		{"default", Security{}, defaultCapabilities, false},
		{"drop ALL, add one", Security{CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_NET_BIND_SERVICE"}}, []string{"CAP_NET_BIND_SERVICE"}, false},
		{"drop ALL", Security{CapDrop: []string{"ALL"}}, []string{}, false},
		{"drop two, add one", Security{CapDrop: []string{"CAP_MKNOD", "CAP_NET_RAW"}, CapAdd: []string{"CAP_SYS_TIME"}},
			[]string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP",
				"CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SYS_TIME"}, false},
		{"add one already there", Security{CapAdd: []string{"CAP_KILL"}}, defaultCapabilities, false},
		{"privileged", Security{Privileged: true}, nil, true},
		{"privileged, drop one", Security{Privileged: true, CapDrop: []string{"CAP_SYS_ADMIN"}}, nil, true},
		{"privileged, drop ALL, add one", Security{Privileged: true, CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_KILL"}}, []string{"CAP_KILL"}, false},
		{"add ALL", Security{CapAdd: []string{"ALL"}}, nil, true},
	}
	for _, tc := range tests {
		got, all := capabilities(tc.s)
		if !slices.Equal(got, tc.want) || all != tc.all || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: capabilities = %q, all %v; want %q, all %v", tc.name, got, all, tc.want, tc.all)
		}
	}
}
