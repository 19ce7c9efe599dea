package runtime

import (
	"os"
	"testing"
)

func TestShimArgs(t *testing.T) {
	for _, c := range []struct {
		cmdline      string
		ns, id, addr string
		ok           bool
	}{
		{"/usr/bin/containerd-shim-runc-v2\x00-namespace\x00minipod\x00-id\x00abc-app\x00-address\x00/run/containerd/containerd.sock\x00", "minipod", "abc-app", "/run/containerd/containerd.sock", true},
		{"containerd-shim-runc-v2\x00-id\x00x\x00", "", "x", "", true},
		{"/usr/bin/containerd-shim-runc-v2\x00-namespace\x00minipod\x00", "minipod", "", "", false},
		{"/usr/bin/sleep\x00-id\x00x\x00", "", "", "", false},
		{"", "", "", "", false},
	} {
		ns, id, addr, ok := shimArgs([]byte(c.cmdline))
		if ns != c.ns || id != c.id || addr != c.addr || ok != c.ok {
			t.Errorf("shimArgs(%q) = %q %q %q %v, want %q %q %q %v", c.cmdline, ns, id, addr, ok, c.ns, c.id, c.addr, c.ok)
		}
	}
}

func TestPodPrefix(t *testing.T) {
	uid := "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	if got, want := podPrefix(containerID(uid, "my-app")), "0a1b2c3d4e5f"; got != want {
		t.Errorf("podPrefix = %q, want %q", got, want)
	}
	if podPrefix(containerID(uid, "")) != podPrefix(containerID(uid, "x")) {
		t.Error("podPrefix differs between containers of one pod")
	}
}

func TestPPIDOf(t *testing.T) {
	if got := ppidOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("ppidOf(self) = %d, want %d", got, os.Getppid())
	}
	if got := ppidOf(-1); got != 0 {
		t.Errorf("ppidOf(-1) = %d, want 0", got)
	}
}
