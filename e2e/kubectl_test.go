package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/minipod/minipod/internal/testutil"
)

// kubectlVersions are the kubectl versions the tests drive the daemon
// with: the oldest and the newest the host carries, and the newest release
// built from the Go module proxy by scripts/kube.sh.
var kubectlVersions = []string{"1.27", "1.33", "newest"}

// kubectlBinary finds the host's kubectl of a minor version: the
// dispatcher at /usr/bin/kubectl keeps them beside itself as
// kubectl.1.NN. "newest" is the one scripts/kube.sh builds
// ($MINIPOD_KUBECTL_NEWEST names another build of it).
func kubectlBinary(t *testing.T, version string) string {
	t.Helper()
	if version == "newest" {
		if p := os.Getenv("MINIPOD_KUBECTL_NEWEST"); p != "" {
			return p
		}
		out, err := exec.Command("bash", filepath.Join(suite.repo, "scripts/kube.sh"), "bin", "kubectl").Output()
		testutil.Require(t, err == nil, "the newest kubectl, built by scripts/kube.sh build (scripts/test.sh builds it)")
		return strings.TrimSpace(string(out))
	}
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

// watchLines starts a kubectl that keeps printing (get -w) and returns its
// output lines as they come; stop ends it (by its pid) and waits for it.
func (k *kubectl) watchLines(args ...string) (<-chan string, func()) {
	k.t.Helper()
	all := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)
	cmd := exec.Command(k.bin, all...)
	cmd.Env = append(os.Environ(), "HOME="+k.home, "KUBECONFIG=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines, func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// awaitLine waits for a line that matches re and returns it.
func awaitLine(t *testing.T, lines <-chan string, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(60 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the output ended before a line matching %q:\n%s", re, strings.Join(seen, "\n"))
			}
			if rx.MatchString(l) {
				return l
			}
			seen = append(seen, l)
		case <-deadline:
			t.Fatalf("no line matching %q within 60s:\n%s", re, strings.Join(seen, "\n"))
		}
	}
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

	// get -w shows the pods as they come, change and go, in kubectl's
	// columns.
	watched, stopWatch := k.watchLines("get", "pods", "-w", "-l", "app=web,v="+v)
	defer stopWatch()

	// A typo is refused, naming the field, and creates nothing.
	typo := strings.Replace(strings.Split(fmt.Sprintf(kubectlPods, v), "---")[0], "command: [\"sh\", \"-c\", \"echo hello", "imagePullPolice: Always\n    command: [\"sh\", \"-c\", \"echo hello", 1)
	if _, errs, code := k.run(typo, "apply", "-f", "-"); code == 0 || !strings.Contains(errs, "imagePullPolice") {
		t.Fatalf("a manifest with imagePullPolice was not refused naming it (exit %d): %s", code, errs)
	}
	if got := strings.TrimSpace(k.must("get", "pods", "-o", "name", "-l", "v="+v)); got != "" {
		t.Fatalf("a refused manifest created %q", got)
	}

	// explain explains as on a cluster: the field's type and the API's
	// own description of it.
	out := k.must("explain", "pod.spec.containers.imagePullPolicy")
	for _, want := range []string{"FIELD:", "imagePullPolicy", "<string>", "Image pull policy"} {
		if !strings.Contains(out, want) {
			t.Fatalf("explain pod.spec.containers.imagePullPolicy has no %q:\n%s", want, out)
		}
	}
	if out := k.must("explain", "pods"); !strings.Contains(out, "KIND:") || !strings.Contains(out, "Pod is a collection of containers") {
		t.Fatalf("explain pods printed:\n%s", out)
	}

	// apply -f creates, with kubectl's default validation.
	out = k.mustStdin(fmt.Sprintf(kubectlPods, v), "apply", "-f", "-")
	if !strings.Contains(out, "pod/"+web+" created") || !strings.Contains(out, "pod/"+db+" created") {
		t.Fatalf("apply printed %q", out)
	}
	k.must("wait", "--for=condition=Ready", "pod/"+web, "pod/"+db, "--timeout=60s")
	awaitLine(t, watched, `^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`)
	awaitLine(t, watched, `^`+web+`\s+1/1\s+Running\s+0\s+\d+s$`)

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

	// label, annotate (merge patches) and apply of a change (a strategic
	// merge patch) change a running pod's metadata; a change of its spec is
	// refused as the API server refuses it.
	if out := k.must("label", "pod", web, "tier=front"); strings.TrimSpace(out) != "pod/"+web+" labeled" {
		t.Fatalf("label printed %q", out)
	}
	if got := names("-l", "tier=front,v="+v); got != "pod/"+web {
		t.Fatalf("get -l tier=front after label: %q", got)
	}
	// (kubectl 1.27 prints "annotate", later ones "annotated")
	if out := k.must("annotate", "pod", web, "note=hi"); !strings.HasPrefix(out, "pod/"+web+" annotate") {
		t.Fatalf("annotate printed %q", out)
	}
	changed := strings.Replace(fmt.Sprintf(kubectlPods, v), "    app: web\n", "    app: web\n    release: two\n", 1)
	if out := k.mustStdin(changed, "apply", "-f", "-"); !strings.Contains(out, "pod/"+web+" configured") || !strings.Contains(out, "pod/"+db+" unchanged") {
		t.Fatalf("apply of a change printed %q", out)
	}
	if out := k.must("get", "pod", web, "-o", "jsonpath={.metadata.labels.release} {.metadata.labels.tier} {.metadata.annotations.note}"); out != "two front hi" {
		t.Fatalf("after apply of a change: %q", out)
	}
	respec := strings.Replace(changed, "exec sleep 3600", "exec sleep 3601", 1)
	if _, errs, code := k.run(respec, "apply", "-f", "-"); code == 0 || !strings.Contains(errs, "Forbidden: pod updates may not change fields") {
		t.Fatalf("apply of a spec change was not refused (exit %d): %s", code, errs)
	}
	k.must("patch", "pod", web, "--type=json", "-p", `[{"op":"add","path":"/metadata/labels/j","value":"1"}]`)
	k.must("patch", "pod", web, "--type=merge", "-p", `{"metadata":{"labels":{"m":"2"}}}`)
	if out := k.must("get", "pod", web, "-o", "jsonpath={.metadata.labels.j}{.metadata.labels.m}"); out != "12" {
		t.Fatalf("after patch --type=json and --type=merge: %q", out)
	}
	if out := k.must("label", "pod", web, "tier-"); strings.TrimSpace(out) != "pod/"+web+" unlabeled" {
		t.Fatalf("label tier- printed %q", out)
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
	// (newer kubectl adds " from default namespace")
	if !strings.HasPrefix(strings.TrimSpace(out), `pod "`+web+`" deleted`) || strings.Count(out, "\n") != 1 {
		t.Fatalf("delete -l printed %q", out)
	}
	if got := names("-l", "v="+v); got != "pod/"+db {
		t.Fatalf("after delete -l app=web: %q", got)
	}
	awaitLine(t, watched, `^`+web+`\s+\d/1\s+Terminating\s`)
	k.must("delete", "pod", db, "--wait=false")
	// A second DELETE while the first runs is answered, not refused.
	if _, errs, code := k.run("", "delete", "pod", db, "--wait=false"); code != 0 && !strings.Contains(errs, "not found") {
		t.Fatalf("a second delete failed (exit %d): %s", code, errs)
	}
	k.must("wait", "--for=delete", "pod/"+db, "--timeout=60s")

	// A pod that never gets Ready makes wait time out, not succeed.
	never := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: never-%s
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    readinessProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
`, v)
	k.mustStdin(never, "apply", "-f", "-")
	if _, errs, code := k.run("", "wait", "--for=condition=Ready", "pod/never-"+v, "--timeout=3s"); code == 0 || !strings.Contains(errs, "timed out") {
		t.Fatalf("wait for a pod that is never Ready: exit %d: %s", code, errs)
	}
	k.must("delete", "pod", "never-"+v)
}

// kubeAPI is a plain HTTP client of an env's Kubernetes API, from the
// kubeconfig the daemon hands out.
type kubeAPI struct {
	t      *testing.T
	server string
	token  string
	hc     *http.Client
}

func (e *env) kubeAPI() *kubeAPI {
	e.t.Helper()
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
		e.t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || len(cfg.Users) != 1 || cfg.Current != "minipod" {
		e.t.Fatalf("kubeconfig: %+v", cfg)
	}
	ca, err := base64.StdEncoding.DecodeString(cfg.Clusters[0].Cluster.CA)
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		e.t.Fatal("the kubeconfig's CA does not parse")
	}
	return &kubeAPI{t: e.t, server: cfg.Clusters[0].Cluster.Server, token: cfg.Users[0].User.Token,
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// do sends a request with the token (unless noAuth) and returns the
// response; the caller closes its body.
func (a *kubeAPI) do(method, path, body string, noAuth bool) *http.Response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.server+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if !noAuth {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp
}

// call sends a request and decodes the JSON answer into out (if not nil);
// it fails the test unless the status is want.
func (a *kubeAPI) call(method, path, body string, want int, out any) {
	a.t.Helper()
	resp := a.do(method, path, body, false)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// watchEvent is a WatchEvent with its object's metadata.
type watchEvent struct {
	Type   string `json:"type"`
	Object struct {
		Kind     string `json:"kind"`
		Code     int    `json:"code"`
		Reason   string `json:"reason"`
		Metadata struct {
			Name              string            `json:"name"`
			ResourceVersion   string            `json:"resourceVersion"`
			Annotations       map[string]string `json:"annotations"`
			DeletionTimestamp *string           `json:"deletionTimestamp"`
		} `json:"metadata"`
	} `json:"object"`
}

// watch opens a watch and returns its events as they come; stop ends it.
func (a *kubeAPI) watch(path string) (<-chan watchEvent, func()) {
	a.t.Helper()
	resp := a.do(http.MethodGet, path, "", false)
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.t.Fatalf("watch %s: %d: %s", path, resp.StatusCode, data)
	}
	ch := make(chan watchEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		dec := json.NewDecoder(resp.Body)
		for {
			var ev watchEvent
			if dec.Decode(&ev) != nil {
				return
			}
			ch <- ev
		}
	}()
	return ch, func() { resp.Body.Close(); <-done }
}

// next waits for the next event of a watch.
func next(t *testing.T, ch <-chan watchEvent) watchEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within 30s")
	}
	return watchEvent{}
}

func rvOf(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not a number", s)
	}
	return n
}

// TestKubeAPIAuth: the Kubernetes API answers only with TLS and the
// daemon's token; anyone else gets 401.
func TestKubeAPIAuth(t *testing.T) {
	e := newEnv(t)
	a := e.kubeAPI()
	get := func(token string, noAuth bool) int {
		saved := a.token
		a.token = token
		defer func() { a.token = saved }()
		resp := a.do(http.MethodGet, "/api/v1/pods", "", noAuth)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(a.token, false); code != http.StatusOK {
		t.Fatalf("with the token: %d", code)
	}
	if code := get("", true); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
	if code := get(strings.Repeat("0", len(a.token)), false); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d, want 401", code)
	}
	// kubeconfig --merge adds the context to the user's kubeconfig, which
	// the dispatcher at /usr/bin/kubectl (picking a bundled version for the
	// server) then uses as is.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".kube"), 0o700)
	os.WriteFile(filepath.Join(home, ".kube", "config"), []byte("apiVersion: v1\nkind: Config\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\ncurrent-context: other\n"), 0o600)
	merge := exec.Command(suite.bin, "kubeconfig", "--merge")
	merge.Env = append(os.Environ(), "MINIPOD_SOCKET="+e.socket, "HOME="+home, "KUBECONFIG=")
	if out, err := merge.CombinedOutput(); err != nil {
		t.Fatalf("kubeconfig --merge: %v: %s", err, out)
	}
	if _, err := os.Stat("/usr/bin/kubectl"); err == nil {
		kc := exec.Command("/usr/bin/kubectl", "get", "pods")
		kc.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG=")
		out, err := kc.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No resources found in default namespace.") {
			t.Fatalf("kubectl get pods after kubeconfig --merge: %v: %s", err, out)
		}
		kc = exec.Command("/usr/bin/kubectl", "config", "get-contexts", "-o", "name")
		kc.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG=")
		if out, err := kc.CombinedOutput(); err != nil || string(out) != "minipod\nother\n" {
			t.Fatalf("contexts after kubeconfig --merge: %v: %q", err, out)
		}
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

// TestKubeAPIWatch: resourceVersions grow with every change, a watch
// resumes after the one it is given, sendInitialEvents ends its initial
// events with a bookmark, a resourceVersion older than the history is 410
// Gone, and a pod's DELETE returns at once with deletionTimestamp set
// while a second DELETE is answered too.
func TestKubeAPIWatch(t *testing.T) {
	e := newEnv(t)
	a := e.kubeAPI()
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	a.call(http.MethodGet, "/api/v1/namespaces/default/configmaps", "", http.StatusOK, &list)
	rv0 := rvOf(t, list.Metadata.ResourceVersion)
	ch, stop := a.watch("/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=" + list.Metadata.ResourceVersion)
	defer stop()

	var cm corev1.ConfigMap
	a.call(http.MethodPost, "/api/v1/namespaces/default/configmaps",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"one"},"data":{"a":"1"}}`, http.StatusCreated, &cm)
	rv1 := rvOf(t, cm.ResourceVersion)
	if rv1 <= rv0 {
		t.Fatalf("resourceVersion %d after a create is not above the list's %d", rv1, rv0)
	}
	if ev := next(t, ch); ev.Type != "ADDED" || ev.Object.Metadata.Name != "one" || rvOf(t, ev.Object.Metadata.ResourceVersion) != rv1 {
		t.Fatalf("first event: %+v", ev)
	}
	// dryRun=All creates nothing, and the name stays free.
	a.call(http.MethodPost, "/api/v1/namespaces/default/configmaps?dryRun=All",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"two"}}`, http.StatusCreated, nil)
	a.call(http.MethodGet, "/api/v1/namespaces/default/configmaps/two", "", http.StatusNotFound, nil)
	a.call(http.MethodPost, "/api/v1/namespaces/default/configmaps",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"one"}}`, http.StatusConflict, nil)
	a.call(http.MethodDelete, "/api/v1/namespaces/default/configmaps/one", "", http.StatusOK, nil)
	if ev := next(t, ch); ev.Type != "DELETED" || ev.Object.Metadata.Name != "one" || rvOf(t, ev.Object.Metadata.ResourceVersion) <= rv1 {
		t.Fatalf("after the delete: %+v", ev)
	}
	stop()

	// A watch from the start replays the ADDED and the DELETED; one with
	// sendInitialEvents lists what is there, then bookmarks.
	ch, stop2 := a.watch(fmt.Sprintf("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=%d", rv0))
	if ev := next(t, ch); ev.Type != "ADDED" || ev.Object.Metadata.Name != "one" {
		t.Fatalf("replay: %+v", ev)
	}
	if ev := next(t, ch); ev.Type != "DELETED" {
		t.Fatalf("replay: %+v", ev)
	}
	stop2()
	ch, stop3 := a.watch("/api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	if ev := next(t, ch); ev.Type != "ADDED" || ev.Object.Metadata.Name != "default" {
		t.Fatalf("initial event: %+v", ev)
	}
	if ev := next(t, ch); ev.Type != "BOOKMARK" || ev.Object.Metadata.Annotations["k8s.io/initial-events-end"] != "true" {
		t.Fatalf("after the initial events: %+v", ev)
	}
	stop3()
	ch, stop4 := a.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1")
	if ev := next(t, ch); ev.Type != "ERROR" || ev.Object.Code != http.StatusGone || ev.Object.Reason != "Expired" {
		t.Fatalf("a watch from a resourceVersion long gone: %+v", ev)
	}
	stop4()

	// A pod whose process ignores SIGTERM takes its grace period to go;
	// DELETE does not wait for it.
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"slow"},"spec":{"terminationGracePeriodSeconds":5,
		"containers":[{"name":"c","image":"docker.io/library/busybox:1.36","command":["sleep","3600"]}]}}`
	var created corev1.Pod
	a.call(http.MethodPost, "/api/v1/namespaces/default/pods", pod, http.StatusCreated, &created)
	if created.UID == "" || created.ResourceVersion == "" {
		t.Fatalf("created pod: %+v", created.ObjectMeta)
	}
	ch, stop5 := a.watch("/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name=slow&resourceVersion=" + created.ResourceVersion)
	defer stop5()
	eventually(t, 60*time.Second, "pod slow running", func() bool {
		var p corev1.Pod
		a.call(http.MethodGet, "/api/v1/namespaces/default/pods/slow", "", http.StatusOK, &p)
		return p.Status.Phase == corev1.PodRunning
	})
	// Events carry a creationTimestamp (kubectl's AGE); those of a pod go
	// with it.
	var events corev1.EventList
	a.call(http.MethodGet, "/api/v1/namespaces/default/events", "", http.StatusOK, &events)
	if len(events.Items) == 0 {
		t.Fatal("no events")
	}
	for _, ev := range events.Items {
		if ev.CreationTimestamp.IsZero() {
			t.Fatalf("event %s has no creationTimestamp", ev.Name)
		}
	}
	start := time.Now()
	var deleted corev1.Pod
	a.call(http.MethodDelete, "/api/v1/namespaces/default/pods/slow", "", http.StatusOK, &deleted)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("DELETE took %v: it waited for the pod to stop", took)
	}
	if deleted.DeletionTimestamp == nil {
		t.Fatal("the DELETE's answer has no deletionTimestamp")
	}
	var again corev1.Pod
	a.call(http.MethodDelete, "/api/v1/namespaces/default/pods/slow", "", http.StatusOK, &again)
	if again.DeletionTimestamp == nil || !again.DeletionTimestamp.Equal(deleted.DeletionTimestamp) {
		t.Fatalf("the second DELETE: deletionTimestamp %v, want %v", again.DeletionTimestamp, deleted.DeletionTimestamp)
	}
	for {
		ev := next(t, ch)
		if ev.Type == "DELETED" {
			break
		}
	}
	a.call(http.MethodGet, "/api/v1/namespaces/default/pods/slow", "", http.StatusNotFound, nil)

}

const streamPod = `apiVersion: v1
kind: Pod
metadata:
  name: stream
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo served-on-loopback > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
  - name: other
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`

// TestKubectlExecPortForward: kubectl exec passes stdin, stdout, stderr
// and the command's exit code; kubectl port-forward reaches a port the pod
// listens on only on its own loopback.
func TestKubectlExecPortForward(t *testing.T) {
	e := newEnv(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			k := e.kubectl(v)
			k.mustStdin(streamPod, "apply", "-f", "-")
			defer k.run("", "delete", "pod", "stream", "--wait=true")
			k.must("wait", "--for=condition=Ready", "pod/stream", "--timeout=60s")

			out, errs, code := k.run("", "exec", "stream", "-c", "other", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
			if code != 3 || out != "out\n" || !strings.Contains(errs, "err\n") {
				t.Fatalf("exec of a failing command: exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if out, errs, code := k.run("hello through stdin\n", "exec", "-i", "stream", "-c", "other", "--", "cat"); code != 0 || out != "hello through stdin\n" {
				t.Fatalf("exec -i cat: exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if out := k.must("exec", "stream", "-c", "web", "--", "cat", "/www/index.html"); out != "served-on-loopback\n" {
				t.Fatalf("exec in the web container: %q", out)
			}

			// Server-side apply: of a change to the pod's labels, and of a
			// pod that does not exist, which creates it.
			relabeled := strings.Replace(streamPod, "  name: stream\n", "  name: stream\n  labels:\n    applied: server-side\n", 1)
			if out := k.mustStdin(relabeled, "apply", "--server-side", "-f", "-"); strings.TrimSpace(out) != "pod/stream serverside-applied" {
				t.Fatalf("apply --server-side printed %q", out)
			}
			if out := k.must("get", "pod", "stream", "-o", `jsonpath={.metadata.labels.applied} {.metadata.managedFields[?(@.operation=="Apply")].manager}`); out != "server-side kubectl" {
				t.Fatalf("after apply --server-side: %q", out)
			}
			respec := strings.Replace(relabeled, "sleep\", \"3600", "sleep\", \"3601", 1)
			if _, errs, code := k.run(respec, "apply", "--server-side", "-f", "-"); code == 0 || !strings.Contains(errs, "Forbidden: pod updates may not change fields") {
				t.Fatalf("apply --server-side of a spec change was not refused (exit %d): %s", code, errs)
			}
			ssa := strings.Replace(strings.Split(streamPod, "  - name: other")[0], "name: stream", "name: ssa", 1)
			if out := k.mustStdin(ssa, "apply", "--server-side", "-f", "-"); strings.TrimSpace(out) != "pod/ssa serverside-applied" {
				t.Fatalf("apply --server-side of a new pod printed %q", out)
			}
			k.must("delete", "pod", "ssa")

			lines, stop := k.watchLines("port-forward", "pod/stream", ":8080")
			defer stop()
			l := awaitLine(t, lines, `^Forwarding from 127\.0\.0\.1:\d+ -> 8080$`)
			port := regexp.MustCompile(`:(\d+) ->`).FindStringSubmatch(l)[1]
			curl := exec.Command("curl", "-sS", "--max-time", "10", "http://127.0.0.1:"+port+"/")
			body, err := curl.CombinedOutput()
			if err != nil || string(body) != "served-on-loopback\n" {
				t.Fatalf("curl through port-forward: %v: %q", err, body)
			}
		})
	}
}
