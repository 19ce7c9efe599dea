package daemon

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenKeepsOtherFiles: --socket at a path that holds anything but a
// socket is refused, and the file is left byte for byte and mode for mode;
// only a stale socket is replaced.
func TestListenKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	if err := os.WriteFile(file, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, exe, sub, link} {
		before, _ := os.Lstat(p)
		content, _ := os.ReadFile(p)
		l, err := Listen(p, "")
		if err == nil {
			l.Close()
			t.Errorf("Listen(%s) took the path of a %s", p, before.Mode().Type())
		} else if !strings.Contains(err.Error(), "--socket") || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Listen(%s): %v; want a refusal naming --socket", p, err)
		}
		after, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("%s is gone: %v", p, err)
		}
		if got, _ := os.ReadFile(p); after.Mode() != before.Mode() || string(got) != string(content) {
			t.Errorf("%s changed: mode %v -> %v, content %q -> %q", p, before.Mode(), after.Mode(), content, got)
		}
	}

	// A stale socket (nothing listens) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(stale); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	l, err := Listen(stale, "")
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("unix", stale)
	if err != nil {
		t.Fatalf("the new socket does not answer: %v", err)
	}
	c.Close()
	// One that answers is not taken over.
	if l2, err := Listen(stale, ""); err == nil {
		l2.Close()
		t.Error("Listen took over a socket that answers")
	}
}
