package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minipod/minipod/internal/testutil"
)

// TestBenchSmoke runs the benchmark driver (scripts/bench) in smoke mode:
// one repetition of every case against minipod, podman and the floor, and
// 3 density pods. It times nothing that counts; it proves the benchmark
// still runs end to end and that minipod leaves nothing behind.
func TestBenchSmoke(t *testing.T) {
	requireSuite(t)
	podman, err := exec.LookPath("podman")
	testutil.Require(t, err == nil, "podman, the benchmark's peer (scripts/install.sh --test installs it)")
	t.Logf("podman: %s", podman)

	dir := t.TempDir()
	driver := filepath.Join(dir, "minipod-bench")
	build := exec.Command("go", "build", "-o", driver, "./scripts/bench")
	build.Dir = suite.repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("failed to build the benchmark driver: %v\n%s", err, out)
	}
	results := filepath.Join(dir, "results.json")
	// Names and subnets of its own (--id, --net), clear of a full
	// benchmark's (mpbb*, 10.233.240-245) and of the other tests'.
	cmd := exec.Command(driver, "--smoke", "--repo", suite.repo, "--minipod", suite.bin,
		"--image", suite.image, "--id", "smk", "--net", "224", "-o", results)
	cmd.Dir = suite.repo
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("benchmark smoke run took %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("benchmark smoke run failed: %v\n%s", err, out)
	}

	data, err := os.ReadFile(results)
	if err != nil {
		t.Fatalf("no results file: %v\n%s", err, out)
	}
	var r struct {
		Smoke  bool `json:"smoke"`
		Series []struct {
			Case     string    `json:"case"`
			System   string    `json:"system"`
			Seconds  []float64 `json:"seconds"`
			Failures []string  `json:"failures"`
		} `json:"series"`
		Density struct {
			Pods           int      `json:"pods"`
			CreateFailures []string `json:"createFailures"`
			RunningPods    int      `json:"runningPods"`
			Leaks          int      `json:"leaks"`
			LeakList       []string `json:"leakList"`
		} `json:"density"`
		GoBenchmarks []struct {
			Name string `json:"name"`
		} `json:"goBenchmarks"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("failed to decode the results: %v\n%s", err, data)
	}
	if !r.Smoke {
		t.Errorf("results do not say smoke: %s", data)
	}
	// A failed repetition is a benchmark result, not a broken benchmark:
	// it is logged here, and the runtime's own tests own the bug.
	systems := map[string]bool{}
	for _, s := range r.Series {
		systems[s.System] = true
		if len(s.Seconds)+len(s.Failures) != 1 {
			t.Errorf("%s, %s: %d timings and %d failures, want 1 in all", s.Case, s.System, len(s.Seconds), len(s.Failures))
		}
		for _, f := range s.Failures {
			t.Logf("%s, %s failed: %s", s.Case, s.System, f)
		}
	}
	for _, f := range r.Density.CreateFailures {
		t.Logf("density pod failed: %s", f)
	}
	for _, want := range []string{"minipod run", "podman kube play", "minipod delete", "podman kube down"} {
		if !systems[want] {
			t.Errorf("no timings of %q in the results", want)
		}
	}
	if r.Density.Pods != 3 || r.Density.RunningPods+len(r.Density.CreateFailures) != 3 {
		t.Errorf("density: %d of %d pods running and %d failed, want 3 in all", r.Density.RunningPods, r.Density.Pods, len(r.Density.CreateFailures))
	}
	if r.Density.Leaks != 0 {
		t.Errorf("minipod left %d things behind: %v", r.Density.Leaks, r.Density.LeakList)
	}
	if len(r.GoBenchmarks) == 0 {
		t.Errorf("no Go benchmark in the results")
	}
	if _, err := os.Stat(filepath.Join(dir, "results.md")); err != nil {
		t.Errorf("no markdown beside the results: %v", err)
	}
}
