package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSubPathExpr checks that a volumeMount's subPathExpr is expanded with
// the container's environment, as a kubelet expands it: each container sees
// its own directory of a shared emptyDir, named after the pod and the
// container, and a container that mounts the whole volume sees both.
func TestSubPathExpr(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata:
  name: per-writer
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: writer
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo from $POD > /out/note; exec sleep 3600"]
    env:
    - name: POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: DIR
      value: $(POD)-writer
    volumeMounts:
    - name: shared
      mountPath: /out
      subPathExpr: $(DIR)
  - name: reader
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts:
    - name: shared
      mountPath: /all
  volumes:
  - name: shared
    emptyDir: {}
`)
	var got string
	eventually(t, 30*time.Second, "the writer's note in its own directory", func() bool {
		got, _ = e.exec("per-writer", "reader", "cat", "/all/per-writer-writer/note")
		return strings.TrimSpace(got) == "from per-writer"
	})
	if out, code := e.exec("per-writer", "writer", "ls", "/out"); code != 0 || strings.TrimSpace(out) != "note" {
		t.Fatalf("the writer's /out holds %q (exit %d), want only its note", out, code)
	}
}
