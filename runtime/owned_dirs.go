package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/errdefs"
)

// minipod is told by flags about two directories it then owns: the state
// root (--root), whose pods/ and logs/ gc empties of what no pod claims,
// and the secret directory (--secret-dir), on which it mounts a tmpfs. It
// takes such a directory only when it is new, empty, or already minipod's
// own, marked by a file minipod wrote into it. A directory holding anything
// else is a user's: the daemon refuses it at start, naming the flag and the
// path, before it creates anything. minipod never mounts over, rewrites,
// moves or removes files it did not create.

const (
	// rootMarker marks a state root as minipod's.
	rootMarker = ".minipod-root"
	// secretMarker marks the tmpfs minipod mounted on its secret directory.
	secretMarker = ".minipod-secrets"
)

// legacyRootEntries are what a minipod from before rootMarker kept in its
// state root, each a directory or not. A root holding these and nothing
// else (pods/ among them) is taken as minipod's, so that an upgrade keeps
// its pods.
var legacyRootEntries = map[string]bool{"pods": true, "logs": true, "objects": true, "cni": true, "containerd": true, "seccomp": true, "kubeapi": true, "api-token": false}

// ownership is what minipod may do with a directory named by a flag.
type ownership int

const (
	dirAbsent ownership = iota // create it
	dirEmpty                   // take it
	dirOwned                   // minipod's own already
)

// inspectDir classifies dir for flag: absent, empty, or marked as
// minipod's by marker; anything else is refused. A link to a directory is
// judged by that directory.
func inspectDir(flag, dir, marker string) (ownership, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if li, lerr := os.Lstat(dir); lerr == nil {
			return 0, fmt.Errorf("%s %q is %s that leads nowhere: give a new or empty directory: %w", flag, dir, fileKind(li.Mode()), errdefs.ErrInvalidArgument)
		}
		return dirAbsent, checkCreatable(flag, dir)
	}
	if err != nil {
		return 0, fmt.Errorf("failed to inspect %s %q: %w", flag, dir, err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("%s %q is not a directory (%s): give a new or empty directory: %w", flag, dir, fileKind(fi.Mode()), errdefs.ErrInvalidArgument)
	}
	if m, err := os.Lstat(filepath.Join(dir, marker)); err == nil && m.Mode().IsRegular() {
		return dirOwned, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("failed to read %s %q: %w", flag, dir, err)
	}
	if len(entries) == 0 {
		return dirEmpty, nil
	}
	return 0, notOurs(flag, dir, marker, len(entries))
}

func notOurs(flag, dir, marker string, n int) error {
	return fmt.Errorf("%s %q is not empty (%d entries) and is not minipod's own (no %s in it): minipod never mounts over, rewrites or removes files it did not create; give a new or empty directory: %w",
		flag, dir, n, marker, errdefs.ErrInvalidArgument)
}

// checkCreatable fails when an existing ancestor of the absent dir is not
// a directory, so that the refusal comes before anything is created.
func checkCreatable(flag, dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s %q cannot be created: %q is not a directory: %w", flag, dir, p, errdefs.ErrInvalidArgument)
			}
			return nil
		}
		if !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) || p == filepath.Dir(p) {
			return fmt.Errorf("failed to inspect %s %q: %w", flag, dir, err)
		}
	}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	default:
		return "a " + m.Type().String() + " file"
	}
}

// inspectStateRoot is inspectDir for the state root, which also accepts a
// root left by a minipod from before rootMarker.
func inspectStateRoot(root string) (ownership, error) {
	st, err := inspectDir("--root", root, rootMarker)
	if err == nil || !errdefs.IsInvalidArgument(err) {
		return st, err
	}
	entries, rerr := os.ReadDir(root)
	if rerr != nil {
		return 0, err
	}
	pods := false
	for _, e := range entries {
		if isDir, ok := legacyRootEntries[e.Name()]; !ok || e.IsDir() != isDir || (!isDir && !e.Type().IsRegular()) {
			return 0, err
		}
		pods = pods || e.Name() == "pods"
	}
	if !pods {
		return 0, err
	}
	return dirOwned, nil
}

// PrepareStateRoot takes root as minipod's state root, as the runtime does
// at start, for what the daemon keeps there before the runtime starts (the
// API token). A root that is not new, empty or minipod's is refused.
func PrepareStateRoot(root string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("failed to resolve state root %q: %w", root, err)
	}
	_, err = prepareStateRoot(root)
	return err
}

// mkdirNew creates dir and its missing parents (mode perm) and returns an
// undo that removes exactly the directories it created, deepest first, as
// long as they are still empty.
func mkdirNew(dir string, perm fs.FileMode) (undo func(), err error) {
	var created []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		created = append(created, p)
	}
	undo = func() {
		for _, p := range created {
			_ = os.Remove(p) // fails, and keeps p, when p is not empty
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		undo()
		return nil, err
	}
	return undo, nil
}

// prepareStateRoot takes root for minipod (see inspectStateRoot) and
// creates its pods/ and logs/ directories. undo takes back what it made,
// for a daemon that fails to start after it: when root holds nothing else
// then, the marker and the directories it created go too.
func prepareStateRoot(root string) (undo func(), err error) {
	st, err := inspectStateRoot(root)
	if err != nil {
		return nil, err
	}
	undoRoot := func() {}
	if st == dirAbsent {
		if undoRoot, err = mkdirNew(root, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create state directory %q: %w", root, err)
		}
	}
	marker := filepath.Join(root, rootMarker)
	undo = func() {
		if st == dirOwned {
			return
		}
		for _, d := range []string{"pods", "logs"} {
			_ = os.Remove(filepath.Join(root, d)) // only when empty
		}
		if entries, err := os.ReadDir(root); err == nil && len(entries) == 1 && entries[0].Name() == rootMarker {
			_ = os.Remove(marker)
			undoRoot()
		}
	}
	if st != dirOwned || !exists(marker) {
		if err := os.WriteFile(marker, []byte("minipod state root: pod records, logs, CNI state; minipod gc removes what no pod claims here\n"), 0o600); err != nil {
			undo()
			return nil, fmt.Errorf("failed to mark state root %q as minipod's: %w", root, err)
		}
	}
	for _, d := range []string{filepath.Join(root, "pods"), filepath.Join(root, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			undo()
			return nil, fmt.Errorf("failed to create state directory %q: %w", d, err)
		}
	}
	return undo, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
