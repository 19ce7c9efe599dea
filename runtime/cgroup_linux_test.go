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
