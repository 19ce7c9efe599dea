// Command diagrams draws the pods of the examples into their READMEs, from
// the pod.yaml files themselves, so that a diagram cannot say something the
// pod is not. In a README, a diagram sits between two lines:
//
//	<!-- diagram: pod.yaml ../log-collector/pod.yaml -->
//	<!-- end of diagram -->
//
// naming the manifests (relative to the README) whose pods it draws, in
// that order. Run from the repository's root:
//
//	go run ./scripts/diagrams          # rewrites the READMEs' diagrams
//	go run ./scripts/diagrams -check   # fails, naming them, if any differs
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/manifest"
)

const (
	beginMark = "<!-- diagram: "
	endMark   = "<!-- end of diagram -->"
)

func main() {
	check := flag.Bool("check", false, "change nothing; fail if a README's diagram differs from what the pod.yaml files draw")
	flag.Parse()
	readmes, err := filepath.Glob("examples/*/README.md")
	if err != nil || len(readmes) == 0 {
		fmt.Fprintln(os.Stderr, "diagrams: no examples/*/README.md here; run from the repository's root")
		os.Exit(2)
	}
	stale := 0
	for _, f := range readmes {
		old, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		updated, err := updateReadme(f, string(old))
		if err != nil {
			fmt.Fprintf(os.Stderr, "diagrams: %s: %v\n", f, err)
			os.Exit(2)
		}
		if updated == string(old) {
			continue
		}
		stale++
		if *check {
			fmt.Fprintf(os.Stderr, "diagrams: %s: its diagram differs from what its pod.yaml draws: run go run ./scripts/diagrams\n", f)
			continue
		}
		if err := os.WriteFile(f, []byte(updated), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("diagrams: redrew %s\n", f)
	}
	if *check && stale > 0 {
		os.Exit(1)
	}
}

// updateReadme returns the README text with each diagram drawn anew.
func updateReadme(path, text string) (string, error) {
	var out strings.Builder
	rest := text
	found := false
	for {
		i := strings.Index(rest, beginMark)
		if i < 0 {
			break
		}
		found = true
		eol := strings.Index(rest[i:], "-->\n")
		if eol < 0 {
			return "", fmt.Errorf("a %q line without its -->", beginMark)
		}
		header := rest[i : i+eol+4]
		end := strings.Index(rest[i:], endMark)
		if end < 0 {
			return "", fmt.Errorf("a diagram without its %q line", endMark)
		}
		files := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(header, beginMark), "-->\n"))
		d, err := draw(filepath.Dir(path), files)
		if err != nil {
			return "", err
		}
		out.WriteString(rest[:i] + header + "\n" + d + "\n")
		rest = rest[i+end:]
	}
	if !found {
		return "", fmt.Errorf("no diagram: add %s<manifests> -->, a blank line and %s", beginMark, endMark)
	}
	out.WriteString(rest)
	return out.String(), nil
}

// draw reads the manifests as minipod run does and draws their pods.
func draw(dir string, files []string) (string, error) {
	if len(files) == 0 {
		return "", fmt.Errorf("a diagram names no manifest")
	}
	var pods []*corev1.Pod
	cms := map[string]*corev1.ConfigMap{}
	for _, f := range files {
		mf, err := manifest.ReadFile(filepath.Join(dir, f), nil)
		if err != nil {
			return "", err
		}
		pods = append(pods, mf.Pods...)
		for _, cm := range mf.ConfigMaps {
			cms[cm.Namespace+"/"+cm.Name] = cm
		}
	}
	var boxes []*podBox
	for _, p := range pods {
		boxes = append(boxes, newPodBox(p, cms))
	}
	return render(boxes), nil
}
