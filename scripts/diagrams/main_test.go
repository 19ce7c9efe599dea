package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEDiagrams fails when an example's README lacks its diagram or
// shows one that differs from what its pod.yaml files draw (go run
// ./scripts/diagrams redraws them).
func TestREADMEDiagrams(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*/pod.yaml")
	if err != nil || len(dirs) < 6 {
		t.Fatalf("examples: %v (%v)", dirs, err)
	}
	for _, pod := range dirs {
		f := filepath.Join(filepath.Dir(pod), "README.md")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !strings.Contains(string(b), beginMark+"pod.yaml") {
			t.Errorf("%s: no diagram of its pod.yaml (%spod.yaml ... -->)", f, beginMark)
		}
		got, err := updateReadme(f, string(b))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got != string(b) {
			t.Errorf("%s: its diagram differs from what its manifests draw; run go run ./scripts/diagrams and look at the change:\n%s", f, firstDiff(string(b), got))
		}
	}
}

// firstDiff shows the first line that differs, and the next few.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			end := func(l []string) []string { return l[min(i, len(l)):min(i+5, len(l))] }
			return "README:\n" + strings.Join(end(al), "\n") + "\ndrawn:\n" + strings.Join(end(bl), "\n")
		}
	}
	return ""
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		in   string
		w, n int
		want []string
	}{
		{"a b c", 3, 2, []string{"a b", "c"}},
		{"--access-log=/var/log/webapp/access.log", 20, 3, []string{"--access-log=/var/", "log/webapp/", "access.log"}},
		{"one two three four", 7, 2, []string{"one two", "three…"}},
		{"abcdefgh", 4, 1, []string{"abc…"}},
	} {
		if got := wrap(c.in, c.w, c.n); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", c.in, c.w, c.n, got, c.want)
		}
	}
}

// TestCanvasJoins: lines that meet or cross join, and text hides lines.
func TestCanvasJoins(t *testing.T) {
	c := newCanvas()
	c.box(0, 0, 5, 3, "")
	c.vline(2, 0, 4)
	c.hline(4, 6, 1)
	c.write(6, 1, ">")
	want := "┌─┬─┐\n│ │ ├─>\n└─┼─┘\n  │\n  │\n"
	if got := c.String(""); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// TestDrawsWhatTheManifestSays: each container, port, probe and mount of
// the file is in the drawing, read-only mounts say so, a name another
// container reaches through a ConfigMap gets an arrow to the port of the
// pod it names, and localhost gets an arrow to the neighbour listening.
func TestDrawsWhatTheManifestSays(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: target}
data: {TO: "db:5432"}
---
apiVersion: v1
kind: Pod
metadata: {name: front}
spec:
  containers:
  - name: web
    image: example.test/web:1
    args: ["--backend=localhost:7000"]
    ports: [{containerPort: 80, name: http}]
    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 3}
    volumeMounts: [{name: data, mountPath: /data}]
  - name: proxy
    image: example.test/proxy:1
    args: ["--listen=localhost:7000"]
    envFrom: [{configMapRef: {name: target}}]
    volumeMounts: [{name: data, mountPath: /ro, readOnly: true}]
  volumes: [{name: data, emptyDir: {}}]
`)
	write("b.yaml", `apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers:
  - name: db
    image: example.test/db:1
    ports: [{containerPort: 5432}]
`)
	d, err := draw(dir, []string{"a.yaml", "b.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(d, "\n")
	has := func(what string, ok func(string) bool) {
		t.Helper()
		for _, l := range lines {
			if ok(l) {
				return
			}
		}
		t.Errorf("the drawing has no %s:\n%s", what, d)
	}
	for _, s := range []string{`pod "front"`, `pod "db"`, `container "web"`, `container "proxy"`, `container "db"`,
		"example.test/web:1", "port 80/TCP (http)", "port 5432/TCP", "alive when :80 accepts TCP (3s)",
		`/data: volume "data"`, `/ro: volume "data", read-only`, `volume "data"`, "listens on localhost:7000",
		"env from ConfigMap target", "to db:5432 ($TO)", "to localhost:7000"} {
		s := s
		has(s, func(l string) bool { return strings.Contains(l, s) })
	}
	has("read-write line from web and read-only line from proxy", func(l string) bool {
		return strings.Contains(l, "│ read-write") && strings.Contains(l, "│ read-only")
	})
	has("localhost arrow from web to proxy", func(l string) bool {
		return strings.Contains(l, "to localhost:7000") && strings.Contains(l, "├─────>│")
	})
	has("arrow leaving proxy for db", func(l string) bool {
		return strings.Contains(l, "to db:5432 ($TO)") && strings.HasSuffix(l, "┼──┐")
	})
	has("arrow reaching db's port", func(l string) bool {
		return strings.Contains(l, "port 5432/TCP") && strings.Contains(l, "│<──") && strings.HasSuffix(l, "┼──┘")
	})
}
