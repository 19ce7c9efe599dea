package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minipod/minipod/internal/testutil"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "obj.json")
	if err := Write(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("read %q, %v; want two", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want 640", st.Mode().Perm())
	}
	// A write that cannot finish (the target is a directory) leaves no
	// temporary file.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "d"), []byte("x"), 0o600); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	assertOnly(t, dir, "d", "obj.json")
}

// On a file system that fills up the old content stays whole and readable,
// and nothing is left: a write that hit ENOSPC once left a 0-byte object
// that could never be read again.
func TestWriteOnFullFileSystem(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("failed to mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	p := filepath.Join(dir, "obj.json")
	old := []byte(`{"data":"old"}`)
	if err := Write(p, old, 0o600); err != nil {
		t.Fatal(err)
	}
	fill(t, filepath.Join(dir, "filler"))
	err := Write(p, bytes.Repeat([]byte("n"), 32*1024), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full file system: %v, want ENOSPC", err)
	}
	if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("after the failed write the file holds %q (%v), want the old content", b, err)
	}
	// A new file that cannot be written is not created at all.
	if err := Write(filepath.Join(dir, "new.json"), bytes.Repeat([]byte("n"), 32*1024), 0o600); err == nil {
		t.Fatal("writing a new file on a full file system succeeded")
	}
	assertOnly(t, dir, "filler", "obj.json")
}

// fill writes to p until the file system is full.
func fill(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the file system: %v", err)
			}
			return
		}
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %q, want only %q", dir, got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("%s holds %q, want only %q", dir, got, names)
		}
	}
}
