package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

// TestGC loses a running pod's record (as a corrupted disk or a bug
// would), so that everything of the pod is a leftover: containers, network
// namespace, IP reservation, mounts, pod and log directories. `minipod gc
// --dry-run` lists them, `minipod gc` removes them, a live pod is left
// alone, and the leak checker reads zero.
func TestGC(t *testing.T) {
	e := newEnv(t)
	e.apply(survivorPod)
	e.apply(strings.Replace(podA, "pod-a", "keeper", 1))
	uid := string(e.pod("survivor").UID)
	e.stop()
	if err := os.Remove(filepath.Join(e.root, "pods", uid, "pod.json")); err != nil {
		t.Fatal(err)
	}
	e.start()
	if out, _, code := e.run("get", "pod", "survivor"); code == 0 {
		t.Fatalf("the pod without a record is listed:\n%s", out)
	}

	out := e.mustRun("gc", "--dry-run")
	kinds := []string{"container", "netns", "ip reservation", "mount", "pod dir", "log dir"}
	for _, k := range kinds {
		if !strings.Contains(out, k) {
			t.Errorf("gc --dry-run lists no %s:\n%s", k, out)
		}
	}
	if strings.Contains(out, "keeper") {
		t.Errorf("gc --dry-run lists the live pod:\n%s", out)
	}
	found := strings.Count(out, "would remove")
	if len(e.leaked()) == 0 {
		t.Fatal("a dry run removed something")
	}

	out = e.mustRun("gc")
	removed := strings.Count(out, "removed")
	if removed != found {
		t.Errorf("gc removed %d of %d leftovers:\n%s", removed, found, out)
	}
	if out := e.mustRun("gc", "--dry-run"); !strings.Contains(out, "no leftovers") {
		t.Errorf("leftovers after gc:\n%s", out)
	}
	// The live pod runs on.
	e.podWorks(t, "keeper", "client")
	e.mustRun("delete", "pod", "keeper", "--now")
	left := e.leaked()
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	leaks := len(left)

	// Without a daemon, gc says so.
	e.stop()
	_, errs, code := e.run("gc")
	if code == 0 || !strings.Contains(strings.ToLower(errs), "daemon") {
		t.Errorf("gc without a daemon: exit %d:\n%s", code, errs)
	}
	e.start()

	line := fmt.Sprintf("gc: %d leftovers found, %d removed, live pods untouched, leaks %d", found, removed, leaks)
	t.Log(line)
	figure(line)
	if found == 0 || removed != found || leaks != 0 {
		t.Error(line)
	}
}

// TestDoctor: this host (CI's) has everything; a missing piece is named
// with its fix and a non-zero exit; with a daemon running, the containerd
// checked is the daemon's.
func TestDoctor(t *testing.T) {
	requireSuite(t)
	e := &env{t: t}
	nodaemon := filepath.Join(t.TempDir(), "nodaemon.sock")
	out, errs, code := e.run("doctor", "--socket", nodaemon, "--containerd-address", suite.containerd)
	if code != 0 || !strings.Contains(out, "this host can run minipod") || !strings.Contains(out, "warn  daemon       no minipod daemon answers at "+nodaemon) {
		t.Fatalf("doctor on the CI host: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = e.run("doctor", "--socket", nodaemon, "--cni-plugin-dir", t.TempDir(), "--containerd-address", filepath.Join(t.TempDir(), "none.sock"))
	if code == 0 || !strings.Contains(out, "FAIL  CNI plugins") || !strings.Contains(out, "FAIL  containerd") || !strings.Contains(out, "fix: ") {
		t.Fatalf("doctor with nothing: exit %d\n%s", code, out)
	}
	// A daemon runs: doctor reports it, and the containerd it uses.
	d := newEnv(t)
	out, errs, code = d.run("doctor")
	if code != 0 || !strings.Contains(out, "ok    daemon       answers at "+d.socket) ||
		!strings.Contains(out, "ok    containerd   the daemon uses containerd ") || !strings.Contains(out, " at "+suite.containerd+" (") {
		t.Fatalf("doctor with a daemon: exit %d\n%s%s", code, out, errs)
	}
	figure("doctor: host ready, missing pieces named with their fix")
}

// TestGCKeepsForeignSnapshots: gc removes an active snapshot minipod made
// for a container (labelled with its pod's UID) that no container uses,
// and leaves another tool's snapshot in the same containerd namespace.
func TestGCKeepsForeignSnapshots(t *testing.T) {
	e := newEnv(t)
	ctx := namespaces.WithNamespace(context.Background(), e.ns)
	c, err := containerd.New(suite.containerd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // after the removals below
	sn := c.SnapshotService("overlayfs")
	const foreign, ours = "someone-elses-work", "0badc0ffee00-app"
	// gc.root keeps containerd's own garbage collector off them.
	root := map[string]string{"containerd.io/gc.root": "true"}
	if _, err := sn.Prepare(ctx, foreign, "", snapshots.WithLabels(root)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sn.Remove(ctx, foreign) })
	if _, err := sn.Prepare(ctx, ours, "", snapshots.WithLabels(map[string]string{"containerd.io/gc.root": "true", "minipod.dev/pod-uid": "0badc0ff-ee00-4000-8000-000000000000"})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sn.Remove(ctx, ours) })

	out := e.mustRun("gc")
	if !strings.Contains(out, ours) {
		t.Errorf("gc did not remove minipod's stale snapshot %s:\n%s", ours, out)
	}
	if strings.Contains(out, foreign) {
		t.Errorf("gc touched another tool's snapshot %s:\n%s", foreign, out)
	}
	if _, err := sn.Stat(ctx, foreign); err != nil {
		t.Errorf("another tool's snapshot is gone: %v", err)
	}
	if _, err := sn.Stat(ctx, ours); err == nil {
		t.Errorf("minipod's stale snapshot %s is still there", ours)
	}
}
