package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// results is what a run writes: the machine, the settings, every timing,
// the density case, the Go benchmark and the targets.
type results struct {
	Date        string        `json:"date"`
	Machine     machine       `json:"machine"`
	Reps        int           `json:"reps"`
	Smoke       bool          `json:"smoke"`
	Series      []*series     `json:"series"`
	Density     densityResult `json:"density"`
	GoBench     []goBenchmark `json:"goBenchmarks"`
	Targets     []target      `json:"targets"`
	DurationSec float64       `json:"durationSeconds"`
}

type machine struct {
	CPUs    int    `json:"cpus"`
	OS      string `json:"os"`
	Kernel  string `json:"kernel"`
	MemGiB  int    `json:"memGiB"`
	Minipod string `json:"minipod"`
	Podman  string `json:"podman,omitempty"`
}

type goBenchmark struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
}

// target is one of the goals, as measured.
type target struct {
	Name     string  `json:"name"`
	Measured string  `json:"measured"`
	Limit    string  `json:"limit"`
	Value    float64 `json:"value"`
	Met      bool    `json:"met"`
	Known    bool    `json:"known"` // false when a system it compares with did not run
}

func (b *bench) results() *results {
	r := &results{
		Date:        b.started.UTC().Format(time.RFC3339),
		Machine:     describeMachine(b.cfg),
		Reps:        b.cfg.reps,
		Smoke:       b.cfg.smoke,
		Series:      b.series,
		Density:     b.density,
		GoBench:     b.gobench,
		DurationSec: time.Since(b.started).Seconds(),
	}
	ratio := func(c, num, den string) (float64, bool) {
		n, d := r.median(c, num), r.median(c, den)
		if n == 0 || d == 0 {
			return 0, false
		}
		return n / d, true
	}
	addRatio := func(name, c, num, den string, limit float64) {
		v, ok := ratio(c, num, den)
		r.Targets = append(r.Targets, target{Name: name, Measured: fmt.Sprintf("%.2f×", v), Limit: fmt.Sprintf("≤ %.1f×", limit), Value: v, Met: ok && v <= limit, Known: ok})
	}
	addRatio("3-container pod start vs podman kube play", "start, 3 containers", sysMinipodRun, sysPodmanPlay, 0.6)
	addRatio("3-container pod start vs the floor", "start, 3 containers", sysMinipodRun, sysFloor, 1.5)
	addRatio("delete of a SIGTERM-respecting pod vs podman kube down", "delete, 3 containers exiting on SIGTERM", sysMinipodDelete, sysPodmanDown, 0.5)
	failed := 0
	for _, s := range b.series {
		if s.System == sysMinipodRun || s.System == sysMinipodDelete {
			failed += len(s.Failures)
		}
	}
	d := b.density
	r.Targets = append(r.Targets,
		target{Name: "minipod repetitions that failed", Measured: strconv.Itoa(failed), Limit: "0", Value: float64(failed), Met: failed == 0, Known: true},
		target{Name: fmt.Sprintf("%d × 2 pods all Running", d.Pods), Measured: fmt.Sprintf("%d of %d", d.RunningPods, d.Pods), Limit: "all", Value: float64(d.RunningPods), Met: d.Pods > 0 && d.RunningPods == d.Pods, Known: true},
		target{Name: "daemon RSS with them running", Measured: fmt.Sprintf("%.1f MiB", d.DaemonRSSMiB), Limit: "≤ 80 MiB", Value: d.DaemonRSSMiB, Met: d.DaemonRSSMiB > 0 && d.DaemonRSSMiB <= maxDaemonRSSMiB, Known: true},
		target{Name: "left behind after deleting them all", Measured: strconv.Itoa(d.Leaks), Limit: "0", Value: float64(d.Leaks), Met: d.Leaks == 0, Known: true},
	)
	return r
}

func (r *results) find(c, system string) *series {
	for _, s := range r.Series {
		if s.Case == c && s.System == system {
			return s
		}
	}
	return nil
}

func (r *results) median(c, system string) float64 {
	if s := r.find(c, system); s != nil {
		return median(s.Seconds)
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// markdown is the table the run prints and the README quotes.
func (r *results) markdown() string {
	var w strings.Builder
	m := r.Machine
	fmt.Fprintf(&w, "## minipod benchmark, %s\n\n", r.Date)
	fmt.Fprintf(&w, "Machine: %d cores, %d GiB, %s, kernel %s. %s; %s.\n", m.CPUs, m.MemGiB, m.OS, m.Kernel, m.Minipod, orNone(m.Podman, "podman not run"))
	fmt.Fprintf(&w, "%d repetitions per case and system, systems interleaved; busybox image present everywhere; times in seconds.", r.Reps)
	if r.Smoke {
		w.WriteString(" **Smoke run: not a measurement.**")
	}
	w.WriteString("\n\n")

	cases := []string{}
	seen := map[string]bool{}
	for _, s := range r.Series {
		if !seen[s.Case] {
			seen[s.Case] = true
			cases = append(cases, s.Case)
		}
	}
	w.WriteString("| case | system | median | min–max | minipod ÷ this | failed |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, c := range cases {
		var mine float64
		for _, s := range r.Series {
			if s.Case == c && (s.System == sysMinipodRun || s.System == sysMinipodDelete) {
				mine = median(s.Seconds)
			}
		}
		for _, s := range r.Series {
			if s.Case != c {
				continue
			}
			lo, hi := minMax(s.Seconds)
			med := median(s.Seconds)
			ratio := "–"
			if mine > 0 && med > 0 && s.System != sysMinipodRun && s.System != sysMinipodDelete {
				ratio = fmt.Sprintf("%.2f×", mine/med)
			}
			fmt.Fprintf(&w, "| %s | %s | %.3f | %.3f–%.3f | %s | %d |\n", c, s.System, med, lo, hi, ratio, len(s.Failures))
		}
	}

	d := r.Density
	fmt.Fprintf(&w, "\nDensity: %d pods × 2 containers through the Go client, %d at a time.\n\n", d.Pods, d.Concurrency)
	w.WriteString("| measure | value |\n| --- | ---: |\n")
	fmt.Fprintf(&w, "| all Running after | %.2f s (%d of %d pods; %d failed to start) |\n", d.RunningSeconds, d.RunningPods, d.Pods, len(d.CreateFailures))
	fmt.Fprintf(&w, "| minipod daemon RSS | %.1f MiB |\n", d.DaemonRSSMiB)
	fmt.Fprintf(&w, "| containerd RSS | %.1f MiB |\n", d.ContainerdRSSMiB)
	fmt.Fprintf(&w, "| containerd shims | %d (RSS %.0f MiB, PSS %.0f MiB in all) |\n", d.Shims, d.ShimRSSMiB, d.ShimPSSMiB)
	fmt.Fprintf(&w, "| daemon CPU over %.0f s idle | %.2f s (%.2f %%) |\n", d.IdleSeconds, d.DaemonIdleCPUSec, d.DaemonIdleCPUPct)
	fmt.Fprintf(&w, "| delete all | %.2f s |\n", d.DeleteSeconds)
	fmt.Fprintf(&w, "| left behind | %d |\n", d.Leaks)

	if len(r.GoBench) > 0 {
		w.WriteString("\nPure path (`go test ./plan -bench ReadValidatePlan10 -benchmem`):\n\n| benchmark | time/op | B/op | allocs/op |\n| --- | ---: | ---: | ---: |\n")
		for _, g := range r.GoBench {
			fmt.Fprintf(&w, "| %s | %.1f µs | %.0f | %.0f |\n", g.Name, g.NsPerOp/1000, g.BytesPerOp, g.AllocsPerOp)
		}
	}

	w.WriteString("\nTargets:\n\n| target | measured | limit | result |\n| --- | ---: | ---: | --- |\n")
	for _, t := range r.Targets {
		res := "MISS"
		switch {
		case !t.Known:
			res = "n/a"
		case t.Met:
			res = "PASS"
		}
		if !t.Known {
			t.Measured = "–"
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", t.Name, t.Measured, t.Limit, res)
	}
	return w.String()
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// write saves the JSON at file and the markdown beside it (.md).
func (r *results) write(file, md string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(file, ".json")+".md", []byte(md), 0o644)
}

func describeMachine(c config) machine {
	m := machine{CPUs: goruntime.NumCPU()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	m.MemGiB = int(procField("/proc/meminfo", "MemTotal:")/1024/1024 + 0.5)
	if out, err := exec.Command(c.minipod, "version").Output(); err == nil {
		m.Minipod = firstLine(out)
	}
	if !c.noPodman {
		if out, err := exec.Command("podman", "--version").Output(); err == nil {
			m.Podman = firstLine(out)
		}
	}
	return m
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// runGoBench runs the pure-path benchmark of the runtime package.
func runGoBench(ctx context.Context, repo, benchtime string) ([]goBenchmark, error) {
	args := []string{"test", "./plan", "-run", "^$", "-bench", "ReadValidatePlan10", "-benchmem"}
	if benchtime != "" {
		args = append(args, "-benchtime", benchtime)
	}
	logf("go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return parseGoBench(out), nil
}

// parseGoBench reads the result lines of go test -bench -benchmem.
func parseGoBench(out []byte) []goBenchmark {
	var res []goBenchmark
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		g := goBenchmark{Name: f[0]}
		for i := 2; i+1 < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				g.NsPerOp = v
			case "B/op":
				g.BytesPerOp = v
			case "allocs/op":
				g.AllocsPerOp = v
			}
		}
		res = append(res, g)
	}
	return res
}

// maxDaemonRSSMiB is the daemon's RSS target with 100 pods: the Kubernetes
// API's (the daemon serves it by default, and its WebSocket streams link
// k8s.io/apiserver's stream proxy); it was 60 MiB before the API.
const maxDaemonRSSMiB = 80
