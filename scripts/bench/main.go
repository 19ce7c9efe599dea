// Command bench measures minipod side by side with `podman kube play` and
// with the floor of what containerd and CNI can do (a network namespace, a
// CNI bridge ADD and parallel `ctr run -d`), in one run, interleaving the
// systems so that drift cancels out. It prints a markdown table and writes
// it, with the raw numbers as JSON, to a results file.
//
// Everything it runs is private: its own containerd (scripts/testenv.sh),
// minipod daemon (own root, socket, containerd namespace, bridge, subnet),
// podman storage, run root, containers.conf and network. It stops what it
// started, by pid, and removes what it created, also when it fails.
//
//	sudo scripts/bench.sh [--reps N] [--pods N] [--smoke] [-o results.json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	repo        string
	minipod     string
	image       string
	out         string
	reps        int
	pods        int
	concurrency int
	idle        time.Duration
	smoke       bool
	noPodman    bool
	profile     bool
	keep        bool
	id          string
	netBase     int
	benchtime   string
	daemonArgs  []string
	cases       map[string]bool
}

func main() {
	var c config
	flag.StringVar(&c.repo, "repo", ".", "the minipod repository (for scripts/testenv.sh and the Go benchmark)")
	flag.StringVar(&c.minipod, "minipod", "", "the minipod binary (default: <repo>/_output/bin/minipod)")
	flag.StringVar(&c.image, "image", "", "the busybox image archive from scripts/build-busybox-image.sh (default: <repo>/_output/images/busybox.tar)")
	flag.StringVar(&c.out, "o", "", "results file, .json (a .md beside it) (default: <repo>/_output/bench/results-<date>.json)")
	flag.IntVar(&c.reps, "reps", 10, "repetitions of each timed case per system")
	flag.IntVar(&c.pods, "pods", 100, "pods of the density case (2 containers each)")
	flag.IntVar(&c.concurrency, "concurrency", 8, "pods created or deleted at once in the density case")
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "how long the daemon's idle CPU is measured")
	flag.BoolVar(&c.smoke, "smoke", false, "one repetition, 3 pods, 2 s idle: checks that the benchmark works, times nothing that counts")
	flag.BoolVar(&c.noPodman, "no-podman", false, "skip podman (its columns stay empty)")
	flag.BoolVar(&c.profile, "profile", false, "run the daemon with --pprof and save CPU profiles of the start and density phases beside the results")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (logs) instead of removing it")
	flag.StringVar(&c.id, "id", "b", "short tag (1-4 letters) in the names of what the run creates, so two runs do not collide")
	flag.IntVar(&c.netBase, "net", 240, "third octet of the run's subnets: minipod 10.233.N.0/22, floor N+4, podman N+5")
	flag.StringVar(&c.benchtime, "benchtime", "", "go test -benchtime of the pure-path benchmark (default: Go's, 100x with --smoke)")
	flag.Func("daemon-arg", "an extra flag for `minipod daemon` (repeatable), e.g. --daemon-arg=--shim-per-container", func(v string) error {
		c.daemonArgs = append(c.daemonArgs, v)
		return nil
	})
	cases := flag.String("cases", "start,delete,density,go", "the cases to run, comma-separated: start, delete, density, go")
	flag.Parse()
	c.cases = map[string]bool{}
	for _, k := range strings.Split(*cases, ",") {
		c.cases[strings.TrimSpace(k)] = true
	}
	if c.smoke {
		c.reps, c.pods, c.idle = 1, 3, 2*time.Second
		if c.benchtime == "" {
			c.benchtime = "100x"
		}
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if os.Geteuid() != 0 {
		return errors.New("the benchmark needs root (network namespaces, containerd, podman): run it with sudo")
	}
	if len(c.id) == 0 || len(c.id) > 4 || strings.Trim(c.id, "abcdefghijklmnopqrstuvwxyz") != "" {
		return fmt.Errorf("--id %q: use 1 to 4 lower-case letters", c.id)
	}
	if c.netBase < 0 || c.netBase > 248 || c.netBase%4 != 0 {
		return fmt.Errorf("--net %d: use a multiple of 4 between 0 and 248", c.netBase)
	}
	if c.reps < 1 || c.pods < 1 || c.concurrency < 1 {
		return errors.New("--reps, --pods and --concurrency must be at least 1")
	}
	repo, err := filepath.Abs(c.repo)
	if err != nil {
		return err
	}
	c.repo = repo
	if c.minipod == "" {
		c.minipod = filepath.Join(repo, "_output/bin/minipod")
	}
	if c.image == "" {
		c.image = filepath.Join(repo, "_output/images/busybox.tar")
	}
	for _, f := range []string{c.minipod, c.image} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("failed to find %q (scripts/bench.sh builds it): %w", f, err)
		}
	}
	if !c.noPodman {
		if _, err := exec.LookPath("podman"); err != nil {
			return errors.New("podman is not installed: apt-get install podman (scripts/bench.sh does it), or pass --no-podman")
		}
	}
	started := time.Now()
	if c.out == "" {
		c.out = filepath.Join(repo, "_output/bench", "results-"+started.Format("20060102-150405")+".json")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "minipod-bench-")
	if err != nil {
		return err
	}
	b := &bench{cfg: c, work: work, started: started}
	defer func() {
		b.cleanup()
		if c.keep {
			fmt.Fprintf(os.Stderr, "bench: kept %s\n", work)
		}
	}()
	if err := b.setup(ctx); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	res := b.results()
	md := res.markdown()
	fmt.Print(md)
	if err := res.write(c.out, md); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: results in %s and %s\n", c.out, strings.TrimSuffix(c.out, ".json")+".md")
	if res.Density.Leaks != 0 {
		return fmt.Errorf("minipod left %d things behind after deleting every pod: %s", res.Density.Leaks, strings.Join(res.Density.LeakList, ", "))
	}
	return nil
}

// logf tells the person running the benchmark how it goes.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
