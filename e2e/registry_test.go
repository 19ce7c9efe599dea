package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"

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

// TestImagePullBackOff: a pod whose image cannot be pulled is kept, as on
// a kubelet: minipod run exits non-zero saying why and what to try, the
// container waits with ErrImagePull, then ImagePullBackOff, with Pulling,
// Failed and BackOff events, and it starts by itself once the image is
// pushed to the registry, or loaded. Deleting a pod that still waits
// leaves nothing.
func TestImagePullBackOff(t *testing.T) {
	e := newEnv(t)
	testutilRequireTool(t, "docker-registry")
	testutilRequireTool(t, "skopeo")
	reg := startRegistry(t)
	podWith := func(name, image string) string {
		return e.writeFile(name+".yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: %s
    command: ["sleep", "3600"]
`, name, image))
	}
	waitingReason := func(name string) string {
		if w := containerStatus(e.pod(name), "c").State.Waiting; w != nil {
			return w.Reason
		}
		return ""
	}

	// Pushed after the pod was created.
	late := reg.addr + "/demo/late:1.0"
	out, errs, code := e.run("run", podWith("late", late))
	t.Logf("minipod run:\n%s%s", out, errs)
	if code == 0 {
		t.Fatalf("run succeeded without the image:\n%s%s", out, errs)
	}
	for _, want := range []string{`container "c" cannot start: ErrImagePull`, "minipod describe pod late", "minipod image load"} {
		if !strings.Contains(out+errs, want) {
			t.Fatalf("run's output lacks %q:\n%s%s", want, out, errs)
		}
	}
	p := e.pod("late")
	if p.Status.Phase != corev1.PodPending {
		t.Fatalf("phase %s, want Pending", p.Status.Phase)
	}
	eventually(t, 20*time.Second, "ImagePullBackOff", func() bool { return waitingReason("late") == "ImagePullBackOff" })
	eventually(t, 20*time.Second, "ErrImagePull again after the back-off", func() bool { return waitingReason("late") == "ErrImagePull" })
	desc := e.mustRun("describe", "pod", "late")
	for _, want := range []string{"Pulling", "Pulling image", "Failed to pull image", "Error: ErrImagePull", "BackOff", "Back-off pulling image", "Error: ImagePullBackOff"} {
		if !strings.Contains(desc, want) {
			t.Fatalf("describe lacks %q:\n%s", want, desc)
		}
	}
	copyToRegistry(t, suite.image, late)
	eventually(t, 30*time.Second, "late to run once its image is pushed", func() bool {
		p := e.pod("late")
		return p.Status.Phase == corev1.PodRunning && containerStatus(p, "c").State.Running != nil
	})
	if desc := e.mustRun("describe", "pod", "late"); !strings.Contains(desc, "Successfully pulled image") || !strings.Contains(desc, "Started") {
		t.Fatalf("describe after the pull:\n%s", desc)
	}

	// Loaded after the pod was created.
	loadme := reg.addr + "/demo/loadme:1.0"
	if _, _, code := e.run("run", podWith("loadme", loadme)); code == 0 {
		t.Fatal("run succeeded without the image")
	}
	archive := filepath.Join(t.TempDir(), "loadme.tar")
	if out, err := exec.Command("skopeo", "copy", "oci-archive:"+suite.image+":1.36", "docker-archive:"+archive+":"+loadme).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	e.mustRun("image", "load", archive)
	eventually(t, 30*time.Second, "loadme to run once its image is loaded", func() bool {
		p := e.pod("loadme")
		return p.Status.Phase == corev1.PodRunning && containerStatus(p, "c").State.Running != nil
	})

	// Deleted while it waits.
	if _, _, code := e.run("run", podWith("never-there", reg.addr+"/demo/absent:1.0")); code == 0 {
		t.Fatal("run succeeded without the image")
	}
	e.mustRun("delete", "pod", "late", "loadme", "never-there")
	if got, _, _ := e.run("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Fatalf("pods left: %q", got)
	}
	e.assertNoLeaks()
}
