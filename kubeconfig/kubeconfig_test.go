package kubeconfig

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"
)

const userConfig = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
- name: minipod
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: prod
  context:
    cluster: prod
    user: admin
    namespace: shop
users:
- name: admin
  user:
    token: secret
current-context: prod
`

func TestMergeKeepsOtherEntries(t *testing.T) {
	add, err := Build("https://127.0.0.1:6443", []byte("CA"), "tok")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(userConfig), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := MergeFile(path, add, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var cfg struct {
		Clusters []struct {
			Name    string `json:"name"`
			Cluster struct {
				Server string `json:"server"`
			} `json:"cluster"`
		} `json:"clusters"`
		Contexts []struct {
			Name    string         `json:"name"`
			Context map[string]any `json:"context"`
		} `json:"contexts"`
		Users []struct {
			Name string `json:"name"`
		} `json:"users"`
		Current string `json:"current-context"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	servers := map[string]string{}
	for _, c := range cfg.Clusters {
		servers[c.Name] = c.Cluster.Server
	}
	if len(cfg.Clusters) != 2 || servers["prod"] != "https://prod.example:6443" || servers["minipod"] != "https://127.0.0.1:6443" {
		t.Fatalf("clusters: %+v", cfg.Clusters)
	}
	if len(cfg.Contexts) != 2 || cfg.Contexts[0].Name != "prod" || cfg.Contexts[0].Context["namespace"] != "shop" {
		t.Fatalf("contexts: %+v", cfg.Contexts)
	}
	if len(cfg.Users) != 2 || cfg.Current != Name {
		t.Fatalf("users %+v, current %q", cfg.Users, cfg.Current)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want the file's own 0640", fi.Mode().Perm())
	}
}

func TestMergeFileCreates(t *testing.T) {
	add, _ := Build("https://127.0.0.1:6443", []byte("CA"), "tok")
	path := filepath.Join(t.TempDir(), ".kube", "config")
	if err := MergeFile(path, add, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created %v %v", fi, err)
	}
}

func TestMergeRefusesBrokenConfig(t *testing.T) {
	add, _ := Build("https://127.0.0.1:6443", []byte("CA"), "tok")
	path := filepath.Join(t.TempDir(), "config")
	os.WriteFile(path, []byte("clusters: {a: 1}\n"), 0o600)
	if err := MergeFile(path, add, nil); err == nil {
		t.Fatal("a kubeconfig whose clusters is not a list was merged into")
	}
	if data, _ := os.ReadFile(path); string(data) != "clusters: {a: 1}\n" {
		t.Fatalf("the file was changed: %q", data)
	}
}

// A kubeconfig that root merges into stays its owner's, and one it creates
// for a sudo user is that user's.
func TestMergeFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	add, _ := Build("https://127.0.0.1:6443", []byte("CA"), "tok")
	dir := t.TempDir()
	existing := filepath.Join(dir, "config")
	os.WriteFile(existing, []byte(userConfig), 0o600)
	if err := os.Chown(existing, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := MergeFile(existing, add, nil); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(existing)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
		t.Fatalf("owner %d:%d after a merge, want 4321:4322", st.Uid, st.Gid)
	}
	created := filepath.Join(dir, "home", ".kube", "config")
	os.MkdirAll(filepath.Join(dir, "home"), 0o755)
	if err := MergeFile(created, add, &Owner{UID: 4321, GID: 4322}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{created, filepath.Dir(created)} {
		fi, _ := os.Stat(p)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
			t.Fatalf("%s: owner %d:%d, want 4321:4322", p, st.Uid, st.Gid)
		}
	}
}
