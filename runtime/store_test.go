package runtime

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testRecord(uid, name string, state RecordState) *Record {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36"}}},
	}
	return &Record{
		Pod:        pod,
		Plan:       &PodPlan{Namespace: "default", Name: name, UID: uid, Containers: []ContainerPlan{{Name: "app", Image: "busybox:1.36"}}},
		State:      state,
		PodIP:      "10.233.0.7",
		Containers: map[string]string{"app": containerID(uid, "app")},
		Created:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestRecordStoreRoundTrip(t *testing.T) {
	s := &recordStore{dir: filepath.Join(t.TempDir(), "pods")}

	// A store whose directory does not exist yet is empty, not broken.
	if recs, bad := s.list(); len(recs) != 0 || len(bad) != 0 {
		t.Fatalf("list of a new store = %d records, %v", len(recs), bad)
	}

	a := testRecord("uid-a", "web", StateCreating)
	b := testRecord("uid-b", "db", StateRunning)
	for _, r := range []*Record{a, b} {
		if err := s.save(r); err != nil {
			t.Fatalf("save: %v", err)
		}
	}
	// Saving again replaces the record, atomically: no temp file is left.
	a.State, a.TeardownError = StateRollbackIncomplete, "failed to undo cni: boom"
	if err := s.save(a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path("uid-a") + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temp file left behind: %v", err)
	}
	if fi, err := os.Stat(s.path("uid-a")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	recs, bad := s.list()
	if len(bad) != 0 {
		t.Fatalf("list reported bad records: %v", bad)
	}
	if len(recs) != 2 {
		t.Fatalf("list = %d records, want 2", len(recs))
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Pod.UID < recs[j].Pod.UID })
	got := recs[0]
	if got.Pod.Name != "web" || got.State != StateRollbackIncomplete || got.TeardownError != a.TeardownError ||
		got.PodIP != a.PodIP || got.Containers["app"] != a.Containers["app"] || !got.Created.Equal(a.Created) ||
		got.Plan == nil || got.Plan.UID != "uid-a" || len(got.Plan.Containers) != 1 {
		t.Errorf("record read back = %+v, want %+v", got, a)
	}
	if recs[1].Pod.Name != "db" || recs[1].State != StateRunning {
		t.Errorf("second record = %+v", recs[1])
	}

	if err := s.remove("uid-a"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "uid-a")); !os.IsNotExist(err) {
		t.Errorf("pod directory still there after remove: %v", err)
	}
	if err := s.remove("uid-a"); err != nil {
		t.Errorf("remove of an absent record: %v, want nil", err)
	}
	if err := s.remove(""); err == nil {
		t.Errorf("remove(\"\") succeeded; it must never remove the whole store")
	}
	if _, err := os.Stat(s.dir); err != nil {
		t.Errorf("store directory: %v", err)
	}
	recs, _ = s.list()
	if len(recs) != 1 || recs[0].Pod.Name != "db" {
		t.Errorf("after remove list = %v, want only db", recs)
	}
}

// A corrupt or missing record is reported by UID, the others still load.
func TestRecordStoreCorrupt(t *testing.T) {
	s := &recordStore{dir: t.TempDir()}
	if err := s.save(testRecord("good", "web", StateRunning)); err != nil {
		t.Fatal(err)
	}
	write := func(uid, content string) {
		if err := os.MkdirAll(filepath.Join(s.dir, uid), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.path(uid), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("garbage", "{not json")
	write("truncated", `{"pod":{"metadata":{"name":"x"`)
	write("no-pod", `{"state":"Running"}`)
	if err := os.MkdirAll(filepath.Join(s.dir, "no-file"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A plain file next to the pod directories is not a pod.
	if err := os.WriteFile(filepath.Join(s.dir, "stray"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	recs, bad := s.list()
	if len(recs) != 1 || recs[0].Pod.Name != "web" {
		t.Errorf("list = %v, want the one good record", recs)
	}
	for _, uid := range []string{"garbage", "truncated", "no-pod", "no-file"} {
		if bad[uid] == nil {
			t.Errorf("list did not report record %q as bad (bad: %v)", uid, bad)
		}
	}
	for uid, err := range bad {
		if uid == "garbage" || uid == "truncated" || uid == "no-pod" {
			if !strings.Contains(err.Error(), "corrupt pod record") {
				t.Errorf("bad[%q] = %v, want it to say the record is corrupt", uid, err)
			}
		}
	}
	if _, ok := bad["stray"]; ok || len(bad) != 4 {
		t.Errorf("bad = %v, want exactly the four broken pod directories", bad)
	}
	// A corrupt record can still be removed.
	if err := s.remove("garbage"); err != nil {
		t.Errorf("remove of a corrupt record: %v", err)
	}
}

// TestRecordStatesOnDisk: the states keep the values records have always
// carried, so that a record an older daemon wrote loads as it meant it.
func TestRecordStatesOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := &recordStore{dir: dir}
	for state, onDisk := range map[RecordState]string{
		StateCreating: "Creating", StateRunning: "Running", StateDeleting: "Deleting",
		StateRollbackIncomplete: "Failed",
	} {
		uid := "uid-" + onDisk
		if err := os.MkdirAll(filepath.Join(dir, uid), 0o700); err != nil {
			t.Fatal(err)
		}
		old := `{"pod":{"metadata":{"name":"web","namespace":"default","uid":"` + uid + `"}},"state":"` + onDisk + `","created":"2025-01-01T00:00:00Z"}`
		if err := os.WriteFile(s.path(uid), []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
		recs, bad := s.list()
		var got *Record
		for _, r := range recs {
			if string(r.Pod.UID) == uid {
				got = r
			}
		}
		if len(bad) > 0 || got == nil || got.State != state {
			t.Fatalf("a record with state %q: %+v (unreadable: %v), want state %s", onDisk, got, bad, state)
		}
	}
}
