// Package e2e drives the built minipod binary against a real daemon,
// containerd, runc, CNI plugins and registry. The tests need root; in CI
// (CI=true) they fail instead of skipping when they cannot run.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/minipod/minipod/internal/testutil"
)

// suite is what TestMain prepares once for every test: the binary, the
// demo image archive and a private containerd.
var suite struct {
	ready      bool
	dir        string
	repo       string
	bin        string
	image      string
	containerd string // socket
	reason     string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		suite.reason = "the end-to-end tests need root"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "minipod-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	suite.dir = dir
	repo, _ := filepath.Abs("..")
	suite.repo = repo
	// A reaper outlives this process: when it exits in any way, a panic in
	// a goroutine included (which runs no deferred call), the reaper stops
	// the daemons and the containerd that the tests started.
	stopReaper, err := startReaper(dir, repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopReaper()
	if err := setupSuite(dir, repo); err != nil {
		suite.reason = err.Error()
		if testutil.InCI() {
			fmt.Fprintf(os.Stderr, "e2e: set-up failed in CI: %v\n", err)
			return 1
		}
		return m.Run()
	}
	defer func() {
		out, err := exec.Command("bash", filepath.Join(repo, "scripts/testenv.sh"), "stop-containerd", filepath.Join(dir, "containerd")).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: failed to stop containerd: %v\n%s", err, out)
		}
	}()
	suite.ready = true
	return m.Run()
}

func setupSuite(dir, repo string) error {
	suite.bin = filepath.Join(dir, "minipod")
	build := exec.Command("go", "build", "-o", suite.bin, "./cmd/minipod")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to build minipod: %v\n%s", err, out)
	}
	suite.image = os.Getenv("MINIPOD_BUSYBOX_IMAGE")
	if suite.image == "" {
		suite.image = filepath.Join(dir, "busybox.tar")
	}
	if _, err := os.Stat(suite.image); err != nil {
		cmd := exec.Command("bash", filepath.Join(repo, "scripts/build-busybox-image.sh"), "-o", suite.image)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("failed to build the busybox image: %v\n%s", err, out)
		}
	}
	cdir := filepath.Join(dir, "containerd")
	cmd := exec.Command("bash", filepath.Join(repo, "scripts/testenv.sh"), "start-containerd", cdir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to start containerd: %v\n%s", err, out)
	}
	suite.containerd = filepath.Join(cdir, "containerd.sock")
	return nil
}

// startReaper starts `testenv.sh reap-on-exit dir` in a session of its own,
// holding the only write end of its standard input; the returned function
// closes it and waits for the reaper, which then finds nothing left.
func startReaper(dir, repo string) (func(), error) {
	if err := os.MkdirAll(filepath.Join(dir, "daemons"), 0o700); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", filepath.Join(repo, "scripts/testenv.sh"), "reap-on-exit", dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("failed to start the reaper: %w", err)
	}
	return func() {
		w.Close()
		_ = cmd.Wait()
	}, nil
}

// registerDaemon records a daemon's pid for the reaper, with a marker of
// its command line so that a reused pid is never signalled; the returned
// function removes the record once the daemon is stopped.
func registerDaemon(name string, pid int, marker string) func() {
	base := filepath.Join(suite.dir, "daemons", name)
	_ = os.WriteFile(base+".marker", []byte(marker), 0o600)
	_ = os.WriteFile(base+".pid", []byte(fmt.Sprint(pid)), 0o600)
	return func() {
		os.Remove(base + ".pid")
		os.Remove(base + ".marker")
	}
}

// requireSuite gates a test on root and on the suite's set-up.
func requireSuite(t *testing.T) {
	t.Helper()
	testutil.RequiresRoot(t)
	testutil.Require(t, suite.ready, "end-to-end set-up: "+suite.reason)
}
