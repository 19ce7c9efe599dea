package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/minipod/minipod/internal/atomicfile"
)

// secretRunDir holds Secrets: /run is a tmpfs, so secret data never
// reaches the disk. They do not survive a host reboot, as on a node.
const secretRunDir = "/run/minipod/secrets"

// objectStore keeps ConfigMaps under <root>/objects and Secrets on tmpfs,
// one JSON file per object: <dir>/<kind>/<namespace>/<name>.json.
type objectStore struct {
	mu        sync.Mutex
	dir       string
	secretDir string
}

func sanitizeForPath(p string) string {
	return strings.Trim(strings.ReplaceAll(p, "/", "_"), "_")
}

func (s *objectStore) file(kind, ns, name string) string {
	base := s.dir
	if kind == "secrets" {
		base = s.secretDir
	}
	return filepath.Join(base, kind, ns, name+".json")
}

// checkName refuses names that could not be a Kubernetes object's and that
// would be unsafe as path components.
func checkName(kind, ns, name string) error {
	for _, v := range []string{ns, name} {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return fmt.Errorf("invalid %s name %q: %s: %w", strings.TrimSuffix(kind, "s"), v, strings.Join(errs, "; "), errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func (s *objectStore) create(kind, ns, name string, obj any) error {
	if err := checkName(kind, ns, name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.file(kind, ns, name)
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s %q already exists: %w", strings.TrimSuffix(kind, "s"), name, errdefs.ErrAlreadyExists)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	// Atomic: a write that fails (a full disk) leaves no object behind,
	// rather than an empty file that could never be read.
	return atomicfile.Write(p, b, 0o600)
}

func (s *objectStore) get(kind, ns, name string, obj any) error {
	if err := checkName(kind, ns, name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.file(kind, ns, name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %q not found: %w", strings.TrimSuffix(kind, "s"), name, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, obj)
}

func (s *objectStore) remove(kind, ns, name string) error {
	if err := checkName(kind, ns, name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := os.Remove(s.file(kind, ns, name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %q not found: %w", strings.TrimSuffix(kind, "s"), name, errdefs.ErrNotFound)
	}
	return err
}

// names lists the objects of a kind in a namespace, or in all when ns is "".
func (s *objectStore) names(kind, ns string) ([][2]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base := filepath.Dir(filepath.Dir(s.file(kind, "x", "x")))
	var nss []string
	if ns != "" {
		nss = []string{ns}
	} else {
		entries, err := os.ReadDir(base)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			nss = append(nss, e.Name())
		}
	}
	var out [][2]string
	for _, n := range nss {
		entries, err := os.ReadDir(filepath.Join(base, n))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				out = append(out, [2]string{n, strings.TrimSuffix(e.Name(), ".json")})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0]+"/"+out[i][1] < out[j][0]+"/"+out[j][1] })
	return out, nil
}

func stampMeta(m *metav1.ObjectMeta) {
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	m.UID = types.UID(uuid.NewString())
	m.CreationTimestamp = metav1.NewTime(time.Now())
	m.ResourceVersion = "1"
}

// CreateConfigMap stores a ConfigMap.
func (r *Runtime) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	cm = cm.DeepCopy()
	stampMeta(&cm.ObjectMeta)
	cm.APIVersion, cm.Kind = "v1", "ConfigMap"
	if err := r.objects.create("configmaps", cm.Namespace, cm.Name, cm); err != nil {
		return nil, err
	}
	return cm, nil
}

// GetConfigMap returns a stored ConfigMap.
func (r *Runtime) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	if err := r.objects.get("configmaps", namespace, name, &cm); err != nil {
		return nil, err
	}
	return &cm, nil
}

// ListConfigMaps lists ConfigMaps of a namespace, or of all when "".
func (r *Runtime) ListConfigMaps(ctx context.Context, namespace string) ([]corev1.ConfigMap, error) {
	names, err := r.objects.names("configmaps", namespace)
	if err != nil {
		return nil, err
	}
	var out []corev1.ConfigMap
	for _, n := range names {
		if cm, err := r.GetConfigMap(ctx, n[0], n[1]); err == nil {
			out = append(out, *cm)
		}
	}
	return out, nil
}

// DeleteConfigMap removes a ConfigMap.
func (r *Runtime) DeleteConfigMap(ctx context.Context, namespace, name string) error {
	return r.objects.remove("configmaps", namespace, name)
}

// CreateSecret stores a Secret on tmpfs.
func (r *Runtime) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	s = s.DeepCopy()
	stampMeta(&s.ObjectMeta)
	s.APIVersion, s.Kind = "v1", "Secret"
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	for k, v := range s.StringData {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if err := r.objects.create("secrets", s.Namespace, s.Name, s); err != nil {
		return nil, err
	}
	return s, nil
}

// GetSecret returns a stored Secret.
func (r *Runtime) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := r.objects.get("secrets", namespace, name, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSecrets lists Secrets of a namespace, or of all when "".
func (r *Runtime) ListSecrets(ctx context.Context, namespace string) ([]corev1.Secret, error) {
	names, err := r.objects.names("secrets", namespace)
	if err != nil {
		return nil, err
	}
	var out []corev1.Secret
	for _, n := range names {
		if s, err := r.GetSecret(ctx, n[0], n[1]); err == nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// DeleteSecret removes a Secret.
func (r *Runtime) DeleteSecret(ctx context.Context, namespace, name string) error {
	return r.objects.remove("secrets", namespace, name)
}
