package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// The daemon keeps Secrets in its secret directory, on a tmpfs it mounts
// on that very directory (never on a parent), so that secret data never
// reaches a disk, even where /run is not a tmpfs. The directory must be
// new or empty, or already hold minipod's tmpfs, marked by secretMarker
// (see owned_dirs.go). The tmpfs stays mounted when the daemon stops, so
// that the next daemon finds the Secrets; a reboot clears it.

// inspectSecretDir is inspectDir for the secret directory; a marked one
// must also still be a tmpfs. A directory an older minipod left (on the
// tmpfs it mounted on the parent: nothing in it but the objects/ store of
// Secrets, secrets/) is taken as minipod's too, so that an upgrade keeps
// the Secrets.
func inspectSecretDir(dir string) (ownership, error) {
	st, err := inspectDir("--secret-dir", dir, secretMarker)
	if err != nil && errdefs.IsInvalidArgument(err) && isLegacySecretDir(dir) {
		return dirOwned, nil
	}
	if err != nil || st != dirOwned {
		return st, err
	}
	if !onTmpfs(dir) {
		return 0, fmt.Errorf("--secret-dir %q holds %s but is not a tmpfs: remove it, or give a new or empty directory: %w", dir, secretMarker, errdefs.ErrInvalidArgument)
	}
	return dirOwned, nil
}

// prepareSecretDir makes dir minipod's secret directory: it creates it
// when absent and mounts a tmpfs on it, unless it already holds minipod's
// tmpfs. A refused directory is left as it was; on failure, nothing is
// left of what prepareSecretDir created, and undo takes it back later (for
// a daemon that fails to start after it).
func prepareSecretDir(dir string) (undo func(), err error) {
	st, err := inspectSecretDir(dir)
	if err != nil {
		return nil, err
	}
	if st == dirOwned {
		marker := filepath.Join(dir, secretMarker)
		if !exists(marker) { // an older minipod's
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				return nil, fmt.Errorf("failed to mark --secret-dir %q as minipod's: %w", dir, err)
			}
		}
		return func() {}, nil
	}
	undoDir := func() {}
	if st == dirAbsent {
		if undoDir, err = mkdirNew(dir, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create --secret-dir %q: %w", dir, err)
		}
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=64m"); err != nil {
		undoDir()
		return nil, fmt.Errorf("failed to mount a tmpfs on --secret-dir %q: %w", dir, err)
	}
	undo = func() {
		if unix.Unmount(dir, unix.MNT_DETACH) == nil {
			undoDir()
		}
	}
	if err := os.WriteFile(filepath.Join(dir, secretMarker), nil, 0o600); err != nil {
		undo()
		return nil, fmt.Errorf("failed to mark the tmpfs on --secret-dir %q as minipod's: %w", dir, err)
	}
	return undo, nil
}

// onTmpfs reports whether dir lies on a tmpfs (or ramfs).
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}

// isLegacySecretDir reports whether dir is what a minipod from before
// secretMarker left: on a tmpfs, holding only the directory secrets/.
func isLegacySecretDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 1 && entries[0].Name() == "secrets" && entries[0].IsDir() && onTmpfs(dir)
}
