// Package volumes turns a pod's volumes into directories and tmpfs mounts on
// the host, and volume mounts into OCI bind mounts.
//
// The caller (the runtime's plan) chooses every host path: for emptyDir,
// configMap and secret volumes a directory under the pod directory,
// conventionally <podDir>/volumes/<kind>/<name>; for hostPath the user's own
// path. Setup materializes one volume, Teardown removes what Setup made and is
// idempotent, OCIMount says how a container sees it. The package never logs;
// every failure is returned as an error that names the volume and, where it
// can, says what to do.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// Kind is the kind of a pod volume, spelled as in the Pod spec.
type Kind string

// The volume kinds minipod supports.
const (
	EmptyDir  Kind = "emptyDir"
	HostPath  Kind = "hostPath"
	ConfigMap Kind = "configMap"
	Secret    Kind = "secret"
)

// Host path types of a hostPath volume, as in core/v1 HostPathType.
const (
	HostPathUnset             = ""
	HostPathDirectoryOrCreate = "DirectoryOrCreate"
	HostPathDirectory         = "Directory"
	HostPathFileOrCreate      = "FileOrCreate"
	HostPathFile              = "File"
	HostPathSocket            = "Socket"
	HostPathCharDevice        = "CharDevice"
	HostPathBlockDevice       = "BlockDevice"
)

// MediumMemory is the emptyDir medium backed by a tmpfs.
const MediumMemory = "Memory"

// File is one file of a configMap or secret volume, already projected by the
// caller (items, keys to paths, default and per-item modes).
type File struct {
	Path string // relative to the volume root, e.g. "conf/app.yaml"
	Data []byte
	Mode os.FileMode // permission bits, e.g. 0644; 0 means 0644
}

// Volume is one pod volume as the host sees it.
type Volume struct {
	Name string
	Kind Kind
	// Path is the host path: for emptyDir, configMap and secret a directory
	// this package creates and removes (the caller picks it, normally
	// <podDir>/volumes/<kind>/<name>); for hostPath the user's path, which
	// this package never removes.
	Path string
	// Medium of an emptyDir: "" (the disk under Path) or "Memory" (a tmpfs
	// mounted at Path).
	Medium string
	// SizeLimit in bytes, 0 for none. For a Memory emptyDir it becomes the
	// tmpfs size=. For a disk emptyDir it is not enforced: the kubelet does
	// not enforce it either, it evicts the pod when usage exceeds it, and
	// minipod has no eviction.
	SizeLimit int64
	// HostPathType of a hostPath: "" (no check), Directory,
	// DirectoryOrCreate, File, FileOrCreate, Socket, CharDevice, BlockDevice.
	HostPathType string
	// Files of a configMap or secret volume.
	Files []File
}

// Setup materializes v on the host:
//
//   - emptyDir: the directory Path, mode 0777; with Medium "Memory" a tmpfs
//     mounted at Path (mode=0777, size= from SizeLimit). Every container of
//     the pod bind-mounts that same host path, so they share it.
//   - hostPath: the type check of HostPathType, creating the directory (0755)
//     or empty file (0644) for the OrCreate types. As in Kubernetes,
//     FileOrCreate does not create missing parent directories.
//   - configMap: Files written under Path with the kubelet's atomic-writer
//     layout: the files go into a timestamped directory ..<time>.<n>, a
//     ..data link points to it, and each top-level name is a link
//     <name> -> ..data/<name>. Modes are set exactly, nested paths get 0755
//     directories, files are created O_EXCL|O_NOFOLLOW in a directory this
//     call just made, and a path that is absolute, has "..", or starts with
//     ".." is refused.
//   - secret: a tmpfs (mode=0755, size 4 MiB plus twice the data) mounted at
//     Path first, so secret data never touches a disk, then Files written
//     on it as for a configMap. A later Setup does not grow the tmpfs.
//
// Setup may be called again on a volume already set up: it converges (a
// configMap or secret gets its Files swapped in atomically). When it fails it
// undoes what this call created; Teardown is safe to call either way.
func Setup(ctx context.Context, v Volume) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failed to set up volume %q: %w", v.Name, err)
	}
	var err error
	switch v.Kind {
	case EmptyDir:
		err = setupEmptyDir(v)
	case HostPath:
		err = setupHostPath(v)
	case ConfigMap:
		err = setupFilesVolume(v, false)
	case Secret:
		err = setupFilesVolume(v, true)
	default:
		err = classf(errdefs.ErrInvalidArgument, "unknown volume kind %q; use emptyDir, hostPath, configMap or secret", v.Kind)
	}
	if err != nil {
		return fmt.Errorf("failed to set up volume %q: %w", v.Name, err)
	}
	return nil
}

// Teardown removes what Setup made: it unmounts every mount at or under
// Path (MNT_DETACH, deepest first) and removes the directory tree of an
// emptyDir, configMap or secret volume. A hostPath volume's data is never
// touched. Teardown of a volume that is half set up or already gone
// succeeds. It refuses to remove a tree that still has something mounted in
// it, so it never deletes through a mount. It does not stop for a cancelled
// ctx.
func Teardown(ctx context.Context, v Volume) error {
	_ = ctx // Teardown is local and bounded: it finishes even when ctx is done, so a rollback cannot be cut short.
	var err error
	switch v.Kind {
	case HostPath:
		return nil
	case EmptyDir, ConfigMap, Secret:
		err = removeManaged(v.Path)
	default:
		err = classf(errdefs.ErrInvalidArgument, "unknown volume kind %q", v.Kind)
	}
	if err != nil {
		return fmt.Errorf("failed to tear down volume %q: %w", v.Name, err)
	}
	return nil
}

// checkManagedPath refuses host paths this package must not create or
// remove: relative ones and the root.
func checkManagedPath(path string) error {
	if path == "" || !filepath.IsAbs(path) || filepath.Clean(path) == "/" {
		return classf(errdefs.ErrInvalidArgument, "host path %q must be an absolute directory below /", path)
	}
	return nil
}

// removeManaged unmounts everything at or under path and removes the tree.
func removeManaged(path string) error {
	if err := checkManagedPath(path); err != nil {
		return err
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unmountAll(path); err != nil {
		return err
	}
	// Never remove through a mount: that would delete someone else's data.
	left, err := MountsUnder(path)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return classf(errdefs.ErrFailedPrecondition, "%q still has %d mount(s) under it (first %q); unmount them and retry", path, len(left), left[0])
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("failed to remove %q: %w", path, err)
	}
	return nil
}

// classedError is an error whose message is its own and whose class (an
// errdefs error) is reachable with errors.Is, without ": not found" tacked
// onto a message already written for a person.
type classedError struct {
	msg   string
	class error
}

func (e *classedError) Error() string { return e.msg }
func (e *classedError) Unwrap() error { return e.class }

func classf(class error, format string, args ...any) error {
	return &classedError{msg: fmt.Sprintf(format, args...), class: class}
}
