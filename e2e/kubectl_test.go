package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// kubectlVersions are the bundled kubectl versions the tests drive the
// daemon with: the oldest and the newest the host carries.
var kubectlVersions = []string{"1.27", "1.33"}

// kubectlBinary finds the host's kubectl of a minor version: the
// dispatcher at /usr/bin/kubectl keeps them beside itself as
// kubectl.1.NN.
func kubectlBinary(t *testing.T, version string) string {
	t.Helper()
	disp, err := filepath.EvalSymlinks("/usr/bin/kubectl")
	if err == nil {
		p := filepath.Join(filepath.Dir(disp), "kubectl."+version)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("kubectl %s is not installed beside /usr/bin/kubectl", version)
	}
	t.Skipf("kubectl %s is not installed beside /usr/bin/kubectl", version)
	return ""
}

// kubectl runs one kubectl against an env's Kubernetes API, with a
// kubeconfig from `minipod kubeconfig` and a cache and home of the test's
// own.
type kubectl struct {
	t          *testing.T
	bin        string
	kubeconfig string
	home       string
}

func (e *env) kubectl(version string) *kubectl {
	e.t.Helper()
	bin := kubectlBinary(e.t, version)
	cfg := e.mustRun("kubeconfig")
	home := e.t.TempDir()
	path := filepath.Join(home, "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return &kubectl{t: e.t, bin: bin, kubeconfig: path, home: home}
}

func (k *kubectl) run(stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	all := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)
	cmd := exec.Command(k.bin, all...)
	cmd.Env = append(os.Environ(), "HOME="+k.home, "KUBECONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("failed to run kubectl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, errs, code := k.run("", args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (k *kubectl) mustStdin(stdin string, args ...string) string {
	k.t.Helper()
	out, errs, code := k.run(stdin, args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

const kubectlPods = `apiVersion: v1
kind: Pod
metadata:
  name: web-%[1]s
  labels:
    app: web
    v: "%[1]s"
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo hello from web-%[1]s; exec sleep 3600"]
    readinessProbe:
      exec:
        command: ["true"]
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: db-%[1]s
  labels:
    app: db
    v: "%[1]s"
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo db up; exec sleep 3600"]
`

// TestKubectl drives the daemon's Kubernetes API with the real kubectl,
// the oldest and the newest the host carries.
func TestKubectl(t *testing.T) {
	e := newEnv(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			testKubectl(t, e, v)
		})
	}
}

func testKubectl(t *testing.T, e *env, version string) {
	k := e.kubectl(version)
	v := strings.ReplaceAll(version, ".", "")
	web, db := "web-"+v, "db-"+v

	// apply -f creates, with kubectl's default validation.
	out := k.mustStdin(fmt.Sprintf(kubectlPods, v), "apply", "-f", "-")
	if !strings.Contains(out, "pod/"+web+" created") || !strings.Contains(out, "pod/"+db+" created") {
		t.Fatalf("apply printed %q", out)
	}
	k.must("wait", "--for=condition=Ready", "pod/"+web, "pod/"+db, "--timeout=60s")

	// get: kubectl's pod table, from the server's Table.
	out = k.must("get", "pods", "-l", "v="+v)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`).MatchString(lines[0]) {
		t.Fatalf("get pods printed:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^` + web + `\s+1/1\s+Running\s+0\s+\d+s$`).MatchString(out) {
		t.Fatalf("get pods has no running row for %s:\n%s", web, out)
	}
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(k.must("get", "pod", web, "-o", "json")), &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Status.PodIP == "" || pod.Spec.NodeName == "" {
		t.Fatalf("pod %s has no IP or node: %+v", web, pod.Status)
	}
	if _, err := strconv.ParseUint(pod.ResourceVersion, 10, 64); err != nil {
		t.Fatalf("resourceVersion %q is not a number", pod.ResourceVersion)
	}
	out = k.must("get", "pods", "-o", "wide", "-l", "v="+v)
	if !regexp.MustCompile(`(?m)^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+web+`\s+1/1\s+Running\s+0\s+\d+s\s+`+regexp.QuoteMeta(pod.Status.PodIP)+`\s+`+regexp.QuoteMeta(pod.Spec.NodeName)+`\s+<none>\s+<none>$`).MatchString(out) {
		t.Fatalf("get pods -o wide printed:\n%s", out)
	}
	var fromYAML corev1.Pod
	if err := yaml.Unmarshal([]byte(k.must("get", "pod", web, "-o", "yaml")), &fromYAML); err != nil || fromYAML.UID != pod.UID {
		t.Fatalf("get -o yaml: %v (uid %q, want %q)", err, fromYAML.UID, pod.UID)
	}
	if out := k.must("get", "pod", web, "-o", "jsonpath={.status.phase} {.metadata.labels.app}"); out != "Running web" {
		t.Fatalf("jsonpath printed %q", out)
	}

	// Selectors: labels, and the fields kubectl and kubelets ask for.
	names := func(args ...string) string {
		return strings.TrimSpace(k.must(append([]string{"get", "pods", "-o", "name"}, args...)...))
	}
	if got := names("-l", "app=web,v="+v); got != "pod/"+web {
		t.Fatalf("get -l app=web: %q", got)
	}
	if got := names("-l", "app=none"); got != "" {
		t.Fatalf("get -l app=none: %q", got)
	}
	if got := names("--field-selector", "metadata.name="+db); got != "pod/"+db {
		t.Fatalf("get --field-selector metadata.name=%s: %q", db, got)
	}
	if got := names("-l", "v="+v, "--field-selector", "status.phase=Running,spec.nodeName="+pod.Spec.NodeName); got != "pod/"+db+"\npod/"+web {
		t.Fatalf("get --field-selector status.phase=Running: %q", got)
	}
	if got := names("-l", "v="+v, "--field-selector", "status.phase=Pending"); got != "" {
		t.Fatalf("get --field-selector status.phase=Pending: %q", got)
	}
	if got := names("-A", "-l", "v="+v, "--field-selector", "metadata.namespace=default"); got != "pod/"+db+"\npod/"+web {
		t.Fatalf("get -A --field-selector metadata.namespace=default: %q", got)
	}
	if _, errs, code := k.run("", "get", "pods", "--field-selector", "spec.bogus=1"); code == 0 || !strings.Contains(errs, "field label not supported: spec.bogus") {
		t.Fatalf("an unknown field selector was not refused (exit %d): %s", code, errs)
	}

	// describe, logs, events.
	out = k.must("describe", "pod", web)
	for _, want := range []string{"Name:", web, "Status:", "Running", "IP:", pod.Status.PodIP, "Readiness:", "exec [true]", "Events:", "Started"} {
		if !strings.Contains(out, want) {
			t.Fatalf("describe has no %q:\n%s", want, out)
		}
	}
	if out := k.must("logs", web); out != "hello from "+web+"\n" {
		t.Fatalf("logs printed %q", out)
	}
	if out := k.must("logs", db, "-c", "main", "--tail=1"); out != "db up\n" {
		t.Fatalf("logs -c main --tail=1 printed %q", out)
	}
	out = k.must("get", "events", "--field-selector", "involvedObject.name="+web)
	if !regexp.MustCompile(`(?m)^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d+s\s+Normal\s+Started\s+pod/`+web+`\s`).MatchString(out) {
		t.Fatalf("get events printed:\n%s", out)
	}
	out = k.must("get", "nodes")
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(pod.Spec.NodeName) + `\s+Ready\s+<none>\s+\S+\s+v1\.\d+\.\d+`).MatchString(out) {
		t.Fatalf("get nodes printed:\n%s", out)
	}
	if out := k.must("get", "ns", "default", "-o", "name"); strings.TrimSpace(out) != "namespace/default" {
		t.Fatalf("get ns default printed %q", out)
	}

	// create --dry-run=server validates and creates nothing.
	dry := fmt.Sprintf(kubectlPods, v+"x")
	out = k.mustStdin(dry, "create", "--dry-run=server", "-f", "-")
	if !strings.Contains(out, "(server dry run)") {
		t.Fatalf("create --dry-run=server printed %q", out)
	}
	if got := names("-l", "v="+v+"x"); got != "" {
		t.Fatalf("create --dry-run=server created pods: %q", got)
	}
	if _, errs, code := k.run("", "get", "pod", "web-"+v+"x"); code == 0 || !strings.Contains(errs, `pods "web-`+v+`x" not found`) {
		t.Fatalf("get of a dry-run pod: exit %d: %s", code, errs)
	}

	// A ConfigMap and a Secret, created and listed.
	k.must("create", "configmap", "cm-"+v, "--from-literal=a=1", "--from-literal=b=2")
	k.must("create", "secret", "generic", "s-"+v, "--from-literal=k=v")
	if !regexp.MustCompile(`(?m)^cm-` + v + `\s+2\s+\d+s$`).MatchString(k.must("get", "configmaps")) {
		t.Fatalf("get configmaps has no cm-%s with 2 keys", v)
	}
	if !regexp.MustCompile(`(?m)^s-` + v + `\s+Opaque\s+1\s+\d+s$`).MatchString(k.must("get", "secrets")) {
		t.Fatalf("get secrets has no s-%s", v)
	}
	k.must("delete", "configmap", "cm-"+v)
	k.must("delete", "secret", "s-"+v)

	// delete -l deletes only the matching pods, and kubectl waits for them
	// to be gone.
	out = k.must("delete", "pods", "-l", "app=web,v="+v)
	if strings.TrimSpace(out) != `pod "`+web+`" deleted` {
		t.Fatalf("delete -l printed %q", out)
	}
	if got := names("-l", "v="+v); got != "pod/"+db {
		t.Fatalf("after delete -l app=web: %q", got)
	}
	k.must("delete", "pod", db, "--wait=false")
	// A second DELETE while the first runs is answered, not refused.
	if _, errs, code := k.run("", "delete", "pod", db, "--wait=false"); code != 0 && !strings.Contains(errs, "not found") {
		t.Fatalf("a second delete failed (exit %d): %s", code, errs)
	}
	k.must("wait", "--for=delete", "pod/"+db, "--timeout=60s")
}

// TestKubeAPIAuth: the Kubernetes API answers only with TLS and the
// daemon's token; anyone else gets 401.
func TestKubeAPIAuth(t *testing.T) {
	e := newEnv(t)
	var cfg struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
		Current string `json:"current-context"`
	}
	if err := yaml.Unmarshal([]byte(e.mustRun("kubeconfig")), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || len(cfg.Users) != 1 || cfg.Current != "minipod" {
		t.Fatalf("kubeconfig: %+v", cfg)
	}
	ca, err := base64.StdEncoding.DecodeString(cfg.Clusters[0].Cluster.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("the kubeconfig's CA does not parse")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, cfg.Clusters[0].Cluster.Server+"/api/v1/pods", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(cfg.Users[0].User.Token); code != http.StatusOK {
		t.Fatalf("with the token: %d", code)
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
	if code := get(strings.Repeat("0", len(cfg.Users[0].User.Token))); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d, want 401", code)
	}
	// The credentials are the daemon's alone.
	for _, f := range []string{"ca.crt", "ca.key", "serving.crt", "serving.key", "token"} {
		fi, err := os.Stat(filepath.Join(e.root, "kubeapi", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}
