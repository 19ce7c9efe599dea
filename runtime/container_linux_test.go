package runtime

import (
	"regexp"
	"strings"
	"testing"
)

func TestContainerID(t *testing.T) {
	// containerd's identifiers: alphanumerics, '.', '_', '-', at most 76.
	valid := regexp.MustCompile(`^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$`)
	uid := "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	other := "9a8b7c6d-5e4f-4321-8765-43210fedcba9"
	long := strings.Repeat("x", 63) // longest DNS label a container name may be

	tests := []struct {
		uid, name string
		want      string
	}{
		{uid, "app", "0f1e2d3c4b5a-app"},
		{uid, "log-shipper", "0f1e2d3c4b5a-log-shipper"},
		{uid, long, "0f1e2d3c4b5a-" + long},
		{"short", "app", "short-app"},
	}
	for _, tc := range tests {
		got := containerID(tc.uid, tc.name)
		if got != tc.want {
			t.Errorf("containerID(%q, %q) = %q, want %q", tc.uid, tc.name, got, tc.want)
		}
		if len(got) > 76 {
			t.Errorf("containerID(%q, %q) is %d characters, more than containerd's 76", tc.uid, tc.name, len(got))
		}
		if !valid.MatchString(got) {
			t.Errorf("containerID(%q, %q) = %q is not a valid containerd identifier", tc.uid, tc.name, got)
		}
		if again := containerID(tc.uid, tc.name); again != got {
			t.Errorf("containerID is not stable: %q then %q", got, again)
		}
	}
	if n := len(containerID(uid, strings.Repeat("y", 200))); n > 76 {
		t.Errorf("containerID of a 200-character name is %d characters, want at most 76", n)
	}

	seen := map[string]string{}
	for _, u := range []string{uid, other} {
		for _, name := range []string{"app", "app2", "sidecar", "a", long} {
			id := containerID(u, name)
			if prev, dup := seen[id]; dup {
				t.Errorf("containerID(%s, %s) = %q, same as for %s", u, name, id, prev)
			}
			seen[id] = u + "/" + name
		}
	}
}
