package runtime

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// userTree is a directory of a user's files: a text file, an executable,
// a subdirectory, and the log-like directories gc would otherwise empty.
func userTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]fs.FileMode{
		"notes.txt":               0o644,
		"run.sh":                  0o755,
		"sub/data.bin":            0o600,
		"logs/my_app/today.log":   0o640,
		"pods/not-a-uid/pod.json": 0o644,
	}
	for name, mode := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("user data: "+name+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
}

// treeState is every path under dir with its mode and content.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed: %q -> %q", what, p, v, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s was created", what, p)
		}
	}
}

func TestInspectDir(t *testing.T) {
	base := t.TempDir()
	user := filepath.Join(base, "user")
	userTree(t, user)
	empty := filepath.Join(base, "empty")
	marked := filepath.Join(base, "marked")
	for _, d := range []string{empty, marked} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(marked, secretMarker), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(marked, "other"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(user, "notes.txt")
	link := filepath.Join(base, "link")
	if err := os.Symlink(empty, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(base, "dangling")
	if err := os.Symlink(filepath.Join(base, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	userLink := filepath.Join(base, "userlink")
	if err := os.Symlink(user, userLink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		want      ownership
		refused   string // part of the error; "" when taken
	}{
		{"absent", filepath.Join(base, "new", "deeper"), dirAbsent, ""},
		{"empty", empty, dirEmpty, ""},
		{"marked", marked, dirOwned, ""},
		{"user files", user, 0, "is not empty (5 entries) and is not minipod's own"},
		{"a file", file, 0, "is not a directory (a regular file)"},
		{"a link to an empty directory", link, dirEmpty, ""},
		{"a link to user files", userLink, 0, "is not empty"},
		{"a dangling link", dangling, 0, "is a symbolic link that leads nowhere"},
		{"under a file", filepath.Join(file, "s"), 0, "is not a directory"},
		{"deep under a file", filepath.Join(file, "s", "t"), 0, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := treeState(t, base)
			got, err := inspectDir("--secret-dir", tc.dir, secretMarker)
			sameTree(t, "inspectDir", before, treeState(t, base))
			if tc.refused == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("taken (%v), want refused", got)
			}
			msg := err.Error()
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(msg, tc.refused) || !strings.Contains(msg, "--secret-dir") || !strings.Contains(msg, tc.dir) {
				t.Fatalf("error %q: want invalid argument naming --secret-dir, %q and %q", msg, tc.dir, tc.refused)
			}
		})
	}
}

// TestPrepareStateRoot: --root takes a new, empty, marked or legacy
// directory, and refuses a user's directory without touching it.
func TestPrepareStateRoot(t *testing.T) {
	base := t.TempDir()

	user := filepath.Join(base, "user")
	userTree(t, user)
	before := treeState(t, base)
	_, err := prepareStateRoot(user)
	if err == nil || !strings.Contains(err.Error(), "--root") || !strings.Contains(err.Error(), user) {
		t.Fatalf("prepareStateRoot of a user's directory: %v; want a refusal naming --root and %s", err, user)
	}
	sameTree(t, "a refused root", before, treeState(t, base))

	// A user's directory holding only directories of minipod's names but
	// no pods/ is not a legacy root either.
	logsOnly := filepath.Join(base, "logsonly")
	if err := os.MkdirAll(filepath.Join(logsOnly, "logs", "my_app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareStateRoot(logsOnly); err == nil {
		t.Errorf("a directory with only logs/ was taken as a state root")
	}

	for _, tc := range []struct {
		name  string
		setup func(dir string)
	}{
		{"new", func(dir string) {}},
		{"empty", func(dir string) { _ = os.MkdirAll(dir, 0o755) }},
		{"legacy", func(dir string) {
			for _, d := range []string{"pods/u1", "logs/default_p_u1", "cni", "containerd", "objects", "seccomp", "kubeapi"} {
				_ = os.MkdirAll(filepath.Join(dir, d), 0o700)
			}
			_ = os.WriteFile(filepath.Join(dir, "api-token"), []byte("x"), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, tc.name, "root")
			tc.setup(dir)
			if _, err := prepareStateRoot(dir); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{rootMarker, "pods", "logs"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
			// Taken again by the next daemon, whose failed start undoes
			// nothing.
			undo, err := prepareStateRoot(dir)
			if err != nil {
				t.Fatalf("again: %v", err)
			}
			undo()
			if _, err := os.Stat(filepath.Join(dir, rootMarker)); err != nil {
				t.Errorf("a failed start of the next daemon removed the marker: %v", err)
			}
		})
	}

	// A failed start takes back what it made, and only that.
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		left  bool // the root directory remains
	}{
		{"new", func(dir string) {}, false},
		{"empty", func(dir string) { _ = os.MkdirAll(dir, 0o755) }, true},
	} {
		t.Run("undo "+tc.name, func(t *testing.T) {
			dir := filepath.Join(base, "undo-"+tc.name, "a", "root")
			tc.setup(dir)
			undo, err := prepareStateRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			undo()
			entries, err := os.ReadDir(dir)
			if tc.left && (err != nil || len(entries) != 0) {
				t.Errorf("the empty root after undo: %v %v", entries, err)
			}
			if !tc.left {
				if _, err := os.Stat(filepath.Join(base, "undo-"+tc.name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("undo left the directories it created: %v", err)
				}
			}
		})
	}
}

func TestMkdirNewUndo(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	undo, err := mkdirNew(filepath.Join(base, "a", "b", "c"), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := os.Stat(filepath.Join(base, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("undo left %s: %v", filepath.Join(base, "a"), err)
	}
	if _, err := os.Stat(filepath.Join(base, "keep")); err != nil {
		t.Errorf("undo removed what it did not create: %v", err)
	}
}
