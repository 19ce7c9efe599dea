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
// between then and the container's start.
func OCIMount(v Volume, m Mount) (specs.Mount, error) {
	mnt, err := ociMount(v, m)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("failed to mount volume %q at %q: %w", m.Volume, m.ContainerPath, err)
	}
	return mnt, nil
}

func ociMount(v Volume, m Mount) (specs.Mount, error) {
	if m.Volume != v.Name {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "the mount names volume %q but was given volume %q", m.Volume, v.Name)
	}
	if !filepath.IsAbs(m.ContainerPath) {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "mountPath %q must be absolute", m.ContainerPath)
	}
	if v.Path == "" || !filepath.IsAbs(v.Path) {
		return specs.Mount{}, classf(errdefs.ErrInvalidArgument, "volume host path %q must be absolute", v.Path)
	}
	src := filepath.Clean(v.Path)
	if m.SubPath != "" {
		var err error
		if src, err = resolveSubPath(src, m.SubPath); err != nil {
			return specs.Mount{}, err
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
		Source:      src,
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
	fi, err := os.Stat(root)
	if err != nil {
		return "", fmt.Errorf("failed to inspect volume path %q: %w", root, err)
	}
	if !fi.IsDir() {
		return "", classf(errdefs.ErrInvalidArgument, "subPath %q needs a directory volume, but %q is not a directory", sub, root)
	}
	p, err := resolveOpenat2(root, rel, fi.Mode().Perm())
	if errors.Is(err, errNoOpenat2) {
		p, err = resolveWalk(root, rel, fi.Mode().Perm())
	}
	if err != nil {
		return "", err
	}
	return p, nil
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

// resolveOpenat2 resolves rel beneath root with openat2(RESOLVE_BENEATH),
// which fails with EXDEV when any step (a "..", an absolute link, a relative
// link climbing out) would leave root. Missing directories are created one
// at a time with mkdirat on a descriptor of their parent, so no link can
// redirect the creation.
func resolveOpenat2(root, rel string, mode os.FileMode) (string, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("failed to open volume path %q: %w", root, err)
	}
	defer unix.Close(rootFd)

	fd, err := openBeneath(rootFd, rel, unix.O_PATH)
	switch {
	case err == nil:
		defer unix.Close(fd)
		return fdPath(fd)
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.E2BIG):
		return "", errNoOpenat2
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
		return "", escapeError(rel)
	case !errors.Is(err, unix.ENOENT):
		return "", fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
	}

	// Something is missing: walk the prefixes, creating what is absent.
	parent, err := unix.Dup(rootFd)
	if err != nil {
		return "", fmt.Errorf("failed to resolve subPath %q: %w", rel, err)
	}
	defer func() { unix.Close(parent) }()
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openBeneath(rootFd, prefix, unix.O_RDONLY|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			merr := unix.Mkdirat(parent, parts[i], uint32(mode))
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				return "", fmt.Errorf("failed to create subPath %q in %q: %w", prefix, root, merr)
			}
			fd, err = openBeneath(rootFd, prefix, unix.O_RDONLY|unix.O_DIRECTORY)
			if err == nil && merr == nil {
				if err = unix.Fchmod(fd, uint32(mode)); err != nil {
					unix.Close(fd)
				}
			}
		}
		switch {
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
			return "", escapeError(rel)
		case errors.Is(err, unix.ENOTDIR):
			return "", classf(errdefs.ErrInvalidArgument, "subPath %q: %q is not a directory, so nothing can be under it", rel, prefix)
		case errors.Is(err, unix.ENOENT):
			return "", classf(errdefs.ErrNotFound, "subPath %q: %q is a link to nothing; fix or remove the link", rel, prefix)
		case err != nil:
			return "", fmt.Errorf("failed to resolve subPath %q in %q: %w", prefix, root, err)
		}
		unix.Close(parent)
		parent = fd
	}
	return fdPath(parent)
}

// resolveWalk is the portable resolution for kernels without openat2: it
// walks rel one component at a time with Lstat, follows relative links
// within root, refuses absolute links and any step above root, and creates
// what is missing as directories.
func resolveWalk(root, rel string, mode os.FileMode) (string, error) {
	var done []string // resolved components below root, none of them a link
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
			if len(done) == 0 {
				return "", escapeError(rel)
			}
			done = done[:len(done)-1]
			continue
		}
		p := filepath.Join(root, filepath.Join(done...), c)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			if fromLink {
				return "", classf(errdefs.ErrNotFound, "subPath %q goes through a link to nothing; fix or remove the link", rel)
			}
			return createWalk(root, rel, done, append([]string{c}, todo...), mode)
		}
		if err != nil {
			return "", fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
		}
		if fi.Mode().Type() == os.ModeSymlink {
			if links++; links > maxLinks {
				return "", classf(errdefs.ErrInvalidArgument, "subPath %q: too many levels of symbolic links", rel)
			}
			t, err := os.Readlink(p)
			if err != nil {
				return "", fmt.Errorf("failed to resolve subPath %q in %q: %w", rel, root, err)
			}
			if filepath.IsAbs(t) {
				return "", escapeError(rel)
			}
			own = min(own, len(todo))
			todo = append(strings.Split(t, "/"), todo...)
			continue
		}
		if !fi.IsDir() && len(todo) > 0 {
			return "", classf(errdefs.ErrInvalidArgument, "subPath %q: %q is not a directory, so nothing can be under it", rel, filepath.Join(append(done, c)...))
		}
		done = append(done, c)
	}
	return filepath.Join(root, filepath.Join(done...)), nil
}

// createWalk creates the missing components below root/done.
func createWalk(root, rel string, done, missing []string, mode os.FileMode) (string, error) {
	cur := filepath.Join(root, filepath.Join(done...))
	for _, c := range missing {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", classf(errdefs.ErrNotFound, "subPath %q goes through a link to a missing directory; fix the link", rel)
		}
		cur = filepath.Join(cur, c)
		if err := os.Mkdir(cur, mode); err != nil {
			return "", fmt.Errorf("failed to create subPath %q in %q: %w", rel, root, err)
		}
		if err := os.Chmod(cur, mode); err != nil {
			return "", fmt.Errorf("failed to create subPath %q in %q: %w", rel, root, err)
		}
	}
	return cur, nil
}
