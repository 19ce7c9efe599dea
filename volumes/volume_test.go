package volumes

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	linkToDir := filepath.Join(dir, "link")
	if err := os.Symlink(dir, linkToDir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		path    string
		typ     string
		class   func(error) bool // nil: success
		msg     string           // substring of the error
		created os.FileMode      // type Setup must have created at path (os.ModeDir, or 0 for none)
		isFile  bool             // Setup must have created an empty regular file
	}{
		{name: "no check on a missing path", path: missing, typ: ""},
		{name: "Directory", path: dir, typ: HostPathDirectory},
		{name: "Directory through a symlink", path: linkToDir, typ: HostPathDirectory},
		{name: "Directory on a file", path: file, typ: HostPathDirectory, class: errdefs.IsFailedPrecondition, msg: "is a file, not a directory; fix the path or use type File"},
		{name: "Directory missing", path: missing, typ: HostPathDirectory, class: errdefs.IsNotFound, msg: "no such directory; create it or use type DirectoryOrCreate"},
		{name: "File", path: file, typ: HostPathFile},
		{name: "File on a directory", path: dir, typ: HostPathFile, class: errdefs.IsFailedPrecondition, msg: "is a directory, not a file; fix the path or use type Directory"},
		{name: "File missing", path: missing, typ: HostPathFile, class: errdefs.IsNotFound, msg: "no such file; create it or use type FileOrCreate"},
		{name: "DirectoryOrCreate creates parents", path: filepath.Join(dir, "new", "a", "b"), typ: HostPathDirectoryOrCreate, created: os.ModeDir},
		{name: "DirectoryOrCreate on a file", path: file, typ: HostPathDirectoryOrCreate, class: errdefs.IsFailedPrecondition, msg: "is a file, not a directory"},
		{name: "FileOrCreate creates", path: filepath.Join(dir, "newfile"), typ: HostPathFileOrCreate, isFile: true},
		{name: "FileOrCreate keeps a file", path: file, typ: HostPathFileOrCreate},
		{name: "FileOrCreate needs the parent", path: filepath.Join(dir, "nodir", "f"), typ: HostPathFileOrCreate, class: errdefs.IsNotFound, msg: "does not exist; create it"},
		{name: "FileOrCreate on a directory", path: dir, typ: HostPathFileOrCreate, class: errdefs.IsFailedPrecondition, msg: "is a directory, not a file"},
		{name: "Socket", path: sock, typ: HostPathSocket},
		{name: "Socket on a file", path: file, typ: HostPathSocket, class: errdefs.IsFailedPrecondition, msg: "is a file, not a socket"},
		{name: "CharDevice", path: "/dev/null", typ: HostPathCharDevice},
		{name: "BlockDevice on a char device", path: "/dev/null", typ: HostPathBlockDevice, class: errdefs.IsFailedPrecondition, msg: "is a character device, not a block device; fix the path or use type CharDevice"},
		{name: "unknown type", path: dir, typ: "Pipe", class: errdefs.IsInvalidArgument, msg: "unknown type"},
		{name: "relative path", path: "srv", typ: "", class: errdefs.IsInvalidArgument, msg: "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Volume{Name: "data", Kind: HostPath, Path: tt.path, HostPathType: tt.typ}
			err := Setup(context.Background(), v)
			if tt.class == nil {
				if err != nil {
					t.Fatalf("Setup: %v", err)
				}
			} else {
				if err == nil || !tt.class(err) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("Setup error = %v, want another class or a message with %q", err, tt.msg)
				}
				if !strings.HasPrefix(err.Error(), `failed to set up volume "data": hostPath "`+tt.path+`"`) {
					t.Errorf("error %q does not name the volume and the path", err)
				}
			}
			if tt.created == os.ModeDir {
				if fi, err := os.Stat(tt.path); err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o755 != 0 {
					t.Errorf("DirectoryOrCreate left %v, %v; want a directory, at most 0755", fi, err)
				}
			}
			if tt.isFile {
				if fi, err := os.Stat(tt.path); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 || fi.Mode().Perm()&^0o644 != 0 {
					t.Errorf("FileOrCreate left %v, %v; want an empty file, at most 0644", fi, err)
				}
			}
			// Teardown never touches the user's data.
			if err := Teardown(context.Background(), v); err != nil {
				t.Fatalf("Teardown: %v", err)
			}
			if tt.class == nil && tt.typ != "" {
				if _, err := os.Stat(tt.path); err != nil {
					t.Errorf("Teardown removed the hostPath: %v", err)
				}
			}
		})
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "data" {
		t.Errorf("hostPath file changed: %q, %v", data, err)
	}
}

func TestHostPathErrorMessage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	err := Setup(context.Background(), Volume{Name: "data", Kind: HostPath, Path: p, HostPathType: HostPathFile})
	want := `failed to set up volume "data": hostPath "` + p + `" (type File): no such file; create it or use type FileOrCreate`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func readMode(t *testing.T, p string) (string, os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), fi.Mode().Perm()
}

func TestConfigMapFiles(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "volumes", "configMap", "conf")
	v := Volume{Name: "conf", Kind: ConfigMap, Path: root, Files: []File{
		{Path: "app.conf", Data: []byte("a=1"), Mode: 0o600},
		{Path: "nested/dir/b.txt", Data: []byte("b"), Mode: 0o640},
		{Path: "nested/c.txt", Data: []byte("c")},
		{Path: "run.sh", Data: []byte("#!/bin/sh"), Mode: 0o755},
	}}
	if err := Setup(ctx, v); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		data string
		mode os.FileMode
	}{
		"app.conf":         {"a=1", 0o600},
		"nested/dir/b.txt": {"b", 0o640},
		"nested/c.txt":     {"c", 0o644},
		"run.sh":           {"#!/bin/sh", 0o755},
	}
	for p, w := range want {
		data, mode := readMode(t, filepath.Join(root, p))
		if data != w.data || mode != w.mode {
			t.Errorf("%s = %q %v, want %q %v", p, data, mode, w.data, w.mode)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "nested", "dir")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("nested dir: %v %v, want 0755", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(root, "app.conf")); err != nil || target != "..data/app.conf" {
		t.Errorf("app.conf link = %q, %v; want ..data/app.conf", target, err)
	}

	// A second Setup swaps in a new version and drops what is gone.
	v.Files = []File{{Path: "app.conf", Data: []byte("a=2"), Mode: 0o644}}
	if err := Setup(ctx, v); err != nil {
		t.Fatal(err)
	}
	if data, mode := readMode(t, filepath.Join(root, "app.conf")); data != "a=2" || mode != 0o644 {
		t.Errorf("after update app.conf = %q %v", data, mode)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "..2") || names[1] != "..data" || names[2] != "app.conf" {
		t.Errorf("after update the volume holds %q, want ..data, one version and app.conf", names)
	}

	for i := 0; i < 2; i++ {
		if err := Teardown(ctx, v); err != nil {
			t.Fatalf("Teardown %d: %v", i, err)
		}
	}
	if _, err := os.Lstat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Teardown left %q: %v", root, err)
	}
}

func TestConfigMapRejectsBadPaths(t *testing.T) {
	tests := []struct {
		name  string
		files []File
	}{
		{"dot dot", []File{{Path: "../x", Data: []byte("x")}}},
		{"dot dot inside", []File{{Path: "a/../../x", Data: []byte("x")}}},
		{"absolute", []File{{Path: "/tmp/x", Data: []byte("x")}}},
		{"empty", []File{{Path: ""}}},
		{"the root", []File{{Path: "."}}},
		{"reserved", []File{{Path: "..data/x"}}},
		{"twice", []File{{Path: "a"}, {Path: "./a"}}},
		{"file and dir", []File{{Path: "a/b"}, {Path: "a"}}},
		{"mode bits", []File{{Path: "a", Mode: os.ModeSetuid | 0o755}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "vol")
			err := Setup(context.Background(), Volume{Name: "conf", Kind: ConfigMap, Path: root, Files: tt.files})
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Setup error = %v, want invalid argument", err)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 0 {
				t.Errorf("a refused Setup left %v", entries)
			}
		})
	}
}

func TestEmptyDirOnDisk(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "volumes", "emptyDir", "scratch")
	v := Volume{Name: "scratch", Kind: EmptyDir, Path: root, SizeLimit: 1 << 20}
	for i := 0; i < 2; i++ {
		if err := Setup(ctx, v); err != nil {
			t.Fatalf("Setup %d: %v", i, err)
		}
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Fatalf("emptyDir: %v %v, want a 0777 directory", fi, err)
	}
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := Teardown(ctx, v); err != nil {
			t.Fatalf("Teardown %d: %v", i, err)
		}
	}
	if _, err := os.Lstat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Teardown left %q: %v", root, err)
	}
}

func TestManagedPathChecks(t *testing.T) {
	for _, p := range []string{"", "/", "rel/dir", "/.."} {
		for _, k := range []Kind{EmptyDir, ConfigMap, Secret} {
			v := Volume{Name: "v", Kind: k, Path: p}
			if err := Setup(context.Background(), v); !errdefs.IsInvalidArgument(err) {
				t.Errorf("Setup %s %q: %v, want invalid argument", k, p, err)
			}
			if err := Teardown(context.Background(), v); !errdefs.IsInvalidArgument(err) {
				t.Errorf("Teardown %s %q: %v, want invalid argument", k, p, err)
			}
		}
	}
	if err := Setup(context.Background(), Volume{Name: "v", Kind: "nfs", Path: "/x"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown kind: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Setup(ctx, Volume{Name: "v", Kind: EmptyDir, Path: filepath.Join(t.TempDir(), "x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Setup with a cancelled context: %v", err)
	}
	// Teardown runs to the end even then: a rollback must not be cut short.
	dir := filepath.Join(t.TempDir(), "x")
	if err := Setup(context.Background(), Volume{Name: "v", Kind: EmptyDir, Path: dir}); err != nil {
		t.Fatal(err)
	}
	if err := Teardown(ctx, Volume{Name: "v", Kind: EmptyDir, Path: dir}); err != nil {
		t.Errorf("Teardown with a cancelled context: %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Teardown with a cancelled context left %q", dir)
	}
}
