package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Mount is one volumeMount of a container.
type Mount struct {
	Volume        string // the volume's name
	ContainerPath string // absolute path in the container
	ReadOnly      bool
	SubPath       string // optional path inside the volume to mount instead of its root
}

// OCIMount returns the OCI bind mount that shows volume v at m.ContainerPath:
// type bind, options rbind, rprivate and ro or rw. A configMap or secret is
// always mounted read-only, as the kubelet does. For a hostPath of a file
// type the source is the file itself.
//
// With a SubPath the source is that path inside the volume, resolved safely:
// an absolute subPath or one with ".." is refused, and so is one that leaves
// the volume through a symlink (an absolute link, or a relative one climbing
// out), checked with openat2(RESOLVE_BENEATH) where the kernel has it and by
// a component-by-component Lstat walk where it does not. Links that stay
// inside the volume are followed, and the source is the resolved path. A
// missing subPath is created as a directory with the mode of the volume
// root, as the kubelet does. OCIMount checks at the time it is called: it
// does not guard against a container swapping a directory for a link
// between then and the container's start; the runtime uses MountAt and Pin,
// which do.
func OCIMount(v Volume, m Mount) (specs.Mount, error) {
	mnt, err := ociMount(v, m)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("failed to mount volume %q at %q: %w", m.Volume, m.ContainerPath, err)
	}
	return mnt, nil
}

func ociMount(v Volume, m Mount) (specs.Mount, error) {
	mnt, err := checkMount(v, m)
	if err != nil {
		return specs.Mount{}, err
	}
	if m.SubPath != "" {
		if mnt.Source, err = resolveSubPath(mnt.Source, m.SubPath); err != nil {
			return specs.Mount{}, err
		}
	}
	return mnt, nil
}

// checkMount checks m against v and returns the bind mount of v's root.
func checkMount(v Volume, m Mount) (specs.Mount, error) {
	if m.Volume != v.Name {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "the mount names volume %q but was given volume %q", m.Volume, v.Name)
	}
	if !filepath.IsAbs(m.ContainerPath) {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "mountPath %q must be absolute", m.ContainerPath)
	}
	if v.Path == "" || !filepath.IsAbs(v.Path) {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "volume host path %q must be absolute", v.Path)
	}
	if m.SubPath != "" {
		if _, err := cleanRelative(m.SubPath); err != nil {
			return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "subPath %q: %v", m.SubPath, err)
		}
	}
	ro := m.ReadOnly || v.Kind == ConfigMap || v.Kind == Secret
	mode := "rw"
	if ro {
		mode = "ro"
	}
	return specs.Mount{
		Destination: filepath.Clean(m.ContainerPath),
		Type:        "bind",
		Source:      filepath.Clean(v.Path),
		Options:     []string{"rbind", "rprivate", mode},
	}, nil
}

// errNoOpenat2 says the kernel (or a seccomp filter) does not offer
// openat2, and the portable walk must be used.
var errNoOpenat2 = errors.New("openat2 not available")

// maxLinks bounds symlink resolution, as the kernel's ELOOP does.
const maxLinks = 40

func escapeError(sub string) error {
	return classf(errdefs.ErrInvalidArgument, "subPath %q leaves the volume through a symlink; point the link inside the volume or use another subPath", sub)
}

// resolveSubPath returns the host path of sub inside root, creating it as a
// directory if it does not exist.
func resolveSubPath(root, sub string) (string, error) {
	rel, err := cleanRelative(sub)
	if err != nil {
		return "", classf(errdefs.ErrInvalidArgument, "subPath %q: %v", sub, err)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("failed to open volume path %q: %w", root, err)
	}
	defer unix.Close(rootFd)
	fd, err := openSubPath(rootFd, root, sub, rel)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return fdPath(fd)
}

// openSubPath opens rel (the cleaned form of sub) beneath the open volume
// root rootFd and returns a descriptor of it, creating what is missing as
// directories with the root's mode. It never leaves the volume: with
// openat2(RESOLVE_BENEATH) the kernel refuses any step out, atomically;
// where openat2 is missing, a walk opens one component at a time with
// O_NOFOLLOW from the descriptor of its parent and reads each link itself.
// Either way the descriptor is what was on disk at that moment: a caller
// that mounts it (Pin) cannot be raced by a link swapped in afterwards.
func openSubPath(rootFd int, root, sub, rel string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(rootFd, &st); err != nil {
		return -1, fmt.Errorf("failed to inspect volume path %q: %w", root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return -1, classf(errdefs.ErrInvalidArgument, "subPath %q needs a directory volume, but %q is not a directory", sub, root)
	}
	mode := os.FileMode(st.Mode & 0o777)
	fd, err := openOpenat2(rootFd, root, rel, mode)
	if errors.Is(err, errNoOpenat2) {
		fd, err = openWalk(rootFd, root, rel, mode)
	}
	return fd, err
}

func openBeneath(dirfd int, rel string, flags uint64) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, rel, &unix.OpenHow{
			Flags:   flags | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		return fd, err
	}
}

// fdPath is the path the kernel resolved fd to.
func fdPath(fd int) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("failed to resolve path of fd %d: %w", fd, err)
	}
	return p, nil
}

// resolveOpenat2 and resolveWalk resolve rel beneath root to a path, each
// with one of the two methods (the tests run both).
func resolveOpenat2(root, rel string, mode os.FileMode) (string, error) {
	return resolveWith(openOpenat2, root, rel, mode)
}

func resolveWalk(root, rel string, mode os.FileMode) (string, error) {
	return resolveWith(openWalk, root, rel, mode)
}

func resolveWith(open func(int, string, string, os.FileMode) (int, error), root, rel string, mode os.FileMode) (string, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("failed to open volume path %q: %w", root, err)
	}
	defer unix.Close(rootFd)
	fd, err := open(rootFd, root, rel, mode)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return fdPath(fd)
}

// openOpenat2 opens rel beneath rootFd with openat2(RESOLVE_BENEATH), which
// fails with EXDEV when any step (a "..", an absolute link, a relative link
// climbing out) would leave the root. Missing directories are created one
// at a time with mkdirat on a descriptor of their parent, so no link can
// redirect the creation.
func openOpenat2(rootFd int, root, rel string, mode os.FileMode) (int, error) {
	fd, err := openBeneath(rootFd, rel, unix.O_PATH)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.E2BIG):
		return -1, errNoOpenat2
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
		return -1, escapeError(rel)
	case !errors.Is(err, unix.ENOENT):
		return -1, fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
	}

	// Something is missing: walk the prefixes, creating what is absent.
	parent, err := unix.Dup(rootFd)
	if err != nil {
		return -1, fmt.Errorf("failed to resolve subPath %q: %w", rel, err)
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openBeneath(rootFd, prefix, unix.O_RDONLY|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			merr := unix.Mkdirat(parent, parts[i], uint32(mode))
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(parent)
				return -1, fmt.Errorf("failed to create subPath %q in %q: %w", prefix, root, merr)
			}
			fd, err = openBeneath(rootFd, prefix, unix.O_RDONLY|unix.O_DIRECTORY)
			if err == nil && merr == nil {
				if err = unix.Fchmod(fd, uint32(mode)); err != nil {
					unix.Close(fd)
				}
			}
		}
		if err != nil {
			unix.Close(parent)
		}
		switch {
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
			return -1, escapeError(rel)
		case errors.Is(err, unix.ENOTDIR):
			return -1, classf(errdefs.ErrInvalidArgument, "subPath %q: %q is not a directory, so nothing can be under it", rel, prefix)
		case errors.Is(err, unix.ENOENT):
			return -1, classf(errdefs.ErrNotFound, "subPath %q: %q is a link to nothing; fix or remove the link", rel, prefix)
		case err != nil:
			return -1, fmt.Errorf("failed to resolve subPath %q in %q: %w", prefix, root, err)
		}
		unix.Close(parent)
		parent = fd
	}
	return parent, nil
}

// openWalk is the resolution for kernels without openat2: it opens rel one
// component at a time with O_PATH|O_NOFOLLOW from the descriptor of the
// component before it, reads links itself, follows relative ones within
// the root, refuses absolute links and any step above the root, and
// creates what is missing as directories with mkdirat.
func openWalk(rootFd int, root, rel string, mode os.FileMode) (int, error) {
	first, err := unix.Dup(rootFd)
	if err != nil {
		return -1, fmt.Errorf("failed to resolve subPath %q: %w", rel, err)
	}
	stack := []int{first} // the root and each resolved directory below it
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	todo := strings.Split(rel, "/")
	// The last own entries of todo come from rel itself; the ones before
	// them from link targets. A link target that names something missing
	// is a dangling link, which the kernel would not create through either.
	own := len(todo)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		fromLink := len(todo) >= own
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 1 {
				return -1, escapeError(rel)
			}
			unix.Close(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			continue
		}
		dir := stack[len(stack)-1]
		fd, err := unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if fromLink {
				return -1, classf(errdefs.ErrNotFound, "subPath %q goes through a link to nothing; fix or remove the link", rel)
			}
			merr := unix.Mkdirat(dir, c, uint32(mode))
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				return -1, fmt.Errorf("failed to create subPath %q in %q: %w", rel, root, merr)
			}
			if merr == nil {
				if err := unix.Fchmodat(dir, c, uint32(mode), 0); err != nil {
					return -1, fmt.Errorf("failed to create subPath %q in %q: %w", rel, root, err)
				}
			}
			todo = append([]string{c}, todo...)
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			unix.Close(fd)
			if links++; links > maxLinks {
				return -1, classf(errdefs.ErrInvalidArgument, "subPath %q: too many levels of symbolic links", rel)
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(dir, c, buf)
			if err != nil {
				return -1, fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
			}
			t := string(buf[:n])
			if filepath.IsAbs(t) {
				return -1, escapeError(rel)
			}
			own = min(own, len(todo))
			todo = append(strings.Split(t, "/"), todo...)
			continue
		case unix.S_IFDIR:
		default:
			if len(todo) > 0 {
				unix.Close(fd)
				return -1, classf(errdefs.ErrInvalidArgument, "subPath %q: %q is not a directory, so nothing can be under it", rel, c)
			}
		}
		stack = append(stack, fd)
	}
	last := stack[len(stack)-1]
	stack = stack[:len(stack)-1]
	return last, nil
}
