package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPodRefersToExistingObjects checks that a pod may refer to a
// ConfigMap and a Secret created beforehand and held by the daemon, as on
// a cluster: `minipod run --dry-run` plans it with their data and `minipod
// run` runs it. Without a daemon to ask, the dry run refuses the reference
// and says that no daemon answered.
func TestPodRefersToExistingObjects(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: held-settings
data:
  mode: from-the-daemon
---
apiVersion: v1
kind: Secret
metadata:
  name: held-creds
stringData:
  token: s3cret
`)
	pod := e.writeFile("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: refers
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef:
          name: held-settings
          key: mode
    volumeMounts:
    - name: both
      mountPath: /both
  volumes:
  - name: both
    projected:
      sources:
      - configMap:
          name: held-settings
      - secret:
          name: held-creds
`)
	out := e.mustRun("run", "--dry-run", "-o", "json", pod)
	if !strings.Contains(out, "from-the-daemon") {
		t.Fatalf("the dry run's plan has no value from the daemon's ConfigMap:\n%s", out)
	}
	e.mustRun("run", pod)
	if got, _ := e.exec("refers", "app", "sh", "-c", `echo "$MODE $(cat /both/mode) $(cat /both/token)"`); strings.TrimSpace(got) != "from-the-daemon from-the-daemon s3cret" {
		t.Fatalf("the pod read %q", got)
	}
	e.mustRun("delete", "-f", pod)

	_, errs, code := e.run("--socket", filepath.Join(t.TempDir(), "none.sock"), "run", "--dry-run", pod)
	if code == 0 || !strings.Contains(errs, `spec.containers[0].env[0].valueFrom.configMapKeyRef.name: not found: configMap "held-settings"`) ||
		!strings.Contains(errs, "no daemon answered at") {
		t.Fatalf("a dry run without a daemon: exit %d\n%s", code, errs)
	}
}
