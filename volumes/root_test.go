package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipod/minipod/internal/testutil"
	"golang.org/x/sys/unix"
)

// rootTestDir is a temp dir whose mounts are all detached when the test
// ends, pass or fail, before the dir itself is removed.
func rootTestDir(t *testing.T) string {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	t.Cleanup(func() {
		mounts, err := MountsUnder(dir)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		for _, mp := range mounts {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
				t.Errorf("cleanup: unmount %q: %v", mp, err)
			}
		}
	})
	return dir
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func checkGone(t *testing.T, dir, path string) {
	t.Helper()
	if ok, err := IsMounted(path); err != nil || ok {
		t.Errorf("IsMounted(%q) = %v, %v after Teardown", path, ok, err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Teardown left %q: %v", path, err)
	}
	if left, err := MountsUnder(dir); err != nil || len(left) != 0 {
		t.Errorf("MountsUnder after Teardown = %q, %v; want none", left, err)
	}
}

func TestEmptyDirMemory(t *testing.T) {
	dir := rootTestDir(t)
	ctx := context.Background()
	path := filepath.Join(dir, "volumes", "emptyDir", "cache")
	v := Volume{Name: "cache", Kind: EmptyDir, Path: path, Medium: MediumMemory, SizeLimit: 8 << 20}

	// Twice: the second Setup must not stack a second tmpfs.
	for i := 0; i < 2; i++ {
		if err := Setup(ctx, v); err != nil {
			t.Fatalf("Setup %d: %v", i, err)
		}
	}
	m, ok, err := mountAt(path)
	if err != nil || !ok {
		t.Fatalf("nothing mounted at %q: %v", path, err)
	}
	if m.FSType != "tmpfs" || !hasOption(m.SuperOptions, "size=8192k") || !hasOption(m.SuperOptions, "mode=777") {
		t.Errorf("mount at %q = %s %s, want tmpfs size=8192k mode=777", path, m.FSType, m.SuperOptions)
	}
	if ok, err := IsMounted(path); err != nil || !ok {
		t.Errorf("IsMounted = %v, %v", ok, err)
	}
	if got, err := MountsUnder(dir); err != nil || len(got) != 1 || got[0] != canonical(path) {
		t.Errorf("MountsUnder = %q, %v; want just %q", got, err, path)
	}
	if err := os.WriteFile(filepath.Join(path, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		if err := Teardown(ctx, v); err != nil {
			t.Fatalf("Teardown %d: %v", i, err)
		}
	}
	checkGone(t, dir, path)
}

func TestSecretOnTmpfs(t *testing.T) {
	dir := rootTestDir(t)
	ctx := context.Background()
	path := filepath.Join(dir, "volumes", "secret", "tls")
	v := Volume{Name: "tls", Kind: Secret, Path: path, Files: []File{
		{Path: "tls.key", Data: []byte("KEY"), Mode: 0o400},
		{Path: "certs/tls.crt", Data: []byte("CRT"), Mode: 0o444},
	}}
	if err := Setup(ctx, v); err != nil {
		t.Fatal(err)
	}
	m, ok, err := mountAt(path)
	if err != nil || !ok || m.FSType != "tmpfs" || !hasOption(m.SuperOptions, "mode=755") {
		t.Fatalf("secret mount at %q = %+v, %v, %v; want a tmpfs with mode=755", path, m, ok, err)
	}
	if data, mode := readMode(t, filepath.Join(path, "tls.key")); data != "KEY" || mode != 0o400 {
		t.Errorf("tls.key = %q %v", data, mode)
	}
	// The files really are on the tmpfs: same device as the mount point.
	var st, stRoot unix.Stat_t
	if err := unix.Stat(filepath.Join(path, "certs", "tls.crt"), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(path, &stRoot); err != nil {
		t.Fatal(err)
	}
	var parent unix.Stat_t
	if err := unix.Stat(dir, &parent); err != nil {
		t.Fatal(err)
	}
	if st.Dev != stRoot.Dev || st.Dev == parent.Dev {
		t.Errorf("tls.crt is on device %d, the tmpfs is %d, the parent dir %d", st.Dev, stRoot.Dev, parent.Dev)
	}

	// An update stays on the same tmpfs.
	v.Files = []File{{Path: "tls.key", Data: []byte("KEY2"), Mode: 0o400}}
	if err := Setup(ctx, v); err != nil {
		t.Fatal(err)
	}
	if got, err := MountsUnder(dir); err != nil || len(got) != 1 {
		t.Errorf("MountsUnder after update = %q, %v; want one tmpfs", got, err)
	}
	if data, _ := readMode(t, filepath.Join(path, "tls.key")); data != "KEY2" {
		t.Errorf("tls.key after update = %q", data)
	}

	// A subPath of a secret item resolves through the ..data link and
	// stays inside the volume.
	mnt, err := OCIMount(v, Mount{Volume: "tls", ContainerPath: "/etc/tls/key", SubPath: "tls.key"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mnt.Source, canonical(path)+"/..") || !strings.HasSuffix(mnt.Source, "/tls.key") {
		t.Errorf("subPath source = %q, want the file in the current version", mnt.Source)
	}

	for i := 0; i < 2; i++ {
		if err := Teardown(ctx, v); err != nil {
			t.Fatalf("Teardown %d: %v", i, err)
		}
	}
	checkGone(t, dir, path)
}

// TestTeardownUnmountsNested checks that Teardown detaches mounts below the
// volume (deepest first) before removing it, and never removes through one.
func TestTeardownUnmountsNested(t *testing.T) {
	dir := rootTestDir(t)
	ctx := context.Background()
	keep := filepath.Join(dir, "keep")
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keep, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "volumes", "emptyDir", "cache")
	v := Volume{Name: "cache", Kind: EmptyDir, Path: path, Medium: MediumMemory}
	if err := Setup(ctx, v); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(path, "bound")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(keep, sub, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := MountsUnder(dir); err != nil || len(got) != 2 || got[0] != canonical(sub) {
		t.Errorf("MountsUnder = %q, %v; want %q first", got, err, sub)
	}
	if err := Teardown(ctx, v); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dir, path)
	if _, err := os.Stat(filepath.Join(keep, "precious")); err != nil {
		t.Errorf("Teardown removed data through a bind mount: %v", err)
	}
}
