package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/internal/testutil"
)

// On a state root that fills up, a ConfigMap that cannot be written is not
// created (it used to be left as a 0-byte file, unreadable forever), the
// ConfigMaps and pod records already there stay readable, and once there is
// room again the same writes succeed.
func TestStoresOnFullDisk(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=512k"); err != nil {
		t.Fatalf("failed to mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	objects := &objectStore{dir: filepath.Join(root, "objects"), secretDir: filepath.Join(root, "secrets")}
	records := &recordStore{dir: filepath.Join(root, "pods")}
	r := &Runtime{objects: objects, records: records}
	ctx := t.Context()

	if _, err := r.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Data: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	rec := &Record{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"}}, State: StateRunning}
	if err := records.save(rec); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(root, "filler")
	fillUp(t, filler)

	big := map[string]string{"big": strings.Repeat("x", 128*1024)}
	_, err := r.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "special-config"}, Data: big})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("creating a ConfigMap on a full disk: %v, want ENOSPC", err)
	}
	if _, err := r.GetConfigMap(ctx, "default", "special-config"); !errdefs.IsNotFound(err) {
		t.Fatalf("the ConfigMap whose write failed: %v, want NotFound", err)
	}
	if cm, err := r.GetConfigMap(ctx, "default", "old"); err != nil || cm.Data["k"] != "v" {
		t.Fatalf("the ConfigMap written before: %+v, %v", cm, err)
	}
	rec.State = StateDeleting
	rec.Pod.Annotations = big
	if err := records.save(rec); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("saving a record on a full disk: %v, want ENOSPC", err)
	}
	list, bad := records.list()
	if len(bad) != 0 || len(list) != 1 || list[0].State != StateRunning {
		t.Fatalf("records after the failed save: %v, errors %v; want the old record, Running", list, bad)
	}
	for _, dir := range []string{filepath.Join(objects.dir, "configmaps", "default"), filepath.Join(records.dir, "uid-1")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temporary file %s left in %s", e.Name(), dir)
			}
		}
	}

	// Room again: the same writes work.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "special-config"}, Data: big}); err != nil {
		t.Fatalf("creating the ConfigMap with room again: %v", err)
	}
	if err := records.save(rec); err != nil {
		t.Fatalf("saving the record with room again: %v", err)
	}
}

// fillUp writes to p until its file system is full.
func fillUp(t *testing.T, p string) {
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
