package main

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestParseFileSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    fileSpec
		wantErr bool
	}{
		{in: "a:/bin/a", want: fileSpec{Src: "a", Dst: "/bin/a"}},
		{in: "a:/bin/a:755", want: fileSpec{Src: "a", Dst: "/bin/a", Mode: 0o755}},
		{in: "a:/bin/a:4755", want: fileSpec{Src: "a", Dst: "/bin/a", Mode: 0o755 | fs.ModeSetuid}},
		{in: "a:/tmp/x:1777", want: fileSpec{Src: "a", Dst: "/tmp/x", Mode: 0o777 | fs.ModeSticky}},
		{in: "a", wantErr: true},
		{in: "a:bin/a", wantErr: true},
		{in: "a:/", wantErr: true},
		{in: ":/a", wantErr: true},
		{in: "a:/a:9", wantErr: true},
		{in: "a:/a:0", wantErr: true},
		{in: "a:/a:755:x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFileSpec(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFileSpec(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseFileSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "sh", want: []string{"sh"}},
		{in: "  sleep  3600 ", want: []string{"sleep", "3600"}},
		{in: `["sh","-c","echo hi there"]`, want: []string{"sh", "-c", "echo hi there"}},
		{in: `[]`, want: []string{}},
		{in: "", want: []string{}},
		{in: `["sh"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCommand(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCommand(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && len(got)+len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCommand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "80", want: "80/tcp"},
		{in: "53/udp", want: "53/udp"},
		{in: "0", wantErr: true},
		{in: "70000", wantErr: true},
		{in: "80/icmp", wantErr: true},
		{in: "http", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePort(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parsePort(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parsePort(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		epoch   string
		wantErr string
		check   func(t *testing.T, o *options)
	}{
		{
			name: "defaults",
			args: []string{"--rootfs", "r", "--tag", "busybox", "-o", "out.tar"},
			check: func(t *testing.T, o *options) {
				if o.format != "oci" || len(o.env) != 1 || o.env[0] != defaultPath || !o.created.IsZero() {
					t.Errorf("unexpected defaults: %+v", o)
				}
			},
		},
		{
			name: "PATH given is kept",
			args: []string{"--file", "a:/a", "--tag", "x", "-o", "o", "--env", "PATH=/bin", "--env", "A=1"},
			check: func(t *testing.T, o *options) {
				if !reflect.DeepEqual(o.env, []string{"PATH=/bin", "A=1"}) {
					t.Errorf("env = %q", o.env)
				}
			},
		},
		{
			name:  "SOURCE_DATE_EPOCH",
			args:  []string{"--rootfs", "r", "--tag", "x", "-o", "o"},
			epoch: "1700000000",
			check: func(t *testing.T, o *options) {
				if o.created.Unix() != 1700000000 || !o.fixedMtime.Equal(o.created) {
					t.Errorf("created = %v, mtime = %v", o.created, o.fixedMtime)
				}
			},
		},
		{name: "no output", args: []string{"--rootfs", "r", "--tag", "x"}, wantErr: "-o"},
		{name: "no content", args: []string{"--tag", "x", "-o", "o"}, wantErr: "nothing to put"},
		{name: "no tag", args: []string{"--rootfs", "r", "-o", "o"}, wantErr: "--tag"},
		{name: "bad format", args: []string{"--rootfs", "r", "--tag", "x", "-o", "o", "--format", "zip"}, wantErr: "format"},
		{name: "bad env", args: []string{"--rootfs", "r", "--tag", "x", "-o", "o", "--env", "FOO"}, wantErr: "KEY=VALUE"},
		{name: "bad epoch", args: []string{"--rootfs", "r", "--tag", "x", "-o", "o"}, epoch: "soon", wantErr: "SOURCE_DATE_EPOCH"},
		{name: "stray argument", args: []string{"--rootfs", "r", "--tag", "x", "-o", "o", "extra"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args, tt.epoch, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs: %v", err)
			}
			tt.check(t, o)
		})
	}
}

func TestFullName(t *testing.T) {
	tests := map[string]string{
		"busybox":                           "docker.io/library/busybox:latest",
		"busybox:1.36":                      "docker.io/library/busybox:1.36",
		"docker.io/library/busybox:1.36":    "docker.io/library/busybox:1.36",
		"index.docker.io/minipod/app:v1":    "docker.io/minipod/app:v1",
		"127.0.0.1:5000/demo/app:v2":        "127.0.0.1:5000/demo/app:v2",
		"registry.example.com/a/b/c:latest": "registry.example.com/a/b/c:latest",
	}
	for in, want := range tests {
		tags, err := parseTags([]string{in})
		if err != nil {
			t.Fatalf("parseTags(%q): %v", in, err)
		}
		if got := fullName(tags[0]); got != want {
			t.Errorf("fullName(%q) = %q, want %q", in, got, want)
		}
	}
}

// testRootfs makes a small tree with a hard link, a symlink and a sticky
// directory, plus a separate file for --file.
func testRootfs(t *testing.T) (rootfs, extra string) {
	t.Helper()
	dir := t.TempDir()
	rootfs = filepath.Join(dir, "rootfs")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(rootfs, "tmp"), 0o777|fs.ModeSticky))
	must(os.WriteFile(filepath.Join(rootfs, "bin", "tool"), []byte("#!/bin/sh\necho tool\n"), 0o755))
	must(os.Link(filepath.Join(rootfs, "bin", "tool"), filepath.Join(rootfs, "bin", "tool2")))
	must(os.Symlink("tool", filepath.Join(rootfs, "bin", "sh")))
	extra = filepath.Join(dir, "extra")
	must(os.WriteFile(extra, []byte("hello\n"), 0o600))
	return rootfs, extra
}

// layerFiles reads the image's single layer into name -> header.
func layerFiles(t *testing.T, img v1.Image) (map[string]*tar.Header, []string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]*tar.Header{}
	var order []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		files[strings.TrimSuffix(hdr.Name, "/")] = hdr
		order = append(order, hdr.Name)
	}
	return files, order
}

func checkImage(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Cmd, []string{"sh"}) || cf.Config.WorkingDir != "/tmp" ||
		cf.Config.StopSignal != "SIGQUIT" || cf.Config.User != "65534" || cf.OS != "linux" {
		t.Errorf("unexpected config: %+v", cf.Config)
	}
	if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", cf.Config.ExposedPorts)
	}
	if cf.Created.Unix() != 1700000000 {
		t.Errorf("Created = %v", cf.Created)
	}

	files, _ := layerFiles(t, img)
	tests := []struct {
		name     string
		typeflag byte
		mode     int64
		linkname string
	}{
		{"bin", tar.TypeDir, 0o755, ""},
		{"bin/sh", tar.TypeSymlink, -1, "tool"},
		{"bin/tool", tar.TypeReg, 0o755, ""},
		{"bin/tool2", tar.TypeLink, -1, "bin/tool"},
		{"tmp", tar.TypeDir, 0o1777, ""},
		{"etc", tar.TypeDir, 0o755, ""},
		{"etc/extra", tar.TypeReg, 0o644, ""},
	}
	for _, tt := range tests {
		hdr, ok := files[tt.name]
		if !ok {
			t.Errorf("layer has no %s", tt.name)
			continue
		}
		if hdr.Typeflag != tt.typeflag || (tt.mode >= 0 && hdr.Mode != tt.mode) || hdr.Linkname != tt.linkname {
			t.Errorf("%s: type %c mode %o link %q, want type %c mode %o link %q",
				tt.name, hdr.Typeflag, hdr.Mode, hdr.Linkname, tt.typeflag, tt.mode, tt.linkname)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 1700000000 {
			t.Errorf("%s: owner %d:%d mtime %v, want 0:0 at the fixed epoch", tt.name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
	}
}

func buildArgs(rootfs, extra, format, out string) []string {
	return []string{
		"--rootfs", rootfs, "--file", extra + ":/etc/extra:644",
		"--tag", "docker.io/library/mktest:1", "--tag", "mktest:latest",
		"--cmd", "sh", "--workdir", "/tmp", "--user", "65534", "--stop-signal", "SIGQUIT",
		"--expose", "8080", "--format", format, "-o", out,
	}
}

func TestBuildDockerArchive(t *testing.T) {
	rootfs, extra := testRootfs(t)
	out := filepath.Join(t.TempDir(), "img.tar")
	o, err := parseArgs(buildArgs(rootfs, extra, "docker", out), "1700000000", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := build(o); err != nil {
		t.Fatalf("build: %v", err)
	}
	for _, ref := range []string{"docker.io/library/mktest:1", "mktest:latest"} {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(out, &tag)
		if err != nil {
			t.Fatalf("read docker archive %s: %v", ref, err)
		}
		checkImage(t, img)
	}
}

func TestBuildOCIArchive(t *testing.T) {
	rootfs, extra := testRootfs(t)
	out := filepath.Join(t.TempDir(), "img.tar")
	o, err := parseArgs(buildArgs(rootfs, extra, "oci", out), "1700000000", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := build(o); err != nil {
		t.Fatalf("build: %v", err)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	dir := untar(t, out)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range im.Manifests {
		names = append(names, d.Annotations[annotationContainerdImageName]+" "+d.Annotations[annotationOCIRefName])
		if d.Platform == nil || d.Platform.OS != "linux" {
			t.Errorf("descriptor %s has platform %v", d.Digest, d.Platform)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, img)
	}
	want := []string{"docker.io/library/mktest:1 1", "docker.io/library/mktest:latest latest"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("index names = %q, want %q", names, want)
	}

	// Same inputs and SOURCE_DATE_EPOCH: the same archive, byte for byte.
	if err := build(o); err != nil {
		t.Fatalf("second build: %v", err)
	}
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Error("two builds of the same input differ")
	}
}

func untar(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected entry %q of type %c in an OCI archive", hdr.Name, hdr.Typeflag)
		}
	}
}
