package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestContainerdDownIsShown kills containerd under a running pod: the pod
// keeps running under its shim, and while containerd does not answer
// `minipod get pods` and `kubectl get pods` still show what the daemon knows
// and warn that containerd is unreachable and the statuses are as last
// known, and the Node is NotReady ("container runtime is down"), as with a
// kubelet whose runtime is down. Once containerd is back, the warnings go
// and the Node is Ready again.
func TestContainerdDownIsShown(t *testing.T) {
	dir := privateContainerd(t)
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: Pod
metadata:
  name: steady
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	k := e.kubectl("newest")
	const warning = "is unreachable"

	killContainerd(t, dir)
	restarted := false
	defer func() {
		if !restarted {
			startContainerd(t, dir)
		}
	}()
	eventually(t, 30*time.Second, "minipod get pods to warn that containerd is unreachable", func() bool {
		out, errs, code := e.run("get", "pods")
		return code == 0 && regexp.MustCompile(`(?m)^steady\s+1/1\s+Running`).MatchString(out) &&
			strings.Contains(errs, "Warning: containerd at ") && strings.Contains(errs, warning) &&
			strings.Contains(errs, "the pods' statuses are as last known")
	})
	var last string
	eventually(t, 30*time.Second, "kubectl get pods to warn that containerd is unreachable", func() bool {
		out, errs, code := k.run("", "get", "pods")
		last = out + errs
		return code == 0 && strings.Contains(out, "steady") && strings.Contains(errs, "Warning: containerd at ") && strings.Contains(errs, warning)
	})
	t.Logf("kubectl get pods while containerd is down:\n%s", last)
	eventually(t, 30*time.Second, "the Node to be NotReady", func() bool {
		out, _, code := k.run("", "get", "nodes")
		return code == 0 && regexp.MustCompile(`\sNotReady\s`).MatchString(out)
	})
	if out := k.must("get", "nodes", "-o", "jsonpath={.items[0].status.conditions[0].message}"); !strings.HasPrefix(out, "container runtime is down: containerd at ") {
		t.Fatalf("the Node's Ready condition says %q", out)
	}

	startContainerd(t, dir)
	restarted = true
	eventually(t, 60*time.Second, "the warning to go once containerd is back", func() bool {
		out, errs, code := e.run("get", "pods")
		return code == 0 && strings.Contains(out, "steady") && !strings.Contains(errs, warning)
	})
	eventually(t, 30*time.Second, "the Node to be Ready again", func() bool {
		out, _, code := k.run("", "get", "nodes")
		return code == 0 && regexp.MustCompile(`\sReady\s`).MatchString(out)
	})
}
