package runtime

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/plan"
)

// ErrCreateContainerConfig is the class of a container the kubelet would
// leave in CreateContainerConfigError: its configuration cannot be honoured.
var ErrCreateContainerConfig = fmt.Errorf("CreateContainerConfigError: %w", errdefs.ErrFailedPrecondition)

// securitySpecOpts turns a container's SecurityPlan and ResourcesPlan into
// OCI spec options. They run after the image's config has set the user.
//
// seccompDir holds the Localhost seccomp profiles (<root>/seccomp).
func securitySpecOpts(cp *ContainerPlan, seccompDir string) ([]oci.SpecOpts, error) {
	s := cp.Security
	var opts []oci.SpecOpts
	if s.RunAsNonRoot {
		if err := checkNonRoot(cp.Name, s.RunAsUser, cp.ImageUser); err != nil {
			return nil, err
		}
	}
	// The user, its primary group and its supplementary groups, exactly as
	// the kubelet with containerd's CRI plugin sets them: the primary gid,
	// the user's memberships in the image's /etc/group, supplementalGroups
	// and fsGroup; never root's group unless one of these names it.
	user, member := s.User, s.GroupsOf
	opts = append(opts, oci.WithUser(user), func(ctx context.Context, c oci.Client, ctr *containers.Container, spec *oci.Spec) error {
		primary := spec.Process.User.AdditionalGids
		if err := oci.WithAdditionalGIDs(member)(ctx, c, ctr, spec); err != nil {
			return fmt.Errorf("failed to read the groups of user %q in the image: %w", member, err)
		}
		spec.Process.User.AdditionalGids = plan.MergeGroups(append(primary, spec.Process.User.AdditionalGids...), s.SupplementalGroups)
		return nil
	})
	if s.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	if !s.AllCapabilities {
		// The planned sets, exactly.
		opts = append(opts, oci.WithCapabilities(s.Capabilities))
	} else {
		// Every capability the kernel knows (privileged, or capAdd ALL),
		// which only the host can list, then the pod's drops and adds.
		if slices.Contains(s.CapDrop, "ALL") {
			opts = append(opts, oci.WithCapabilities(nil))
		} else if len(s.CapDrop) > 0 {
			opts = append(opts, oci.WithDroppedCapabilities(s.CapDrop))
		}
		if slices.Contains(s.CapAdd, "ALL") {
			opts = append(opts, oci.WithAllKnownCapabilities)
		} else if len(s.CapAdd) > 0 {
			opts = append(opts, oci.WithAddedCapabilities(s.CapAdd))
		}
	}
	if s.ReadOnlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	// containerd's default spec sets no_new_privs; the plan says
	// whether it stays (allowPrivilegeEscalation: false), as a kubelet.
	opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, spec *oci.Spec) error {
		spec.Process.NoNewPrivileges = s.NoNewPrivileges
		return nil
	})
	if len(s.Sysctls) > 0 {
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, spec *oci.Spec) error {
			if spec.Linux.Sysctl == nil {
				spec.Linux.Sysctl = map[string]string{}
			}
			for k, v := range s.Sysctls {
				spec.Linux.Sysctl[k] = v
			}
			return nil
		})
	}
	// Last: the default profile allows what the capabilities above allow.
	switch s.Seccomp {
	case string(corev1.SeccompProfileTypeRuntimeDefault), "":
		opts = append(opts, seccomp.WithDefaultProfile())
	case string(corev1.SeccompProfileTypeLocalhost):
		path, err := localhostProfile(seccompDir, s.SeccompProfile)
		if err != nil {
			return nil, fmt.Errorf("container %q: %w: %w", cp.Name, err, ErrCreateContainerConfig)
		}
		opts = append(opts, seccomp.WithProfile(path))
	}
	r := cp.Resources
	if r.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(r.MemoryLimit)))
	}
	if r.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(r.CPUQuota, r.CPUPeriod))
	}
	if r.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(r.CPUShares))
	}
	return opts, nil
}

// checkNonRoot refuses a container that would run as root under
// runAsNonRoot, with the kubelet's words.
func checkNonRoot(name string, runAsUser *int64, imageUser string) error {
	if runAsUser != nil {
		if *runAsUser == 0 {
			return fmt.Errorf("container %q: container's runAsUser breaks non-root policy: %w", name, ErrCreateContainerConfig)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		return fmt.Errorf("container %q: container has runAsNonRoot and image will run as root: %w", name, ErrCreateContainerConfig)
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return fmt.Errorf("container %q: container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root: %w", name, user, ErrCreateContainerConfig)
	}
	if uid == 0 {
		return fmt.Errorf("container %q: container has runAsNonRoot and image will run as root: %w", name, ErrCreateContainerConfig)
	}
	return nil
}

// localhostProfile is the file of a Localhost seccomp profile: a relative
// path under seccompDir that stays beneath it and names a regular file.
func localhostProfile(seccompDir, profile string) (string, error) {
	if seccompDir == "" {
		return "", fmt.Errorf("no seccomp profile directory")
	}
	clean := filepath.Clean(profile)
	if profile == "" || filepath.IsAbs(profile) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("seccomp profile %q: must be a relative path beneath %s", profile, seccompDir)
	}
	path := filepath.Join(seccompDir, clean)
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("failed to read seccomp profile %q (put it in %s): %w", profile, seccompDir, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("seccomp profile %s is not a file", path)
	}
	return path, nil
}

// applyFSGroup gives a volume to the pod's fsGroup, as the kubelet does:
// group-owned, group read-write, directories setgid so that new files
// inherit the group.
func applyFSGroup(root string, gid int64) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return fmt.Errorf("failed to give %q to fsGroup %d: %w", p, gid, err)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() | 0o060
		if d.IsDir() {
			mode |= 0o010 | os.ModeSetgid
		}
		return os.Chmod(p, mode)
	})
}
