// Package kubeconfig writes the kubeconfig through which kubectl reaches
// minipod's Kubernetes API, and merges it into a user's kubeconfig file
// without touching the clusters, users and contexts already there.
package kubeconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"sigs.k8s.io/yaml"
)

// Name is the name of the cluster, user and context minipod adds.
const Name = "minipod"

// Build returns a kubeconfig whose one context, Name, reaches server
// (https://HOST:PORT) trusting caPEM and presenting token.
func Build(server string, caPEM []byte, token string) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": Name, "cluster": map[string]any{
			"server":                     server,
			"certificate-authority-data": base64.StdEncoding.EncodeToString(caPEM),
		}}},
		"users": []any{map[string]any{"name": Name, "user": map[string]any{
			"token": token,
		}}},
		"contexts": []any{map[string]any{"name": Name, "context": map[string]any{
			"cluster": Name,
			"user":    Name,
		}}},
		"current-context": Name,
		"preferences":     map[string]any{},
	}
	return yaml.Marshal(cfg)
}

// sections are the named lists of a kubeconfig.
var sections = []string{"clusters", "users", "contexts"}

// Merge returns existing with the entries of add (a kubeconfig from Build)
// in place of any of the same name, and add's current context made
// current. Every other entry and field of existing is kept.
func Merge(existing, add []byte) ([]byte, error) {
	var dst, src map[string]any
	if err := yaml.Unmarshal(existing, &dst); err != nil {
		return nil, fmt.Errorf("failed to parse the existing kubeconfig: %w", err)
	}
	if err := yaml.Unmarshal(add, &src); err != nil {
		return nil, fmt.Errorf("failed to parse minipod's kubeconfig: %w", err)
	}
	if dst == nil {
		dst = map[string]any{}
	}
	if _, ok := dst["apiVersion"]; !ok {
		dst["apiVersion"] = "v1"
	}
	if _, ok := dst["kind"]; !ok {
		dst["kind"] = "Config"
	}
	for _, sec := range sections {
		var list []any
		if v, ok := dst[sec]; ok && v != nil {
			l, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("failed to merge into the existing kubeconfig: %q is not a list", sec)
			}
			list = l
		}
		added, _ := src[sec].([]any)
		names := map[string]bool{}
		for _, e := range added {
			if m, ok := e.(map[string]any); ok {
				names[fmt.Sprint(m["name"])] = true
			}
		}
		kept := make([]any, 0, len(list)+len(added))
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && names[fmt.Sprint(m["name"])] {
				continue
			}
			kept = append(kept, e)
		}
		dst[sec] = append(kept, added...)
	}
	if cur, ok := src["current-context"]; ok {
		dst["current-context"] = cur
	}
	return yaml.Marshal(dst)
}

// Owner is who a kubeconfig file that MergeFile creates belongs to.
type Owner struct {
	UID, GID int
}

// DefaultPath is the kubeconfig file kubectl writes to: the first file of
// $KUBECONFIG, else ~/.kube/config. Under sudo (root, with $SUDO_UID) and
// without $KUBECONFIG, it is the invoking user's ~/.kube/config, and owner
// is that user, so that `sudo minipod kubeconfig --merge` serves the user
// who typed it; otherwise owner is nil.
func DefaultPath() (string, *Owner, error) {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				return p, nil, nil
			}
		}
	}
	if os.Geteuid() == 0 && os.Getenv("SUDO_UID") != "" {
		uid, uerr := strconv.Atoi(os.Getenv("SUDO_UID"))
		gid, gerr := strconv.Atoi(os.Getenv("SUDO_GID"))
		if uerr == nil && gerr == nil && uid != 0 {
			u, err := user.LookupId(strconv.Itoa(uid))
			if err != nil {
				return "", nil, fmt.Errorf("failed to find the home of user %d (from sudo): %w", uid, err)
			}
			return filepath.Join(u.HomeDir, ".kube", "config"), &Owner{UID: uid, GID: gid}, nil
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil, fmt.Errorf("failed to find the kubeconfig: no home directory: %w", err)
	}
	return filepath.Join(home, ".kube", "config"), nil, nil
}

// MergeFile merges add into the kubeconfig file at path, creating it (0600,
// and its directory 0700, owned by owner when not nil) if it does not
// exist. The file is replaced whole, keeping its mode and owner, so that a
// reader never sees half of it.
func MergeFile(path string, add []byte, owner *Owner) error {
	existing, err := os.ReadFile(path)
	mode := os.FileMode(0o600)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
			}
		}
	case errors.Is(err, os.ErrNotExist):
		dir := filepath.Dir(path)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("failed to create the directory of %q: %w", path, err)
			}
			if owner != nil {
				if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
					return fmt.Errorf("failed to give %q to uid %d: %w", dir, owner.UID, err)
				}
			}
		}
	default:
		return fmt.Errorf("failed to read kubeconfig %q: %w", path, err)
	}
	merged, err := Merge(existing, add)
	if err != nil {
		return fmt.Errorf("failed to merge into kubeconfig %q: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".minipod-")
	if err != nil {
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(merged); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	if owner != nil && (owner.UID != os.Geteuid() || owner.GID != os.Getegid()) {
		if err := tmp.Chown(owner.UID, owner.GID); err != nil {
			tmp.Close()
			return fmt.Errorf("failed to give kubeconfig %q to uid %d: %w", path, owner.UID, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	return nil
}
