package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/minipod/minipod/internal/testutil"
)

// knownGaps are corpus cases that a kube-apiserver accepts and minipod
// refuses without saying that they need a cluster: pods a kubelet on one
// host runs that minipod does not run yet. Each is a debt with its reason;
// the oracle fails on any disagreement that is not listed here, and on a
// listed case that has come to agree (so that the list only shrinks).
var knownGaps = map[string]string{
	"res-ephemeral-storage":                   "ephemeral-storage limits (the kubelet evicts on them)",
	"res-hugepages":                           "hugepages resources",
	"pod-resources":                           "pod-level resources",
	"pod-resources-requests":                  "pod-level resources",
	"probe-grpc":                              "gRPC probes",
	"probe-grpc-service":                      "gRPC probes",
	"probe-grace":                             "a liveness probe's terminationGracePeriodSeconds",
	"ctr-stdin":                               "stdin and attach",
	"ctr-stdin-tty":                           "stdin, tty and attach",
	"ctr-stdin-once":                          "stdin and attach",
	"ctr-tty-only":                            "tty",
	"vm-propagation-none":                     "mountPropagation",
	"vm-propagation-host-to-container":        "mountPropagation",
	"vm-propagation-bidirectional-privileged": "mountPropagation",
	"vm-recursive-readonly":                   "recursiveReadOnly",
	"vm-recursive-readonly-ifpossible":        "recursiveReadOnly",
	"vol-emptydir-hugepages":                  "hugepages emptyDir",
	"vol-pvc":                                 "persistentVolumeClaim as a named local volume",
	"vol-pvc-readonly":                        "persistentVolumeClaim as a named local volume",
	"vol-pvc-bad-claim":                       "persistentVolumeClaim as a named local volume",
	"objects-pvc":                             "PersistentVolumeClaim objects",
	"vol-image":                               "image volumes",
	"sc-apparmor-runtime-default":             "appArmorProfile",
	"sc-apparmor-unconfined":                  "appArmorProfile",
	"psc-apparmor":                            "appArmorProfile",
	"psc-supplemental-groups-policy-strict":   "supplementalGroupsPolicy",
	"psc-supplemental-groups-policy-merge":    "supplementalGroupsPolicy",
	"spec-active-deadline":                    "activeDeadlineSeconds",
	"spec-host-users-false":                   "user namespaces (hostUsers: false)",
	"spec-image-pull-secrets":                 "imagePullSecrets",
	"init-restart-never":                      "per-container restartPolicy and restartPolicyRules",
	"init-restart-policy-rules":               "per-container restartPolicy and restartPolicyRules",
	"ctr-restart-policy":                      "per-container restartPolicy and restartPolicyRules",
	"ctr-restart-policy-rules":                "per-container restartPolicy and restartPolicyRules",
}

// noKubelet is how minipod words a refusal of a manifest that the API
// server accepts but no kubelet can run (an unknown emptyDir medium, a
// relative hostPath): refused up front rather than failing at mount time.
const noKubelet = "no kubelet can mount it"

// needsCluster is how minipod words a refusal of something that no single
// host can honour (FIELDS.md): the oracle accepts such a disagreement.
const needsCluster = "needs a cluster"

type verdict struct {
	ok  bool
	out string
}

// startAPIServer starts a kube-apiserver and its etcd built by
// scripts/kube.sh, stopped when the test ends, and returns the kubectl
// built beside them and a kubeconfig that reaches the server.
func startAPIServer(t *testing.T) (kubectl, kubeconfig string) {
	requireSuite(t)
	bins := map[string]string{}
	for _, name := range []string{"apiserver", "etcd", "kubectl"} {
		out, err := exec.Command("bash", filepath.Join(suite.repo, "scripts/kube.sh"), "bin", name).Output()
		testutil.Require(t, err == nil, "kube-apiserver, etcd and kubectl built by scripts/kube.sh build (scripts/test.sh builds them)")
		bins[name] = strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	port := freeTCPPort(t)
	if out, err := exec.Command("bash", filepath.Join(suite.repo, "scripts/kube.sh"), "start", dir, fmt.Sprint(port)).CombinedOutput(); err != nil {
		t.Fatalf("failed to start kube-apiserver: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", filepath.Join(suite.repo, "scripts/kube.sh"), "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("failed to stop kube-apiserver: %v\n%s", err, out)
		}
	})
	return bins["kubectl"], filepath.Join(dir, "kubeconfig")
}

// TestAPIServerOracle runs every manifest of the corpus (testdata/corpus),
// minipod's examples, through a real kube-apiserver (`kubectl create
// --dry-run=server`) and through `minipod run --dry-run`, and fails where
// their verdicts differ: minipod must accept every pod the API server
// accepts (unless it says the pod needs a cluster) and refuse every object
// the API server refuses.
func TestAPIServerOracle(t *testing.T) {
	kubectlBin, kubeconfig := startAPIServer(t)
	noDaemon := filepath.Join(t.TempDir(), "no-daemon.sock")

	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	examples, _ := filepath.Glob(filepath.Join(suite.repo, "examples", "*", "*.yaml"))
	files = append(files, examples...)
	if len(files) < 200 {
		t.Fatalf("the corpus has %d manifests, want at least 200", len(files))
	}
	sort.Strings(files)

	var agree, clusterOnly, gaps int
	var bad []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.Contains(f, "/examples/") {
			name = "examples/" + filepath.Base(filepath.Dir(f)) + "/" + name
		}
		api := runVerdict(exec.Command(kubectlBin, "--kubeconfig", kubeconfig, "create", "--dry-run=server", "-o", "name", "-f", f))
		mp := runVerdict(exec.Command(suite.bin, "run", "--dry-run", "--socket", noDaemon, f))
		gap, listed := knownGaps[caseName(name)]
		switch {
		case api.ok == mp.ok:
			agree++
			if listed {
				bad = append(bad, fmt.Sprintf("%s: listed as a known gap (%s) but both now agree: remove it from knownGaps", name, gap))
			}
		case api.ok && !mp.ok && (strings.Contains(mp.out, needsCluster) || strings.Contains(mp.out, noKubelet)):
			clusterOnly++
		case listed:
			gaps++
			t.Logf("known gap %s (%s): API server ok=%v, minipod ok=%v", name, gap, api.ok, mp.ok)
		case api.ok:
			bad = append(bad, fmt.Sprintf("%s: the API server accepts it, minipod refuses it:\n    %s", name, firstLines(mp.out)))
		default:
			bad = append(bad, fmt.Sprintf("%s: the API server refuses it, minipod accepts it:\n    %s", name, firstLines(api.out)))
		}
	}
	figure(fmt.Sprintf("apiserver oracle: %d manifests, %d verdicts agree, %d need a cluster or no kubelet runs them, %d known gaps, %d disagree",
		len(files), agree, clusterOnly, gaps, len(bad)))
	for _, b := range bad {
		t.Error(b)
	}
}

// caseName is a corpus file's case name without its number.
func caseName(name string) string {
	if i := strings.IndexByte(name, '-'); i == 3 {
		return name[4:]
	}
	return name
}

func runVerdict(cmd *exec.Cmd) verdict {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return verdict{ok: err == nil, out: out.String()}
}

func firstLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 4 {
		lines = lines[:4]
	}
	return strings.Join(lines, "\n    ")
}

// freeTCPPort returns a loopback port that nothing listens on, with the
// two after it free too (scripts/kube.sh gives those to etcd).
func freeTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		free := port < 65533
		for i := 1; free && i <= 2; i++ {
			if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+i)); err == nil {
				l2.Close()
			} else {
				free = false
			}
		}
		if free {
			return port
		}
	}
	t.Fatal("no three free loopback ports in a row")
	return 0
}
