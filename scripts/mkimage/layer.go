package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fileSpec is one --file SRC:DST[:MODE] argument: a host file copied to an
// absolute path in the image.
type fileSpec struct {
	Src  string
	Dst  string
	Mode fs.FileMode // 0 means: keep the source file's permission bits
}

// entry is one path of the image's filesystem. Content of regular files is
// read from hostPath when the layer is streamed, so the tree stays small.
type entry struct {
	name     string // slash separated, relative to "/", no leading slash
	hostPath string // regular files: where the content is read from
	mode     fs.FileMode
	linkname string // symlinks
	uid, gid int
	mtime    time.Time
	devmajor int64
	devminor int64
	inode    inodeKey // zero unless the entry came from a walked directory
}

type inodeKey struct{ dev, ino uint64 }

// tree is the set of entries of one filesystem layer, keyed by name.
type tree struct {
	entries  map[string]*entry
	keepOwn  bool      // keep the uid/gid found on disk instead of 0:0
	fixMtime time.Time // when not zero, every entry gets this mtime
}

func newTree(keepOwner bool, mtime time.Time) *tree {
	return &tree{entries: map[string]*entry{}, keepOwn: keepOwner, fixMtime: mtime}
}

// addDir adds every path below root, root itself becoming "/".
func (t *tree) addDir(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("failed to walk %q: %w", p, err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("failed to resolve %q: %w", p, err)
		}
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("failed to stat %q: %w", p, err)
		}
		e, err := t.entryFromInfo(filepath.ToSlash(rel), p, fi)
		if err != nil {
			return err
		}
		t.entries[e.name] = e
		return nil
	})
}

// addFile adds one --file: the source is followed if it is a symlink, and
// must be a regular file. Missing parent directories are created 0755.
func (t *tree) addFile(f fileSpec) error {
	fi, err := os.Stat(f.Src)
	if err != nil {
		return fmt.Errorf("failed to stat file %q: %w", f.Src, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("failed to add file %q: not a regular file", f.Src)
	}
	name := cleanName(f.Dst)
	if name == "" {
		return fmt.Errorf("failed to add file %q: destination %q is the root directory", f.Src, f.Dst)
	}
	e, err := t.entryFromInfo(name, f.Src, fi)
	if err != nil {
		return err
	}
	e.inode = inodeKey{} // never hard link an explicitly added file
	if !t.keepOwn {
		e.uid, e.gid = 0, 0
	}
	if f.Mode != 0 {
		e.mode = f.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | (e.mode & fs.ModeType)
	}
	t.entries[name] = e
	return nil
}

// addParents creates the directories that entries need but nobody listed.
func (t *tree) addParents() {
	var missing []string
	for name := range t.entries {
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := t.entries[dir]; ok {
				break
			}
			missing = append(missing, dir)
		}
	}
	for _, dir := range missing {
		if _, ok := t.entries[dir]; ok {
			continue
		}
		mtime := t.fixMtime
		if mtime.IsZero() {
			mtime = time.Unix(0, 0)
		}
		t.entries[dir] = &entry{name: dir, mode: fs.ModeDir | 0o755, mtime: mtime}
	}
}

func (t *tree) entryFromInfo(name, hostPath string, fi fs.FileInfo) (*entry, error) {
	e := &entry{name: name, mode: fi.Mode(), mtime: fi.ModTime().Truncate(time.Second)}
	if !t.fixMtime.IsZero() {
		e.mtime = t.fixMtime
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if t.keepOwn {
			e.uid, e.gid = int(st.Uid), int(st.Gid)
		}
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			e.inode = inodeKey{dev: uint64(st.Dev), ino: st.Ino}
		}
		if fi.Mode()&fs.ModeDevice != 0 {
			e.devmajor = int64(unix.Major(uint64(st.Rdev)))
			e.devminor = int64(unix.Minor(uint64(st.Rdev)))
		}
	}
	switch {
	case fi.Mode().IsRegular():
		e.hostPath = hostPath
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(hostPath)
		if err != nil {
			return nil, fmt.Errorf("failed to read symlink %q: %w", hostPath, err)
		}
		e.linkname = target
	case fi.IsDir(), fi.Mode()&fs.ModeDevice != 0, fi.Mode()&fs.ModeNamedPipe != 0:
	default:
		return nil, fmt.Errorf("failed to add %q: unsupported file type %s", hostPath, fi.Mode().Type())
	}
	return e, nil
}

// sorted returns the entries in lexical order, so every parent precedes its
// children and the stream is the same every time it is produced.
func (t *tree) sorted() []*entry {
	out := make([]*entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// writeTar streams the tree as an uncompressed tar. Regular files that share
// an inode on disk become one file and hard links to it.
func (t *tree) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	seen := map[inodeKey]string{}
	for _, e := range t.sorted() {
		hdr, err := e.header()
		if err != nil {
			return err
		}
		if e.inode != (inodeKey{}) {
			if first, ok := seen[e.inode]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				seen[e.inode] = hdr.Name
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("failed to write tar header %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := copyContent(tw, e.hostPath, hdr.Size); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("failed to finish tar: %w", err)
	}
	return nil
}

func copyContent(w io.Writer, hostPath string, size int64) error {
	f, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", hostPath, err)
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("failed to copy %q: %w", hostPath, err)
	}
	if n != size {
		return fmt.Errorf("failed to copy %q: file changed size while the image was built", hostPath)
	}
	return nil
}

func (e *entry) header() (*tar.Header, error) {
	hdr := &tar.Header{
		Name:     e.name,
		Mode:     int64(e.mode.Perm()),
		Uid:      e.uid,
		Gid:      e.gid,
		ModTime:  e.mtime,
		Format:   tar.FormatPAX,
		Devmajor: e.devmajor,
		Devminor: e.devminor,
	}
	if e.mode&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if e.mode&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if e.mode&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case e.mode.IsRegular():
		hdr.Typeflag = tar.TypeReg
		fi, err := os.Stat(e.hostPath)
		if err != nil {
			return nil, fmt.Errorf("failed to stat %q: %w", e.hostPath, err)
		}
		hdr.Size = fi.Size()
	case e.mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.linkname
	case e.mode&fs.ModeCharDevice != 0:
		hdr.Typeflag = tar.TypeChar
	case e.mode&fs.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
	case e.mode&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("failed to archive %q: unsupported file type %s", e.name, e.mode.Type())
	}
	return hdr, nil
}

// cleanName turns an absolute image path into a tar entry name.
func cleanName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}
