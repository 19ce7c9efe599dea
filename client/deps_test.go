package client_test

import (
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// goTool is the go command of the toolchain running the test.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(goruntime.GOROOT(), "bin", "go")
}

// TestClientDependencies: the client links the API's types, not the
// daemon or the pod runtime, and so no containerd code. (That it builds on
// every OS is the "go build off Linux" step of scripts/test.sh.)
func TestClientDependencies(t *testing.T) {
	out, err := exec.Command(goTool(t), "list", "-deps", "github.com/minipod/minipod/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/minipod/minipod/api":            true,
		"github.com/minipod/minipod/api/execstream": true,
		"github.com/minipod/minipod/client":         true,
		"github.com/minipod/minipod/manifest":       true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/containerd/containerd") {
			t.Errorf("the client links %s", pkg)
		}
		if strings.HasPrefix(pkg, "github.com/minipod/minipod/") && !allowed[pkg] {
			t.Errorf("the client imports %s; it may use only api (and manifest) of minipod's packages", pkg)
		}
	}
}
