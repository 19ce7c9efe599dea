package volumes

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// TestPinResolvesAtEachStart: what Pin mounts is what the volume holds
// when it is called; a subPath that became a link out of the volume since
// the last start is refused, and nothing is left mounted.
func TestPinResolvesAtEachStart(t *testing.T) {
	dir := rootTestDir(t)
	vol := filepath.Join(dir, "vol")
	if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(vol, "sub", "first"), []byte("1"), 0o644)
	v := Volume{Name: "v", Kind: EmptyDir, Path: vol}
	m := Mount{Volume: "v", ContainerPath: "/data", SubPath: "sub"}
	pins := filepath.Join(dir, "pins")
	target := filepath.Join(pins, "0")
	if err := Pin(v, m, target, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "first")); err != nil {
		t.Fatalf("the pinned subPath does not show the volume's sub: %v", err)
	}
	// Pinning again replaces the mount rather than stacking one more.
	if err := Pin(v, m, target, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := MountsUnder(pins); len(got) != 1 {
		t.Fatalf("mounts after two pins: %q, want one", got)
	}
	// The container swaps sub for a link to the host's root.
	os.RemoveAll(filepath.Join(vol, "sub"))
	if err := os.Symlink("/", filepath.Join(vol, "sub")); err != nil {
		t.Fatal(err)
	}
	err := Pin(v, m, target, nil)
	if err == nil || !strings.Contains(err.Error(), "leaves the volume through a symlink") {
		t.Fatalf("Pin through a link to / = %v, want the escape refused", err)
	}
	if _, err := os.Stat(filepath.Join(target, "etc")); err == nil {
		t.Fatal("the host's root is mounted at the pin")
	}
	if err := Unpin(pins); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pins); !os.IsNotExist(err) {
		t.Fatalf("Unpin left %s: %v", pins, err)
	}
}

// TestPinHostPathExposure: a hostPath is judged by what it is when pinned:
// a link or a bind mount onto a denied directory, or a directory holding a
// mount of one, is refused; a file and a socket are pinned as such.
func TestPinHostPathExposure(t *testing.T) {
	dir := rootTestDir(t)
	state := filepath.Join(dir, "state")
	os.MkdirAll(filepath.Join(state, "pods"), 0o700)
	deny := []string{state}
	host := filepath.Join(dir, "host")
	os.MkdirAll(host, 0o755)
	pins := filepath.Join(dir, "pins")
	pin := func(path string) error {
		return Pin(Volume{Name: "h", Kind: HostPath, Path: path}, Mount{Volume: "h", ContainerPath: "/h"}, filepath.Join(pins, "0"), deny)
	}
	if err := pin(host); err != nil {
		t.Fatalf("an unrelated hostPath: %v", err)
	}
	// A link swapped in for the path.
	os.Symlink(filepath.Join(state, "pods"), filepath.Join(host, "link"))
	// A bind mount of the state made on the host, and a directory holding one.
	bind := filepath.Join(dir, "bind")
	holder := filepath.Join(dir, "holder")
	os.MkdirAll(bind, 0o755)
	os.MkdirAll(filepath.Join(holder, "inner"), 0o755)
	for _, b := range [][2]string{{state, bind}, {filepath.Join(state, "pods"), filepath.Join(holder, "inner")}} {
		if err := unix.Mount(b[0], b[1], "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(host, "link"), bind, filepath.Join(bind, "pods"), holder, state, dir} {
		err := pin(p)
		if !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "own state") {
			t.Errorf("Pin(hostPath %s) = %v, want refused", p, err)
		}
	}
	// Files and sockets are pinned on a file mount point.
	file := filepath.Join(host, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	sock := filepath.Join(host, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range []string{file, sock} {
		if err := pin(p); err != nil {
			t.Fatalf("Pin(%s): %v", p, err)
		}
		var a, b unix.Stat_t
		unix.Stat(p, &a)
		unix.Stat(filepath.Join(pins, "0"), &b)
		if a.Ino != b.Ino || a.Dev != b.Dev {
			t.Errorf("the pin of %s is not it", p)
		}
	}
	if err := Unpin(pins); err != nil {
		t.Fatal(err)
	}
}
