// Command mkimage builds a one-layer container image from a root filesystem
// directory and/or a list of files, and writes it as an OCI archive (an OCI
// image layout in a tar, what `ctr images import` and containerd's archive
// importer read) or as a docker-archive tarball.
//
//	go run ./scripts/mkimage --rootfs _output/rootfs \
//	    --tag docker.io/library/busybox:1.36 --cmd sh -o busybox.tar
//
// Image assembly (manifests, config, index, digests) is go-containerregistry's;
// this program only streams the filesystem layer from disk.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
)

// options is everything the command line says about the image to build.
type options struct {
	rootfs     string
	files      []fileSpec
	tags       []string
	entrypoint []string
	cmd        []string
	env        []string
	workdir    string
	user       string
	stopSignal string
	expose     []string
	labels     map[string]string
	format     string
	output     string
	os         string
	arch       string
	variant    string
	keepOwner  bool
	created    time.Time // zero: now
	fixedMtime time.Time // zero: keep the files' own mtimes
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func main() {
	opts, err := parseArgs(os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH"), os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(2)
	}
	if err := build(opts); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func parseArgs(args []string, sourceDateEpoch string, usage io.Writer) (*options, error) {
	o := &options{labels: map[string]string{}}
	fl := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fl.SetOutput(usage)
	fl.StringVar(&o.rootfs, "rootfs", "", "`DIR`ectory whose contents become the image's root filesystem")
	fl.Func("file", "`SRC:DST[:MODE]` copy host file SRC to DST in the image, MODE in octal (repeatable)", func(s string) error {
		f, err := parseFileSpec(s)
		if err != nil {
			return err
		}
		o.files = append(o.files, f)
		return nil
	})
	fl.Func("tag", "image `REF`erence, e.g. docker.io/library/busybox:1.36 (repeatable)", func(s string) error {
		o.tags = append(o.tags, s)
		return nil
	})
	fl.Func("entrypoint", "entrypoint: a JSON array or whitespace separated words", func(s string) error {
		v, err := parseCommand(s)
		o.entrypoint = v
		return err
	})
	fl.Func("cmd", "default arguments (Cmd): a JSON array or whitespace separated words", func(s string) error {
		v, err := parseCommand(s)
		o.cmd = v
		return err
	})
	fl.Func("env", "`KEY=VALUE` environment variable (repeatable; PATH defaults to the usual one)", func(s string) error {
		if !strings.Contains(s, "=") || strings.HasPrefix(s, "=") {
			return fmt.Errorf("failed to parse env %q: want KEY=VALUE", s)
		}
		o.env = append(o.env, s)
		return nil
	})
	fl.Func("expose", "`PORT[/PROTO]` exposed port (repeatable)", func(s string) error {
		p, err := parsePort(s)
		if err != nil {
			return err
		}
		o.expose = append(o.expose, p)
		return nil
	})
	fl.Func("label", "`KEY=VALUE` image label (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("failed to parse label %q: want KEY=VALUE", s)
		}
		o.labels[k] = v
		return nil
	})
	fl.StringVar(&o.workdir, "workdir", "", "working directory of the image's process")
	fl.StringVar(&o.user, "user", "", "user (and group) of the image's process, e.g. 65534:65534")
	fl.StringVar(&o.stopSignal, "stop-signal", "", "signal that stops the container, e.g. SIGTERM")
	fl.StringVar(&o.format, "format", "oci", "archive format: oci (OCI layout in a tar) or docker (docker-archive)")
	fl.StringVar(&o.output, "o", "", "output `FILE`")
	fl.StringVar(&o.os, "os", "linux", "image OS")
	fl.StringVar(&o.arch, "arch", goruntime.GOARCH, "image architecture")
	fl.StringVar(&o.variant, "variant", "", "image architecture variant, e.g. v7")
	fl.BoolVar(&o.keepOwner, "keep-owner", false, "keep files' uid/gid instead of making everything root:root")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if o.output == "" {
		return nil, errors.New("missing -o FILE")
	}
	if o.rootfs == "" && len(o.files) == 0 {
		return nil, errors.New("nothing to put in the image: give --rootfs DIR and/or --file SRC:DST")
	}
	if len(o.tags) == 0 {
		return nil, errors.New("missing --tag REF")
	}
	if o.format != "oci" && o.format != "docker" {
		return nil, fmt.Errorf("unknown --format %q: want oci or docker", o.format)
	}
	if sourceDateEpoch != "" {
		sec, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("failed to parse SOURCE_DATE_EPOCH %q: %w", sourceDateEpoch, err)
		}
		o.created = time.Unix(sec, 0).UTC()
		o.fixedMtime = o.created
	}
	hasPath := false
	for _, kv := range o.env {
		if strings.HasPrefix(kv, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		o.env = append([]string{defaultPath}, o.env...)
	}
	return o, nil
}

// parseFileSpec parses SRC:DST[:MODE]; DST must be absolute.
func parseFileSpec(s string) (fileSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fileSpec{}, fmt.Errorf("failed to parse file %q: want SRC:DST[:MODE]", s)
	}
	f := fileSpec{Src: parts[0], Dst: parts[1]}
	if !strings.HasPrefix(f.Dst, "/") {
		return fileSpec{}, fmt.Errorf("failed to parse file %q: destination must be an absolute path", s)
	}
	if cleanName(f.Dst) == "" {
		return fileSpec{}, fmt.Errorf("failed to parse file %q: destination is the root directory", s)
	}
	if len(parts) == 3 {
		m, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || m == 0 || m > 0o7777 {
			return fileSpec{}, fmt.Errorf("failed to parse file %q: mode %q is not an octal mode between 1 and 7777", s, parts[2])
		}
		f.Mode = unixMode(uint32(m))
	}
	return f, nil
}

// unixMode converts octal permission bits (with setuid/setgid/sticky) to an
// fs.FileMode.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// parseCommand accepts a JSON array (["sh","-c","echo hi"]) or plain words.
func parseCommand(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("failed to parse command %q as a JSON array: %w", s, err)
		}
		return v, nil
	}
	return strings.Fields(s), nil
}

// parsePort normalises PORT[/PROTO] to the config's "80/tcp" form.
func parsePort(s string) (string, error) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("failed to parse port %q: want PORT[/tcp|udp|sctp]", s)
	}
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return "", fmt.Errorf("failed to parse port %q: protocol must be tcp, udp or sctp", s)
	}
	return fmt.Sprintf("%d/%s", n, proto), nil
}

// writeAtomic writes through a temporary file next to path and renames it
// into place, so a failed build never leaves a truncated archive.
func writeAtomic(path string, write func(w io.Writer) error) error {
	dir, base := ".", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		dir, base = path[:i+1], path[i+1:]
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("failed to create output %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to chmod output %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write output %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to rename output to %q: %w", path, err)
	}
	return nil
}
