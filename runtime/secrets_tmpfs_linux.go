package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/minipod/minipod/internal/atomicfile"
)

// ensureTmpfs makes dir a tmpfs unless it already lies on one. Secrets are
// kept under /run on the assumption that /run is a tmpfs; on a host where
// it is not, secret data would reach the disk. What the directory already
// holds is moved onto the new tmpfs (and removed from the disk).
func ensureTmpfs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create %q: %w", dir, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("failed to stat file system of %q: %w", dir, err)
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return nil
	}
	// Read what is there (small JSON files), remove it, mount, write back.
	saved := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		saved[rel] = b
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to read %q before putting it on tmpfs: %w", dir, err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=64m"); err != nil {
		return fmt.Errorf("failed to mount a tmpfs on %q for secrets: %w", dir, err)
	}
	var errs []error
	for rel, b := range saved {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := atomicfile.Write(p, b, 0o600); err != nil {
			errs = append(errs, err)
		}
	}
	if len(saved) > 0 {
		// The copies underneath the mount are still on disk: scrub them
		// through a private bind of the parent, which shows what the tmpfs
		// hides.
		errs = append(errs, scrubUnder(dir))
	}
	return errors.Join(errs...)
}

// scrubUnder removes the files that a mount on dir hides, through a bind
// mount of dir's parent file system made without the mounts on top of it.
func scrubUnder(dir string) error {
	tmp, err := os.MkdirTemp("", "minipod-scrub-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A non-recursive bind of dir's parent does not carry the tmpfs on
	// dir, so tmp/<base> is the directory on disk.
	if err := unix.Mount(filepath.Dir(dir), tmp, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("failed to reach the secrets left on disk under %q: %w", dir, err)
	}
	defer unix.Unmount(tmp, unix.MNT_DETACH)
	under := filepath.Join(tmp, filepath.Base(dir))
	entries, err := os.ReadDir(under)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(under, e.Name())))
	}
	return errors.Join(errs...)
}
