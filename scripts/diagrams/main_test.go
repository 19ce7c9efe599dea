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
