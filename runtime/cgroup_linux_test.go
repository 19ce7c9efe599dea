package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOOMKilledIn(t *testing.T) {
	const path = "/minipod/podx/c1"
	write := func(t *testing.T, root, rel, content string) {
		t.Helper()
		f := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, file, content string
		want                bool
	}{
		{"v2 killed", path + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", true},
		{"v2 not killed", path + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", false},
		{"v1 killed", "memory" + path + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", true},
		{"v1 not killed", "memory" + path + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", false},
		{"no memory controller", path + "/cpu.max", "max 100000\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tt.file, tt.content)
			if got := oomKilledIn(root, path); got != tt.want {
				t.Errorf("oomKilledIn = %v, want %v", got, tt.want)
			}
		})
	}
}

// setCgroup writes the values where each cgroup version keeps them; on v2
// it first makes the controllers available to the cgroup, as the kernel
// requires. The hierarchies here are plain directories shaped as
// /sys/fs/cgroup is; the real effect is in the e2e tests.
func TestSetCgroup(t *testing.T) {
	r := ResourcesPlan{CPUShares: 358, CPUQuota: 75000, CPUPeriod: 100000, MemoryLimit: 96 << 20, PidsLimit: 4096}
	read := func(t *testing.T, p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("v1", func(t *testing.T) {
		root := t.TempDir()
		for _, c := range []string{"cpu", "memory", "pids"} {
			if err := os.Mkdir(filepath.Join(root, c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := setCgroup(root, "/minipod/burstable/podx", false, r); err != nil {
			t.Fatal(err)
		}
		for f, want := range map[string]string{
			"cpu/minipod/burstable/podx/cpu.shares":               "358",
			"cpu/minipod/burstable/podx/cpu.cfs_period_us":        "100000",
			"cpu/minipod/burstable/podx/cpu.cfs_quota_us":         "75000",
			"memory/minipod/burstable/podx/memory.limit_in_bytes": "100663296",
			"pids/minipod/burstable/podx/pids.max":                "4096",
		} {
			if got := read(t, filepath.Join(root, f)); got != want {
				t.Errorf("%s = %q, want %q", f, got, want)
			}
		}
	})
	t.Run("v2", func(t *testing.T) {
		root := t.TempDir()
		for dir, controllers := range map[string]string{"": "cpuset cpu io memory pids", "minipod": "cpu memory pids", "minipod/burstable": "cpu memory pids"} {
			if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, dir, "cgroup.controllers"), []byte(controllers+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !isCgroupV2(root) {
			t.Fatal("a root with cgroup.controllers is not taken for cgroup v2")
		}
		if err := setCgroup(root, "/minipod/burstable/podx", true, r); err != nil {
			t.Fatal(err)
		}
		for f, want := range map[string]string{
			"cgroup.subtree_control":                   "+cpu +memory +pids",
			"minipod/cgroup.subtree_control":           "+cpu +memory +pids",
			"minipod/burstable/cgroup.subtree_control": "+cpu +memory +pids",
			"minipod/burstable/podx/pids.max":          "4096",
			"minipod/burstable/podx/cpu.weight":        "14",
			"minipod/burstable/podx/cpu.max":           "75000 100000",
			"minipod/burstable/podx/memory.max":        "100663296",
		} {
			if got := read(t, filepath.Join(root, f)); got != want {
				t.Errorf("%s = %q, want %q", f, got, want)
			}
		}
	})
}
