package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/minipod/minipod/internal/testutil"
)

func testutilRequireTool(t *testing.T, name string) {
	t.Helper()
	_, err := exec.LookPath(name)
	testutil.Require(t, err == nil, name+" on PATH (scripts/install.sh --test installs it)")
}

// testRegistry is a docker-registry of one test's own.
type testRegistry struct {
	addr string // 127.0.0.1:port
	dir  string // data, pid file and log
}

// manifestRequests counts the requests for repo's manifest by tag in the
// registry's access log: one per resolution of the tag, that is one per
// pull.
func (r testRegistry) manifestRequests(t *testing.T, repo, tag string) int {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(r.dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(log), fmt.Sprintf(" /v2/%s/manifests/%s HTTP/", repo, tag))
}

// startRegistry starts Debian's docker-registry on a free 127.0.0.1 port
// for this test, and stops it (by pid) at the end.
func startRegistry(t *testing.T) testRegistry {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	script := filepath.Join(suite.repo, "scripts/testenv.sh")
	if out, err := exec.Command("bash", script, "start-registry", dir, fmt.Sprint(port)).CombinedOutput(); err != nil {
		t.Fatalf("failed to start the registry: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop-registry", dir).CombinedOutput(); err != nil {
			t.Errorf("failed to stop the registry: %v\n%s", err, out)
		}
	})
	return testRegistry{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
}

// copyToRegistry pushes an OCI archive to the test registry with skopeo.
func copyToRegistry(t *testing.T, archive, ref string) {
	t.Helper()
	out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci-archive:"+archive+":1.36", "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
}

func deleteLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		_ = netlink.LinkDel(l)
	}
}
