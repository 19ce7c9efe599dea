package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// hostileWant is, for each file of testdata/hostile, what its error must
// say: the field (or the kind of damage) at fault.
var hostileWant = map[string]string{
	"apiversion-wrong.yaml":             `apiVersion: apiVersion "v2" kind "Pod" is not supported`,
	"binary-garbage.yaml":               "invalid YAML",
	"configmap-item-path-absolute.yaml": "spec.volumes[0].configMap.items[0].path",
	"configmap-item-path-dotdot.yaml":   "spec.volumes[0].configMap.items[0].path",
	"configmap-key-escape.yaml":         "data[../../../etc/evil]: invalid key",
	"container-name-slash.yaml":         "spec.containers[0].name",
	"containerport-zero.yaml":           "spec.containers[0].ports[0].containerPort",
	"duplicate-container.yaml":          "spec.containers[1].name: duplicate value",
	"duplicate-mountpath.yaml":          "volumeMounts[1].mountPath: duplicate value",
	"duplicate-pod-in-file.yaml":        "metadata.name: duplicate value",
	"duplicate-port-name.yaml":          "ports[1].name: duplicate value",
	"duplicate-volume.yaml":             "spec.volumes[1].name: duplicate value",
	"empty.yaml":                        "no objects found",
	"env-secret-missing.yaml":           "secretKeyRef.name: not found",
	"field-unknown-container.yaml":      `spec.containers[0]: unknown field "imagePullPolice"`,
	"field-unknown-spec.yaml":           `spec: unknown field "hostAliasez"`,
	"field-unknown-top.yaml":            `unknown field "sepc"`,
	"hostnetwork-not-bool.yaml":         "spec.hostNetwork: expected a boolean",
	"hostpath-relative.yaml":            "spec.volumes[0].hostPath.path",
	"hostpath-root.yaml":                "spec.volumes[0].hostPath.path",
	"hostpath-secrets-dir.yaml":         "spec.volumes[0].hostPath.path",
	"hostpid-not-bool.yaml":             "spec.hostPID: expected a boolean",
	"hostport-out-of-range.yaml":        "spec.containers[0].ports[0].hostPort",
	"image-empty.yaml":                  "spec.containers[0].image",
	"json-duplicate-key.json":           `duplicate field "name"`,
	"json-trailing-garbage.json":        "invalid JSON",
	"json-truncated.json":               "invalid JSON",
	"kind-missing.yaml":                 "kind: required value",
	"kind-unknown.yaml":                 `kind "Deployment" is not supported`,
	"label-invalid.yaml":                `metadata.labels["bad key!"]`,
	"name-dotdot.yaml":                  "metadata.name",
	"name-slash.yaml":                   "metadata.name",
	"name-too-long.yaml":                "metadata.name",
	"name-uppercase-nul.yaml":           "metadata.name",
	"namespace-escape.yaml":             "metadata.namespace",
	"no-containers.yaml":                "spec.containers: required value",
	"only-comments.yaml":                "no objects found",
	"privileged-not-bool.yaml":          "spec.containers[0].securityContext.privileged: expected a boolean",
	"resources-absurd-memory.yaml":      "spec.containers[0].resources.limits[memory]",
	"resources-garbage.yaml":            "spec.containers[0].resources.requests[memory]",
	"resources-negative-cpu.yaml":       "spec.containers[0].resources.limits[cpu]",
	"restartpolicy-bogus.yaml":          "spec.restartPolicy",
	"secret-item-path-dotdot.yaml":      "spec.volumes[0].secret.items[0].path",
	"secret-key-slash.yaml":             "data[a/../../b]: invalid key",
	"secret-mode-absurd.yaml":           "spec.volumes[0].secret.defaultMode",
	"sizelimit-negative.yaml":           "spec.volumes[0].emptyDir.sizeLimit",
	"subpath-absolute.yaml":             "volumeMounts[0].subPath",
	"subpath-dotdot.yaml":               "volumeMounts[0].subPath",
	"volume-name-slash.yaml":            "spec.volumes[0].name",
	"yaml-alias-bomb.yaml":              "excessive aliasing",
	"yaml-bad-indent.yaml":              "invalid YAML",
	"yaml-duplicate-key.yaml":           `key "name" already set`,
	"yaml-list-at-top.yaml":             "expected an object",
	"yaml-scalar.yaml":                  "expected an object",
	"yaml-tab-indent.yaml":              "invalid YAML",
	"yaml-unclosed-flow.yaml":           "invalid YAML",
}

// TestHostileInput runs every bad manifest through `minipod run` against
// a daemon: each must fail with an error naming what is wrong, and nothing
// may be created (no pod, ConfigMap or Secret, nothing on the host).
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	type hostile struct{ name, file, want string }
	var cases []hostile
	files, err := filepath.Glob("testdata/hostile/*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	seen := map[string]bool{}
	for _, f := range files {
		base := filepath.Base(f)
		want, ok := hostileWant[base]
		if !ok {
			t.Errorf("testdata/hostile/%s has no entry in hostileWant", base)
			continue
		}
		seen[base] = true
		abs, _ := filepath.Abs(f)
		cases = append(cases, hostile{base, abs, want})
	}
	for name := range hostileWant {
		if !seen[name] {
			t.Errorf("hostileWant names %s, which testdata/hostile lacks", name)
		}
	}

	// Generated: too big, too deep, and hostPaths onto the daemon's own
	// state root (exact, under, above, through a link).
	dir := t.TempDir()
	gen := func(name, content, want string) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, hostile{name, p, want})
	}
	big := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  annotations:\n    pad: \"" + strings.Repeat("x", 4<<20) + "\"\n"
	gen("oversized.yaml", big, "too large")
	gen("deep.json", strings.Repeat(`{"a":`, 5000)+"1"+strings.Repeat("}", 5000), "nest")
	gen("deep.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\n  annotations: "+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+"\n", "nest")
	hostPathPod := func(path string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
    volumeMounts: [{name: h, mountPath: /host}]
  volumes:
  - name: h
    hostPath: {path: %q}
`, path)
	}
	link := filepath.Join(dir, "to-state")
	if err := os.Symlink(e.root, link); err != nil {
		t.Fatal(err)
	}
	const stateWant = "would expose the minipod daemon's own state"
	gen("hostpath-state-root.yaml", hostPathPod(e.root), stateWant)
	gen("hostpath-under-state-root.yaml", hostPathPod(filepath.Join(e.root, "pods")), stateWant)
	gen("hostpath-above-state-root.yaml", hostPathPod(filepath.Dir(e.root)), stateWant)
	gen("hostpath-link-to-state-root.yaml", hostPathPod(filepath.Join(link, "logs")), stateWant)

	rejected := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := e.run("run", tc.file)
			if code == 0 {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(out+errs, tc.want) {
				t.Fatalf("the error does not say %q:\nstdout: %s\nstderr: %s", tc.want, out, errs)
			}
			if len(out+errs) > 4000 {
				t.Fatalf("the error is %d bytes long; it should say what is wrong, not echo the input", len(out+errs))
			}
			for _, kind := range []string{"pods", "configmaps", "secrets"} {
				if got, _, _ := e.run("get", kind, "-o", "name"); strings.TrimSpace(got) != "" {
					t.Fatalf("%s exist after a refused manifest: %q", kind, got)
				}
			}
			rejected++
		})
	}

	// The API itself refuses an oversized body, before decoding it.
	t.Run("api oversized body", func(t *testing.T) {
		c := http.Client{Transport: &http.Transport{DialContext: nil, Dial: func(_, _ string) (net.Conn, error) { return net.Dial("unix", e.socket) }}, Timeout: 30 * time.Second}
		resp, err := c.Post("http://minipod/api/v1/namespaces/default/pods", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), 5<<20)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		rejected++
	})
	total := len(cases) + 1

	// subPath through a link out of the volume, made by the pod itself.
	subPathCases := []struct{ name, manifest string }{
		{"subpath link made by an init container", `apiVersion: v1
kind: Pod
metadata: {name: escape-init}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: plant
    image: docker.io/library/busybox:1.36
    command: ["ln", "-s", "/", "/data/escape"]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
    volumeMounts: [{name: data, mountPath: /host-etc, subPath: escape/etc}]
  volumes:
  - name: data
    emptyDir: {}
`},
		{"subpath link planted in a hostPath", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: escape-host}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
    volumeMounts: [{name: h, mountPath: /host-root, subPath: escape}]
  volumes:
  - name: h
    hostPath: {path: %q, type: Directory}
`, plantedDir(t))},
	}
	for _, tc := range subPathCases {
		total++
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := e.run("run", e.writeFile("escape.yaml", tc.manifest))
			if code == 0 {
				t.Fatalf("a subPath through a link out of the volume ran:\n%s", out)
			}
			if !strings.Contains(out+errs, "leaves the volume through a symlink") {
				t.Fatalf("the error does not say the subPath leaves the volume:\nstdout: %s\nstderr: %s", out, errs)
			}
			if got, _, _ := e.run("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
				t.Fatalf("pods exist after a refused subPath: %q", got)
			}
			rejected++
		})
	}

	leaks := len(e.leaked())
	line := fmt.Sprintf("hostile: %d rejected of %d, leaks %d", rejected, total, leaks)
	t.Log(line)
	figure(line)
	if rejected != total || leaks != 0 || total < 40 {
		t.Error(line)
	}
}

// plantedDir is a directory holding a link "escape" to /.
func plantedDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.Symlink("/", filepath.Join(d, "escape")); err != nil {
		t.Fatal(err)
	}
	return d
}
