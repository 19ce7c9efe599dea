package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestOCIMountOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		vol      Volume
		mount    Mount
		wantSrc  string
		wantOpts []string
	}{
		{
			name:     "emptyDir rw",
			vol:      Volume{Name: "cache", Kind: EmptyDir, Path: dir},
			mount:    Mount{Volume: "cache", ContainerPath: "/cache"},
			wantSrc:  dir,
			wantOpts: []string{"rbind", "rprivate", "rw"},
		},
		{
			name:     "emptyDir ro",
			vol:      Volume{Name: "cache", Kind: EmptyDir, Path: dir},
			mount:    Mount{Volume: "cache", ContainerPath: "/cache/", ReadOnly: true},
			wantSrc:  dir,
			wantOpts: []string{"rbind", "rprivate", "ro"},
		},
		{
			name:     "configMap is always ro",
			vol:      Volume{Name: "conf", Kind: ConfigMap, Path: dir},
			mount:    Mount{Volume: "conf", ContainerPath: "/etc/app"},
			wantSrc:  dir,
			wantOpts: []string{"rbind", "rprivate", "ro"},
		},
		{
			name:     "secret is always ro",
			vol:      Volume{Name: "tls", Kind: Secret, Path: dir},
			mount:    Mount{Volume: "tls", ContainerPath: "/etc/tls"},
			wantSrc:  dir,
			wantOpts: []string{"rbind", "rprivate", "ro"},
		},
		{
			name:     "hostPath File binds the file itself",
			vol:      Volume{Name: "f", Kind: HostPath, Path: file, HostPathType: HostPathFile},
			mount:    Mount{Volume: "f", ContainerPath: "/etc/f"},
			wantSrc:  file,
			wantOpts: []string{"rbind", "rprivate", "rw"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OCIMount(tt.vol, tt.mount)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != "bind" || got.Source != tt.wantSrc || got.Destination != filepath.Clean(tt.mount.ContainerPath) || !reflect.DeepEqual(got.Options, tt.wantOpts) {
				t.Errorf("OCIMount = %+v, want bind %s -> %s %v", got, tt.wantSrc, tt.mount.ContainerPath, tt.wantOpts)
			}
		})
	}
}

func TestOCIMountRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		vol   Volume
		mount Mount
	}{
		{"volume name mismatch", Volume{Name: "a", Kind: EmptyDir, Path: dir}, Mount{Volume: "b", ContainerPath: "/x"}},
		{"relative container path", Volume{Name: "a", Kind: EmptyDir, Path: dir}, Mount{Volume: "a", ContainerPath: "x"}},
		{"relative host path", Volume{Name: "a", Kind: EmptyDir, Path: "rel"}, Mount{Volume: "a", ContainerPath: "/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OCIMount(tt.vol, tt.mount); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("OCIMount error = %v, want invalid argument", err)
			}
		})
	}
}

// subPathTree builds, in a fresh temp dir:
//
//	vol/a/b/            vol/file
//	vol/in -> a         vol/abs-out -> <outside>   vol/rel-out -> ../outside
//	vol/deep -> a/../../outside                    vol/dangling -> nowhere
//	vol/abs-in -> <vol>/a
//	outside/
func subPathTree(t *testing.T) (vol, outside string) {
	t.Helper()
	dir := t.TempDir()
	vol = filepath.Join(dir, "vol")
	outside = filepath.Join(dir, "outside")
	for _, d := range []string{filepath.Join(vol, "a", "b"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"in":       "a",
		"abs-out":  outside,
		"rel-out":  "../outside",
		"deep":     "a/../../outside",
		"dangling": "nowhere/x",
		"abs-in":   filepath.Join(vol, "a"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	return vol, outside
}

func TestSubPath(t *testing.T) {
	tests := []struct {
		sub     string
		want    string // relative to vol; "" when an error is expected
		created bool
		escape  bool // error must be the symlink escape
	}{
		{sub: "a/b", want: "a/b"},
		{sub: "a//b/./", want: "a/b"},
		{sub: "file", want: "file"},
		{sub: "in/b", want: "a/b"},
		{sub: "new/dir", want: "new/dir", created: true},
		{sub: "in/new", want: "a/new", created: true},
		{sub: "../outside"},
		{sub: "a/../../outside"},
		{sub: "/etc"},
		{sub: "file/x"},
		{sub: "abs-out", escape: true},
		{sub: "abs-out/new", escape: true},
		{sub: "rel-out", escape: true},
		{sub: "rel-out/new", escape: true},
		{sub: "deep", escape: true},
		{sub: "abs-in", escape: true}, // absolute links are refused even when they point inside
		{sub: "dangling"},
	}
	resolvers := map[string]func(root, rel string, mode os.FileMode) (string, error){
		"openat2": resolveOpenat2,
		"walk":    resolveWalk,
	}
	for rname := range resolvers {
		for _, tt := range tests {
			t.Run(rname+"/"+tt.sub, func(t *testing.T) {
				vol, outside := subPathTree(t)
				var got string
				var err error
				if rname == "openat2" {
					// Through the public API.
					mnt, merr := OCIMount(Volume{Name: "v", Kind: EmptyDir, Path: vol}, Mount{Volume: "v", ContainerPath: "/v", SubPath: tt.sub})
					got, err = mnt.Source, merr
				} else {
					rel, cerr := cleanRelative(tt.sub)
					if cerr != nil {
						err = cerr
					} else {
						got, err = resolveWalk(vol, rel, 0o750)
					}
				}
				if tt.want == "" {
					if err == nil {
						t.Fatalf("subPath %q resolved to %q, want an error", tt.sub, got)
					}
					if tt.escape && !strings.Contains(err.Error(), "leaves the volume") {
						t.Errorf("error = %v, want the symlink escape", err)
					}
					entries, _ := os.ReadDir(outside)
					if len(entries) != 0 {
						t.Errorf("something was created outside the volume: %v", entries)
					}
					return
				}
				if err != nil {
					t.Fatalf("subPath %q: %v", tt.sub, err)
				}
				if want := filepath.Join(canonical(vol), tt.want); got != want && got != filepath.Join(vol, tt.want) {
					t.Errorf("subPath %q = %q, want %q", tt.sub, got, want)
				}
				if tt.created {
					fi, err := os.Stat(got)
					if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
						t.Errorf("created subPath %q: %v, %v; want a directory with the volume's mode 0750", got, fi.Mode(), err)
					}
				}
			})
		}
	}
}

func TestParseMountInfo(t *testing.T) {
	line := `612 30 0:55 / /tmp/x\040y rw,nosuid,nodev,relatime shared:300 - tmpfs tmpfs rw,size=8192k,mode=777`
	e, ok := parseMountInfoLine(line)
	if !ok {
		t.Fatal("line not parsed")
	}
	want := mountEntry{ID: "612", Dev: "0:55", Root: "/", MountPoint: "/tmp/x y", Options: "rw,nosuid,nodev,relatime", FSType: "tmpfs", Source: "tmpfs", SuperOptions: "rw,size=8192k,mode=777"}
	if e != want {
		t.Errorf("parsed %+v, want %+v", e, want)
	}
	if _, ok := parseMountInfoLine("garbage"); ok {
		t.Error("garbage parsed")
	}
}

func TestMountsUnderOrder(t *testing.T) {
	entries := []mountEntry{
		{MountPoint: "/"},
		{MountPoint: "/pod"},
		{MountPoint: "/pod/volumes/a"},
		{MountPoint: "/pod/volumes/a/sub"},
		{MountPoint: "/podx"},
		{MountPoint: "/pod/volumes/b"},
		{MountPoint: "/pod/volumes/a"}, // stacked on the first
	}
	got := mountsUnder(entries, "/pod")
	want := []string{"/pod/volumes/a/sub", "/pod/volumes/a", "/pod/volumes/b", "/pod/volumes/a", "/pod"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder = %q, want %q", got, want)
	}
}

// TestOpenat2Used makes sure the subPath tests exercise openat2 on this
// kernel, not only the fallback walk.
func TestOpenat2Used(t *testing.T) {
	vol, _ := subPathTree(t)
	if _, err := resolveOpenat2(vol, "a/b", 0o750); errors.Is(err, errNoOpenat2) {
		t.Skip("openat2 is not available here; only the fallback walk was tested")
	} else if err != nil {
		t.Fatal(err)
	}
}
