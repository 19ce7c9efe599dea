package e2e

import (
	"slices"
	"strings"
	"testing"
)

// TestCompletion checks that shell completion, as bash, zsh and fish ask
// for it (`minipod __complete ...`), offers the daemon's pod names where a
// command takes a pod, the pod's containers for -c, ConfigMap names after
// the kind, and get's output formats.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: complete-cfg
data:
  k: v
---
apiVersion: v1
kind: Pod
metadata:
  name: complete-me
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: docker.io/library/busybox:1.36
    command: ["true"]
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
  - name: helper
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`)
	complete := func(args ...string) []string {
		t.Helper()
		out := e.mustRun(append([]string{"__complete"}, args...)...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"logs", ""}, []string{"complete-me"}},
		{[]string{"logs", "complete-"}, []string{"complete-me"}},
		{[]string{"logs", "nomatch"}, nil},
		{[]string{"exec", "complete-me", "-c", ""}, []string{"app", "helper", "setup"}},
		{[]string{"logs", "complete-me", "-c", "h"}, []string{"helper"}},
		{[]string{"describe", "pod", ""}, []string{"complete-me"}},
		{[]string{"delete", "pod", ""}, []string{"complete-me"}},
		{[]string{"get", "configmaps", ""}, []string{"complete-cfg"}},
		{[]string{"get", "pods", "complete-me", ""}, nil},
		{[]string{"get", "pods", "-o", ""}, []string{"json", "name", "wide", "yaml"}},
		{[]string{"events", ""}, []string{"complete-me"}},
		{[]string{"logs", "-n", "elsewhere", ""}, nil},
	} {
		got := complete(c.args...)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("minipod __complete %q offered %q, want %q", c.args, got, c.want)
		}
	}
}
