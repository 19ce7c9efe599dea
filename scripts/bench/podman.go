package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// podmanSystem is podman with everything of its own under the work
// directory: containers.conf (ulimits lowered, cgroupfs, file events),
// storage, run root, tmpdir and network configuration, and a bridge network
// of the run's own (no DNS server, as minipod has none).
type podmanSystem struct {
	b       *bench
	dir     string
	conf    string
	network string
	global  []string
}

// podmanParts are the helpers podman runs for a kube play here, where
// Debian installs them, and the package that brings each: podman only
// recommends them, so a host installed without recommends may lack them.
var podmanParts = []struct{ name, pkg string }{
	{"netavark", "netavark"},
	{"aardvark-dns", "aardvark-dns"},
	{"catatonit", "catatonit"},
	{"conmon", "conmon"},
}

// checkPodman fails, naming each missing piece and its package, when the
// podman peer cannot run.
func checkPodman() error {
	if _, err := exec.LookPath("podman"); err != nil {
		return fmt.Errorf("podman is not installed (apt-get install podman, or scripts/install.sh --test)")
	}
	var missing []string
	for _, p := range podmanParts {
		if findHelper(p.name) == "" {
			missing = append(missing, fmt.Sprintf("%s (package %s)", p.name, p.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("podman cannot run kube play here: missing %s; run scripts/install.sh --test", strings.Join(missing, ", "))
	}
	return nil
}

// findHelper looks for one of podman's helper binaries where podman does.
func findHelper(name string) string {
	for _, dir := range []string{"/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(dir, name)
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func newPodman(ctx context.Context, b *bench) (*podmanSystem, error) {
	dir := filepath.Join(b.work, "podman")
	p := &podmanSystem{b: b, dir: dir, conf: filepath.Join(dir, "containers.conf"), network: "mpbench-" + b.cfg.id}
	p.global = []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"), "--tmpdir", filepath.Join(dir, "tmp")}
	for _, d := range []string{"networks", "manifests", "root", "runroot", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	// The rlimits podman asks for by default exceed this host's hard limits
	// (see MACHINE-NOTES); without systemd, cgroupfs and file events.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=32768:32768"]
log_driver = "k8s-file"

[network]
network_backend = "netavark"
network_config_dir = %q

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
`, filepath.Join(dir, "networks"), filepath.Join(dir, "events.log"))
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	// A network file written directly: podman 4.3 cannot name the bridge.
	id := fmt.Sprintf("%x", sha256.Sum256([]byte(p.network+b.work)))
	gw := fmt.Sprintf("10.233.%d.1", b.cfg.netBase+5)
	netConf := fmt.Sprintf(`{"name": %q, "id": %q, "driver": "bridge", "network_interface": %q,
 "created": %q, "subnets": [{"subnet": %q, "gateway": %q}],
 "ipv6_enabled": false, "internal": false, "dns_enabled": false, "ipam_options": {"driver": "host-local"}}
`, p.network, id, b.bridge("p"), time.Now().UTC().Format(time.RFC3339), b.subnet(5, 24), gw)
	if err := os.WriteFile(filepath.Join(dir, "networks", p.network+".json"), []byte(netConf), 0o644); err != nil {
		return nil, err
	}
	b.onCleanup(p.cleanup)
	storage := fmt.Sprintf("containers-storage:[overlay@%s+%s]%s", filepath.Join(dir, "root"), filepath.Join(dir, "runroot"), benchImage)
	if err := runCmd(ctx, nil, "skopeo", "copy", "--quiet", "oci-archive:"+b.cfg.image+":1.36", storage); err != nil {
		return nil, fmt.Errorf("failed to load the image into podman: %w", err)
	}
	return p, nil
}

func (p *podmanSystem) podman(ctx context.Context, args ...string) error {
	return runCmd(ctx, []string{"CONTAINERS_CONF=" + p.conf}, "podman", append(append([]string{}, p.global...), args...)...)
}

func (p *podmanSystem) manifest(name string) string {
	return filepath.Join(p.dir, "manifests", name+".yaml")
}

func (p *podmanSystem) write(name string, n int, cmd []string, grace int64) error {
	return writePod(p.manifest(name), name, n, cmd, grace)
}

// play is `podman kube play FILE`: it returns when the containers started.
func (p *podmanSystem) play(ctx context.Context, name string) error {
	return p.podman(ctx, "kube", "play", "--network", p.network, p.manifest(name))
}

func (p *podmanSystem) down(ctx context.Context, name string) error {
	return p.podman(ctx, "kube", "down", p.manifest(name))
}

// rm is `podman pod rm -f` with the pod's grace period as its stop timeout:
// podman 4.3 does not take it from terminationGracePeriodSeconds and would
// wait its default 10 s for each container in turn.
func (p *podmanSystem) rm(ctx context.Context, name string) error {
	return p.podman(ctx, "pod", "rm", "-f", "-t", strconv.Itoa(teardownGrace), name)
}

func (p *podmanSystem) stopRm(ctx context.Context, name string) error {
	if err := p.podman(ctx, "pod", "stop", "-t", "0", name); err != nil {
		return err
	}
	return p.podman(ctx, "pod", "rm", name)
}

// removeNow is the untimed clean-up after a start.
func (p *podmanSystem) removeNow(ctx context.Context, name string) error {
	return p.stopRm(ctx, name)
}

// forget removes a pod after a failed repetition, if it exists.
func (p *podmanSystem) forget(ctx context.Context, name string) error {
	return p.podman(ctx, "pod", "rm", "--force", "--ignore", "--time", "0", name)
}

// cleanup removes every pod and container of the run's podman, its
// network and bridge; the work directory goes with the rest.
func (p *podmanSystem) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.podman(ctx, "pod", "rm", "--all", "--force", "--time", "0"); err != nil {
		logf("failed to remove podman's pods: %v", err)
	}
	if err := p.podman(ctx, "rm", "--all", "--force", "--time", "0"); err != nil {
		logf("failed to remove podman's containers: %v", err)
	}
	if err := p.podman(ctx, "network", "rm", "--force", p.network); err != nil {
		logf("failed to remove podman's network: %v", err)
	}
	deleteLink(p.b.bridge("p"))
	// Podman leaves its storage mounted: the work directory's clean-up
	// unmounts it.
}
