package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minipod/minipod/internal/testutil"
	"github.com/minipod/minipod/netns/cnitest"
	"github.com/minipod/minipod/volumes"
)

// TestPrepareSecretDir: the tmpfs goes on the secret directory itself,
// never on its parent; the parent's files (an executable among them) are
// left byte for byte and mode for mode; a user's directory is refused and
// left as it is.
func TestPrepareSecretDir(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	parent := filepath.Join(base, "x")
	userTree(t, parent)
	dir := filepath.Join(parent, "secrets")
	t.Cleanup(func() {
		if m, _ := volumes.MountsUnder(base); len(m) > 0 {
			for _, p := range m {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
			}
		}
	})
	before := treeState(t, parent)

	if _, err := prepareSecretDir(dir); err != nil {
		t.Fatal(err)
	}
	mounts, _ := volumes.MountsUnder(base)
	if len(mounts) != 1 || mounts[0] != dir || !onTmpfs(dir) {
		t.Fatalf("mounts under %s: %v; want a tmpfs on %s only", base, mounts, dir)
	}
	after := treeState(t, parent)
	for p := range after {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			delete(after, p)
		}
	}
	sameTree(t, "the secret dir's parent", before, after)

	// The next daemon takes it as its own: no second mount.
	if err := os.WriteFile(filepath.Join(dir, "kept"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareSecretDir(dir); err != nil {
		t.Fatalf("again: %v", err)
	}
	if m, _ := volumes.MountsUnder(base); len(m) != 1 {
		t.Errorf("mounts after a second start: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept")); err != nil {
		t.Errorf("the second start lost the secrets: %v", err)
	}

	// A directory of the user's files is refused, and left as it is.
	before = treeState(t, parent)
	_, err := prepareSecretDir(parent)
	if err == nil || !strings.Contains(err.Error(), "--secret-dir") || !strings.Contains(err.Error(), parent) {
		t.Fatalf("prepareSecretDir of a user's directory: %v; want a refusal naming --secret-dir and %s", err, parent)
	}
	if m, _ := volumes.MountsUnder(base); len(m) != 1 {
		t.Errorf("mounts after a refusal: %v", m)
	}
	sameTree(t, "a refused secret dir", before, treeState(t, parent))

	// What an older minipod left: a secret directory on the tmpfs it
	// mounted on the parent, holding only secrets/. Taken, not remounted.
	legacy := filepath.Join(base, "legacy")
	if err := os.Mkdir(legacy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", legacy, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(legacy, "s")
	stored := filepath.Join(old, "secrets", "default", "creds.json")
	if err := os.MkdirAll(filepath.Dir(stored), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stored, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareSecretDir(old); err != nil {
		t.Fatalf("an older minipod's secret dir: %v", err)
	}
	if m := mountsAt(t, old); m {
		t.Errorf("a tmpfs was mounted on the older minipod's secret dir")
	}
	if _, err := os.Stat(stored); err != nil {
		t.Errorf("the older minipod's Secret is gone: %v", err)
	}
	// The same layout on a disk is not minipod's.
	if !onTmpfs(base) {
		disk := filepath.Join(base, "disk")
		if err := os.MkdirAll(filepath.Join(disk, "secrets"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := prepareSecretDir(disk); err == nil {
			t.Errorf("a secrets/ directory on disk was taken as minipod's")
		}
	}
}

// mountsAt reports whether p is a mount point.
func mountsAt(t *testing.T, p string) bool {
	t.Helper()
	m, err := volumes.MountsUnder(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range m {
		if x == p {
			return true
		}
	}
	return false
}

// TestNewFailureLeavesNothing: a daemon that cannot reach containerd
// takes back the state root and secret tmpfs it made.
func TestNewFailureLeavesNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	t.Cleanup(func() {
		if m, _ := volumes.MountsUnder(base); len(m) > 0 {
			for _, p := range m {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
			}
		}
	})
	_, err := New(context.Background(), Config{
		Root:              filepath.Join(base, "state", "root"),
		SecretDir:         filepath.Join(base, "run", "secrets"),
		NetNSDir:          filepath.Join(base, "run", "netns"),
		ContainerdAddress: filepath.Join(base, "no-containerd.sock"),
		Network:           &cnitest.Fake{},
		LogBinary:         "/bin/true",
	})
	if err == nil {
		t.Fatal("New without containerd succeeded")
	}
	if m, _ := volumes.MountsUnder(base); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if entries, _ := os.ReadDir(base); len(entries) > 0 {
		t.Errorf("left in %s: %v", base, entries)
	}
}
