package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestObjectStore(t *testing.T) {
	root := t.TempDir()
	s := &objectStore{dir: filepath.Join(root, "objects"), secretDir: filepath.Join(root, "run-secrets")}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}, Data: map[string][]byte{"pw": []byte("s3cret")}}

	if err := s.create("configmaps", "default", "app", cm); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	if err := s.create("secrets", "default", "app", sec); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	if err := s.create("configmaps", "team-a", "other", cm); err != nil {
		t.Fatal(err)
	}
	if err := s.create("configmaps", "default", "zeta", cm); err != nil {
		t.Fatal(err)
	}

	// Secrets live under secretDir only; configMaps under dir.
	if _, err := os.Stat(filepath.Join(s.secretDir, "secrets", "default", "app.json")); err != nil {
		t.Errorf("secret not under the secret directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "secrets")); !os.IsNotExist(err) {
		t.Errorf("secrets written under the object directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(s.secretDir, "secrets", "default", "app.json")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}

	var gotCM corev1.ConfigMap
	if err := s.get("configmaps", "default", "app", &gotCM); err != nil {
		t.Fatalf("get: %v", err)
	}
	if !reflect.DeepEqual(gotCM.Data, cm.Data) || gotCM.Name != "app" {
		t.Errorf("get = %+v, want %+v", gotCM, cm)
	}
	var gotSec corev1.Secret
	if err := s.get("secrets", "default", "app", &gotSec); err != nil || string(gotSec.Data["pw"]) != "s3cret" {
		t.Errorf("get secret = %+v, %v", gotSec, err)
	}

	tests := []struct {
		name  string
		err   error
		class error
		words string
	}{
		{"create twice", s.create("configmaps", "default", "app", cm), errdefs.ErrAlreadyExists, `configmap "app" already exists`},
		{"create secret twice", s.create("secrets", "default", "app", sec), errdefs.ErrAlreadyExists, `secret "app" already exists`},
		{"get absent", s.get("configmaps", "default", "nope", &gotCM), errdefs.ErrNotFound, `configmap "nope" not found`},
		{"get in another namespace", s.get("configmaps", "team-a", "app", &gotCM), errdefs.ErrNotFound, "not found"},
		{"remove absent", s.remove("secrets", "default", "nope"), errdefs.ErrNotFound, `secret "nope" not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.class) {
				t.Errorf("error %v is not %v", tc.err, tc.class)
			}
			if tc.err != nil && !strings.Contains(tc.err.Error(), tc.words) {
				t.Errorf("error %q does not say %q", tc.err, tc.words)
			}
		})
	}

	if err := s.remove("configmaps", "default", "app"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := s.get("configmaps", "default", "app", &gotCM); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("get after remove = %v, want not found", err)
	}
	if err := s.remove("configmaps", "default", "app"); !errdefs.IsNotFound(err) {
		t.Errorf("second remove = %v, want not found", err)
	}
	// After remove the name is free again.
	if err := s.create("configmaps", "default", "app", cm); err != nil {
		t.Errorf("create after remove: %v", err)
	}
}

// names lists what create stored, by namespace and name, sorted; ListConfigMaps
// and ListSecrets are built on it.
func TestObjectStoreNames(t *testing.T) {
	root := t.TempDir()
	s := &objectStore{dir: filepath.Join(root, "objects"), secretDir: filepath.Join(root, "run-secrets")}
	cm := &corev1.ConfigMap{Data: map[string]string{"k": "v"}}
	for _, o := range [][3]string{{"configmaps", "team-a", "other"}, {"configmaps", "default", "zeta"}, {"configmaps", "default", "app"}, {"secrets", "default", "app"}} {
		if err := s.create(o[0], o[1], o[2], cm); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.names("configmaps", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"default", "app"}, {"default", "zeta"}, {"team-a", "other"}}; !reflect.DeepEqual(names, want) {
		t.Errorf("names(all) = %v, want %v", names, want)
	}
	if names, _ := s.names("configmaps", "team-a"); !reflect.DeepEqual(names, [][2]string{{"team-a", "other"}}) {
		t.Errorf("names(team-a) = %v", names)
	}
	if names, err := s.names("configmaps", "empty-ns"); err != nil || len(names) != 0 {
		t.Errorf("names of an empty namespace = %v, %v", names, err)
	}
	if names, _ := s.names("secrets", ""); !reflect.DeepEqual(names, [][2]string{{"default", "app"}}) {
		t.Errorf("names(secrets) = %v", names)
	}

}

func TestObjectStoreEmpty(t *testing.T) {
	root := t.TempDir()
	s := &objectStore{dir: filepath.Join(root, "absent"), secretDir: filepath.Join(root, "absent-too")}
	for _, kind := range []string{"configmaps", "secrets"} {
		if names, err := s.names(kind, ""); err != nil || len(names) != 0 {
			t.Errorf("names(%s) of an empty store = %v, %v", kind, names, err)
		}
	}
}
