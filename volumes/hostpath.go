package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// setupHostPath checks (and for the OrCreate types creates) a hostPath the
// way the kubelet does: the type is that of the path with symlinks
// followed; DirectoryOrCreate makes the directory and its parents (0755);
// FileOrCreate makes an empty file (0644) but not its parent directory.
func setupHostPath(v Volume) error {
	if v.Path == "" || !filepath.IsAbs(v.Path) {
		return classf(errdefs.ErrInvalidArgument, "hostPath %q must be an absolute path", v.Path)
	}
	t := v.HostPathType
	switch t {
	case HostPathUnset:
		return nil
	case HostPathDirectoryOrCreate:
		if _, err := os.Stat(v.Path); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(v.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %q (type %s): failed to create directory: %w", v.Path, t, err)
			}
		}
		return checkHostPathType(v.Path, t, "directory", os.ModeDir)
	case HostPathDirectory:
		return checkHostPathType(v.Path, t, "directory", os.ModeDir)
	case HostPathFileOrCreate:
		if _, err := os.Stat(v.Path); errors.Is(err, os.ErrNotExist) {
			f, err := os.OpenFile(v.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return classf(errdefs.ErrNotFound, "hostPath %q (type %s): parent directory %q does not exist; create it (FileOrCreate does not create parent directories, as in Kubernetes)", v.Path, t, filepath.Dir(v.Path))
				}
				return fmt.Errorf("hostPath %q (type %s): failed to create file: %w", v.Path, t, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("hostPath %q (type %s): failed to create file: %w", v.Path, t, err)
			}
		}
		return checkHostPathType(v.Path, t, "file", 0)
	case HostPathFile:
		return checkHostPathType(v.Path, t, "file", 0)
	case HostPathSocket:
		return checkHostPathType(v.Path, t, "socket", os.ModeSocket)
	case HostPathCharDevice:
		return checkHostPathType(v.Path, t, "character device", os.ModeDevice|os.ModeCharDevice)
	case HostPathBlockDevice:
		return checkHostPathType(v.Path, t, "block device", os.ModeDevice)
	default:
		return classf(errdefs.ErrInvalidArgument, "hostPath %q: unknown type %q; use \"\", Directory, DirectoryOrCreate, File, FileOrCreate, Socket, CharDevice or BlockDevice", v.Path, t)
	}
}

// checkHostPathType checks that path exists and that its type (symlinks
// followed) is want; 0 means a regular file.
func checkHostPathType(path, t, what string, want os.FileMode) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		hint := "create it"
		switch t {
		case HostPathDirectory:
			hint += " or use type DirectoryOrCreate"
		case HostPathFile:
			hint += " or use type FileOrCreate"
		}
		return classf(errdefs.ErrNotFound, "hostPath %q (type %s): no such %s; %s", path, t, what, hint)
	}
	if err != nil {
		return fmt.Errorf("hostPath %q (type %s): failed to inspect: %w", path, t, err)
	}
	got := fi.Mode().Type() &^ os.ModeSymlink
	if got == want {
		return nil
	}
	return classf(errdefs.ErrFailedPrecondition, "hostPath %q (type %s): is a %s, not a %s; fix the path or use type %s", path, t, describeType(got), what, typeFor(got))
}

func describeType(m os.FileMode) string {
	switch m {
	case 0:
		return "file"
	case os.ModeDir:
		return "directory"
	case os.ModeSocket:
		return "socket"
	case os.ModeDevice | os.ModeCharDevice:
		return "character device"
	case os.ModeDevice:
		return "block device"
	case os.ModeNamedPipe:
		return "named pipe"
	default:
		return "special file (" + m.String() + ")"
	}
}

// typeFor is the HostPathType that would accept a path of mode m.
func typeFor(m os.FileMode) string {
	switch m {
	case 0:
		return HostPathFile
	case os.ModeDir:
		return HostPathDirectory
	case os.ModeSocket:
		return HostPathSocket
	case os.ModeDevice | os.ModeCharDevice:
		return HostPathCharDevice
	case os.ModeDevice:
		return HostPathBlockDevice
	default:
		return `"" (no check)`
	}
}
