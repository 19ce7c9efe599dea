package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Layout of a configMap or secret volume, the kubelet's atomic writer:
//
//	<Path>/..2025_01_02_15_04_05.123456789/   the files of this version
//	<Path>/..data -> ..2025_01_02_15_04_05.123456789
//	<Path>/<top>  -> ..data/<top>           one link per top-level name
//
// A new version is written into a fresh timestamped directory and made
// visible by renaming a new ..data link over the old one, so a reader never
// sees a half-written set of files; then the old version is removed. Names
// starting with ".." are reserved for this layout.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

const (
	// secretTmpfsBase is the size of a secret's tmpfs before its data is
	// counted. Kubernetes caps a Secret at 1 MiB.
	secretTmpfsBase = 4 << 20
	pageSize        = 4096
	filesVolumeMode = 0o755
	defaultFileMode = 0o644
)

// setupFilesVolume sets up a configMap volume, or with onTmpfs a secret
// volume, whose tmpfs is mounted before any byte is written.
func setupFilesVolume(v Volume, onTmpfs bool) error {
	if err := checkManagedPath(v.Path); err != nil {
		return err
	}
	if err := checkFiles(v.Files); err != nil {
		return err
	}
	created, err := makeDir(v.Path, filesVolumeMode)
	if err != nil {
		return err
	}
	mounted := false
	if onTmpfs {
		opts := "mode=0755,size=" + strconv.FormatInt(secretTmpfsSize(v.Files), 10)
		if mounted, err = mountTmpfs(v.Path, opts); err != nil {
			if created {
				_ = os.Remove(v.Path)
			}
			return err
		}
	}
	if err := writeFiles(v.Path, v.Files); err != nil {
		if mounted {
			_ = unix.Unmount(v.Path, unix.MNT_DETACH)
		}
		if created {
			_ = os.RemoveAll(v.Path)
		}
		return err
	}
	return nil
}

// secretTmpfsSize is the tmpfs size for files: a few MiB plus twice their
// page-rounded size, room for the old and the new version during an update.
func secretTmpfsSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += (int64(len(f.Data))/pageSize + 2) * pageSize
	}
	return secretTmpfsBase + 2*n
}

// checkFiles refuses file paths that are empty, absolute, escape the volume
// with "..", use the reserved ".." prefix, or repeat.
func checkFiles(files []File) error {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		rel, err := cleanRelative(f.Path)
		if err != nil {
			return classf(errdefs.ErrInvalidArgument, "file path %q: %v", f.Path, err)
		}
		if strings.HasPrefix(rel, "..") {
			return classf(errdefs.ErrInvalidArgument, "file path %q: names starting with \"..\" are reserved; rename the item", f.Path)
		}
		if seen[rel] {
			return classf(errdefs.ErrInvalidArgument, "file path %q appears twice; give each item its own path", f.Path)
		}
		seen[rel] = true
		if f.Mode&^os.ModePerm != 0 {
			return classf(errdefs.ErrInvalidArgument, "file %q: mode %v has bits beyond permissions; use 0000-0777", f.Path, f.Mode)
		}
	}
	for rel := range seen {
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			if seen[d] {
				return classf(errdefs.ErrInvalidArgument, "file paths %q and %q overlap: %q cannot be both a file and a directory; give the items paths that do not overlap", d, rel, d)
			}
		}
	}
	return nil
}

// cleanRelative returns p cleaned if it is a relative path that stays inside
// its root: not empty, not absolute, no ".." component.
func cleanRelative(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if filepath.IsAbs(p) {
		return "", errors.New("must be relative to the volume, not absolute")
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", errors.New(`must not contain ".." (it would leave the volume)`)
		}
	}
	rel := filepath.Clean(p)
	if rel == "." {
		return "", errors.New("names the volume itself, not a file in it")
	}
	return rel, nil
}

// writeFiles writes a new version of files under root and switches to it.
func writeFiles(root string, files []File) error {
	version := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.")
	dir, err := os.MkdirTemp(root, version)
	if err != nil {
		return fmt.Errorf("failed to create version directory in %q: %w", root, err)
	}
	if err := writeVersion(dir, files); err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	old, _ := os.Readlink(filepath.Join(root, dataLink))

	tmp := filepath.Join(root, dataLinkTmp)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("failed to remove stale %q: %w", tmp, err)
	}
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("failed to link %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(root, dataLink)); err != nil {
		_ = os.Remove(tmp)
		_ = os.RemoveAll(dir)
		return fmt.Errorf("failed to switch %q to the new version: %w", filepath.Join(root, dataLink), err)
	}

	want := make(map[string]bool)
	for _, f := range files {
		rel, _ := cleanRelative(f.Path)
		want[strings.SplitN(rel, "/", 2)[0]] = true
	}
	for top := range want {
		if err := linkTop(root, top); err != nil {
			return err
		}
	}
	// Drop the links of names the new version no longer has, and the old
	// version itself.
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("failed to list %q: %w", root, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || want[name] || e.Type() != os.ModeSymlink {
			continue
		}
		if t, err := os.Readlink(filepath.Join(root, name)); err == nil && t == dataLink+"/"+name {
			if err := os.Remove(filepath.Join(root, name)); err != nil {
				return fmt.Errorf("failed to remove stale link %q: %w", name, err)
			}
		}
	}
	if old != "" && old != filepath.Base(dir) && strings.HasPrefix(old, "..") && !strings.Contains(old, "/") {
		if err := os.RemoveAll(filepath.Join(root, old)); err != nil {
			return fmt.Errorf("failed to remove old version %q: %w", old, err)
		}
	}
	return nil
}

// linkTop makes root/top a link to ..data/top.
func linkTop(root, top string) error {
	p := filepath.Join(root, top)
	target := dataLink + "/" + top
	if t, err := os.Readlink(p); err == nil && t == target {
		return nil
	}
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode().Type() != os.ModeSymlink {
			return fmt.Errorf("%q exists and is not this volume's link; remove it", p)
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("failed to replace link %q: %w", p, err)
		}
	}
	if err := os.Symlink(target, p); err != nil {
		return fmt.Errorf("failed to link %q: %w", p, err)
	}
	return nil
}

// writeVersion writes files into dir, a directory this call just created
// and nobody else writes to. Files are created with O_EXCL|O_NOFOLLOW, so a
// path never goes through a link, and their mode is set exactly, whatever
// the umask.
func writeVersion(dir string, files []File) error {
	if err := os.Chmod(dir, filesVolumeMode); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", dir, err)
	}
	for _, f := range files {
		rel, _ := cleanRelative(f.Path)
		if err := mkdirsIn(dir, filepath.Dir(rel)); err != nil {
			return fmt.Errorf("failed to write file %q: %w", f.Path, err)
		}
		mode := f.Mode.Perm()
		if f.Mode == 0 {
			mode = defaultFileMode
		}
		p := filepath.Join(dir, rel)
		fd, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, mode)
		if err != nil {
			return fmt.Errorf("failed to write file %q: %w", f.Path, err)
		}
		_, werr := fd.Write(f.Data)
		cerr := fd.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("failed to write file %q: %w", f.Path, err)
		}
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("failed to set mode of file %q: %w", f.Path, err)
		}
	}
	return nil
}

// mkdirsIn creates the directories of rel under dir, each 0755, refusing to
// go through anything that is not a directory (a file item named like a
// directory of another item).
func mkdirsIn(dir, rel string) error {
	if rel == "." {
		return nil
	}
	cur := dir
	for _, c := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%q is a file, but another item puts files under it; give the items paths that do not overlap", strings.TrimPrefix(cur, dir+"/"))
			}
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Mkdir(cur, filesVolumeMode); err != nil {
			return err
		}
		if err := os.Chmod(cur, filesVolumeMode); err != nil {
			return err
		}
	}
	return nil
}
