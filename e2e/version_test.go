package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionCommit: a minipod built from a clone by the scripts
// (scripts/build-minipod.sh, which install.sh and bench.sh use) prints the
// commit it was built from, not "unknown".
func TestVersionCommit(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-c", "safe.directory="+repo, "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git clone, or no git: %v", err)
	}
	want := strings.TrimSpace(string(head))
	if exec.Command("git", "-c", "safe.directory="+repo, "-C", repo, "diff", "--quiet", "HEAD", "--").Run() != nil {
		want += "-dirty"
	}
	bin := filepath.Join(t.TempDir(), "minipod")
	if out, err := exec.Command("bash", filepath.Join(repo, "scripts/build-minipod.sh"), "-o", bin).CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-minipod.sh: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("minipod version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "commit: "+want+"\n") {
		t.Fatalf("minipod version printed:\n%s\nwant commit: %s", out, want)
	}
}

// TestSystemdUnitDocumentation: the files the unit names as its
// Documentation= are files scripts/install.sh installs.
func TestSystemdUnitDocumentation(t *testing.T) {
	unit, err := os.ReadFile("../scripts/minipod.service")
	if err != nil {
		t.Fatal(err)
	}
	install, err := os.ReadFile("../scripts/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(unit), "\n") {
		doc, ok := strings.CutPrefix(line, "Documentation=")
		if !ok {
			continue
		}
		for _, u := range strings.Fields(doc) {
			path, isFile := strings.CutPrefix(u, "file://")
			if !isFile {
				continue
			}
			found = true
			dir, name := filepath.Split(path)
			if !strings.Contains(string(install), "doc_dir="+strings.TrimSuffix(dir, "/")+"\n") ||
				!strings.Contains(string(install), `"$doc_dir/`+name+`"`) {
				t.Errorf("minipod.service names %s, which scripts/install.sh does not install", path)
			}
		}
	}
	if !found {
		t.Log("minipod.service names no local file as its documentation")
	}
}
