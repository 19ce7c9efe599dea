package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
)

// Listen listens on the unix socket socketPath for the API. It creates the
// socket's parent directory (0755) if needed, removes a stale socket that
// nothing answers on (and refuses to take over one that answers), and makes
// the socket mode 0660, owned by root and group (root when group is "").
// Anything at socketPath that is not a socket is a user's file: it is
// refused, never removed.
func Listen(socketPath string, group string) (net.Listener, error) {
	stale := false
	if fi, err := os.Lstat(socketPath); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("failed to listen on --socket %q: it exists and is not a socket; minipod removes only a stale socket there, never another file: give another path: %w", socketPath, errdefs.ErrInvalidArgument)
		}
		c, err := net.DialTimeout("unix", socketPath, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("failed to listen on %q: another minipod daemon answers there: %w", socketPath, errdefs.ErrAlreadyExists)
		}
		stale = true
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		return nil, fmt.Errorf("failed to create the socket directory of %q: %w", socketPath, err)
	}
	if stale {
		if err := os.Remove(socketPath); err != nil {
			return nil, fmt.Errorf("failed to remove the stale socket %q: %w", socketPath, err)
		}
	}
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %q: %w", socketPath, err)
	}
	if err := os.Chmod(socketPath, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("failed to set the mode of socket %q: %w", socketPath, err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(socketPath, 0, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("failed to give socket %q to group %q: %w", socketPath, group, err)
		}
	} else if group != "" && gid != os.Getegid() {
		l.Close()
		return nil, fmt.Errorf("failed to give socket %q to group %q: only root can: %w", socketPath, group, errdefs.ErrPermissionDenied)
	}
	return l, nil
}

// lookupGroup returns the gid of a group name or number; "" is root (0).
func lookupGroup(group string) (int, error) {
	if group == "" {
		return 0, nil
	}
	if gid, err := strconv.Atoi(group); err == nil {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return 0, fmt.Errorf("failed to look up socket group %q: no such group: %w", group, errdefs.ErrNotFound)
		}
		return 0, fmt.Errorf("failed to look up socket group %q: %w", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("failed to look up socket group %q: gid %q is not a number", group, g.Gid)
	}
	return gid, nil
}
