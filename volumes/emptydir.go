package volumes

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// emptyDirMode is the mode the kubelet gives an emptyDir, so that containers
// running as any user can write to it.
const emptyDirMode = 0o777

func setupEmptyDir(v Volume) error {
	if err := checkManagedPath(v.Path); err != nil {
		return err
	}
	switch v.Medium {
	case "", MediumMemory:
	default:
		return fmt.Errorf("emptyDir medium %q is not supported; use \"\" (disk) or \"Memory\"", v.Medium)
	}
	if v.SizeLimit < 0 {
		return fmt.Errorf("emptyDir sizeLimit %d is negative", v.SizeLimit)
	}
	created, err := makeDir(v.Path, emptyDirMode)
	if err != nil {
		return err
	}
	if v.Medium != MediumMemory {
		return nil
	}
	opts := "mode=0777"
	if v.SizeLimit > 0 {
		opts += ",size=" + strconv.FormatInt(v.SizeLimit, 10)
	}
	if _, err := mountTmpfs(v.Path, opts); err != nil {
		if created {
			_ = os.Remove(v.Path)
		}
		return err
	}
	return nil
}

// makeDir creates path (and its parents) if missing and sets its mode
// exactly, whatever the umask. It reports whether it created path.
func makeDir(path string, mode os.FileMode) (bool, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.IsDir():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("%q exists and is not a directory; remove it", path)
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("failed to inspect %q: %w", path, err)
	}
	if err := os.MkdirAll(path, mode); err != nil {
		return false, fmt.Errorf("failed to create directory %q: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("failed to set mode of %q: %w", path, err)
	}
	return true, nil
}

// mountTmpfs mounts a tmpfs with data options opts at path unless a tmpfs
// is already mounted there. It reports whether it mounted one.
func mountTmpfs(path, opts string) (bool, error) {
	m, ok, err := mountAt(path)
	if err != nil {
		return false, err
	}
	if ok && m.FSType == "tmpfs" {
		return false, nil
	}
	if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return false, fmt.Errorf("failed to mount tmpfs on %q (%s): %w", path, opts, err)
	}
	return true, nil
}

// unmountAll detaches every mount at or under root, deepest first. Mounts
// that vanish meanwhile are not an error.
func unmountAll(root string) error {
	mounts, err := MountsUnder(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mounts {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to unmount %q: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}
