package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

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

// guardedPaths are the directories no hostPath may reach.
func (r *Runtime) guardedPaths() []string {
	return []string{r.cfg.Root, r.objects.secretDir, filepath.Dir(r.objects.secretDir), secretRunDir}
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
