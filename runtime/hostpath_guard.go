package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// A hostPath volume may not reach the daemon's own state: its state root
// (pod records, volumes, logs, CNI state, the embedded containerd) and the
// tmpfs that holds Secrets. A pod that mounted it could read every other
// pod's secrets and records, or rewrite them. Refused are the guarded
// directories themselves, anything under them, and any directory above
// them (a hostPath "/" or "/var" would expose them too). Links are
// resolved first, so a link pointing into the state root is refused as well.

// The check runs twice: on the manifest's text when a pod is created, for
// a clear early error, and on what is actually there at every container
// start (volumes.Pin, on the open descriptor that is then mounted), so a
// path an init container replaced by a link, or a bind mount of the state
// made on the host, is refused too.

// guardedPaths are the directories no hostPath may reach: the state root,
// the Secrets, the pinned network namespaces and containerd's own
// directories (its plugins' roots, as containerd reports them).
func (r *Runtime) guardedPaths() []string {
	netnsDir := r.cfg.NetNSDir
	if netnsDir == "" {
		netnsDir = DefaultNetNSDir
	}
	out := []string{r.cfg.Root, r.objects.secretDir, secretRunDir, netnsDir}
	return append(out, r.containerdDirs...)
}

// containerdRoots asks containerd where its plugins keep their data
// (content, snapshots, metadata): the "root" each plugin exports.
func (r *Runtime) containerdRoots(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := r.client.IntrospectionService().Plugins(ctx)
	if err != nil {
		r.log.Warn("failed to ask containerd where it keeps its data; hostPath volumes are checked against minipod's own directories only", "err", err)
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range resp.Plugins {
		if root := p.Exports["root"]; filepath.IsAbs(root) && !seen[root] {
			seen[root] = true
			out = append(out, root)
		}
	}
	return out
}

// checkHostPaths refuses hostPath volumes that reach the daemon's state.
func (r *Runtime) checkHostPaths(pod *corev1.Pod) error {
	var errs []error
	for i, v := range pod.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		field := fmt.Sprintf("spec.volumes[%d].hostPath.path", i)
		p := resolveExisting(filepath.Clean(v.HostPath.Path))
		for _, g := range r.guardedPaths() {
			g = resolveExisting(g)
			if within(p, g) || within(g, p) {
				errs = append(errs, fmt.Errorf("%s: %q would expose the minipod daemon's own state (%s) to the pod; minipod refuses hostPath volumes on, under or above its state root and secrets directory: %w",
					field, v.HostPath.Path, g, errdefs.ErrInvalidArgument))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// resolveExisting resolves the links of the longest existing prefix of p
// and appends the rest unchanged.
func resolveExisting(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return p
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
