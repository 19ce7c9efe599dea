package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/testutil"
	"github.com/minipod/minipod/manifest"
	corev1 "k8s.io/api/core/v1"
)

// playwrightVersion is the playwright-core the browser test installs from
// the npm registry into the user's cache; it drives Debian's chromium.
const playwrightVersion = "1.65.1"

// requireBrowser returns the node_modules holding playwright-core, after
// checking that node and chromium are there. Outside CI it skips when they
// are not; in CI it fails.
func requireBrowser(t *testing.T) string {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + " (scripts/install.sh --test installs chromium and node)"
		if testutil.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		fail("the browser test needs node: %v", err)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		fail("the browser test needs Debian's chromium: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		fail("no cache directory for playwright-core: %v", err)
	}
	dir := filepath.Join(cache, "minipod-e2e", "playwright-core-"+playwrightVersion)
	mod := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(mod, "playwright-core", "package.json")); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fail("failed to create %s: %v", dir, err)
		}
		out, err := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--ignore-scripts",
			"playwright-core@"+playwrightVersion).CombinedOutput()
		if err != nil {
			fail("failed to install playwright-core %s: %v\n%s", playwrightVersion, err, out)
		}
	}
	return mod
}

// artifactsDir is where the browser test keeps its screenshots:
// $MINIPOD_ARTIFACTS/<test> if set, else the test's temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("MINIPOD_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// A screenshot of an earlier run must not pass for this one's.
		old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	return dir
}

// liveExamples are the example files TestLiveView runs, in this order
// (the collector and the databases first: the others reach them by name).
var liveExamples = []string{
	"log-collector/pod.yaml", "ambassador/databases.yaml", "sidecar/pod.yaml", "adapter/pod.yaml",
	"ambassador/pod.yaml", "simple-webapp/pod.yaml", "hello-pod/pod.yaml",
}

// liveExtras is what a pod's page must show that its manifest does not
// declare: a log line each program writes once it works (one that stays
// among the last lines the page keeps), a socket the manifest declares no
// port for, the names a pod reaches other pods by.
var liveExtras = map[string]struct {
	logContainer, logText string
	listens               map[string][]string // container -> "ADDRESS:PORT"s beyond its containerPorts
	reaches               []string
}{
	"log-collector": {logContainer: "collector", logText: "connected"},                           // its readiness probe connects every 2 s
	"db-dev":        {logContainer: "kvdb", logText: `"GET greeting" -> "VALUE hello from dev"`}, // asked every 2 s by app
	"db-test":       {logContainer: "kvdb", logText: "kvdb: serving 2 keys on :6379"},
	"db-prod":       {logContainer: "kvdb", logText: "kvdb: serving 2 keys on :6379"},
	"web":           {logContainer: "log-shipper", logText: "following /var/log/webapp/access.log", reaches: []string{"log-collector"}},
	"shop":          {logContainer: "adapter", logText: "log-adapter: following /var/log/app/access.log", reaches: []string{"log-collector"}},
	"billing":       {logContainer: "adapter", logText: "log-adapter: following /var/log/app/access.log", reaches: []string{"log-collector"}},
	"app": {logContainer: "app", logText: "db-client: GET greeting -> hello from dev",
		listens: map[string][]string{"ambassador": {"127.0.0.1:6379"}}, reaches: []string{"db-dev", "db-test", "db-prod"}},
	"simple-webapp": {logContainer: "simple-webapp", logText: "webapp: serving on :8080", reaches: []string{"log-collector"}},
	"hello":         {logContainer: "poller", logText: "over localhost: hello from hello, served by the web container"},
}

// livePod is what the browser must find on one pod's page: the manifest's
// containers, ports and mounts, and the host's facts as `minipod describe
// pod --host` reads them (e2e/testdata/liveview/browse.cjs reads it).
type livePod struct {
	Name       string          `json:"name"`
	IP         string          `json:"ip"`
	Veth       string          `json:"veth"`
	NetNS      string          `json:"netns"`
	Cgroup     string          `json:"cgroup"`
	Shim       string          `json:"shim"`
	Containers []liveContainer `json:"containers"`
	Volumes    []liveVolume    `json:"volumes"`
	Hosts      []string        `json:"hosts"`
	Log        [2]string       `json:"log"` // container, text
}

type liveContainer struct {
	Name    string   `json:"name"`
	Listens []string `json:"listens"` // ":PORT" or "ADDRESS:PORT"
	Ports   []string `json:"ports"`   // "8080/TCP"
	Probes  []string `json:"probes"`  // "readiness", "liveness", "startup"
}

type liveVolume struct {
	Name     string            `json:"name"`
	HostPath string            `json:"hostPath"`
	Mounts   map[string]string `json:"mounts"` // container -> the label of its mount
}

// livePods reads what each example pod's page must show: the containers,
// ports and mounts of the manifests, the host's side from the running pods.
func (e *env) livePods() []livePod {
	e.t.Helper()
	var pods []livePod
	for _, f := range liveExamples {
		mf, err := manifest.ReadFile(example(f), nil)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range mf.Pods {
			extra, ok := liveExtras[p.Name]
			if !ok {
				e.t.Fatalf("TestLiveView knows nothing of pod %s of %s: add it to liveExtras", p.Name, f)
			}
			var view api.HostView
			e.eventuallyView(p.Name, &view, func(v *api.HostView) bool {
				if v.Veth.Host == "" || v.Shim.PID == 0 {
					return false
				}
				for _, c := range v.Containers {
					if c.PID == 0 || !c.Ready {
						return false
					}
				}
				return true
			})
			lp := livePod{Name: p.Name, IP: view.PodIP, Veth: view.Veth.Host, NetNS: view.NetNS.Name, Cgroup: view.Cgroup.Path,
				Shim: fmt.Sprint(view.Shim.PID), Hosts: extra.reaches, Log: [2]string{extra.logContainer, extra.logText}}
			mounts := map[string]map[string]string{}
			for _, c := range p.Spec.Containers {
				lc := liveContainer{Name: c.Name, Listens: extra.listens[c.Name]}
				for _, port := range c.Ports {
					lc.Listens = append(lc.Listens, fmt.Sprintf(":%d", port.ContainerPort))
					lc.Ports = append(lc.Ports, fmt.Sprintf("%d/%s", port.ContainerPort, port.Protocol))
				}
				for kind, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
					if pr != nil {
						lc.Probes = append(lc.Probes, kind)
					}
				}
				lp.Containers = append(lp.Containers, lc)
				for _, m := range c.VolumeMounts {
					if mounts[m.Name] == nil {
						mounts[m.Name] = map[string]string{}
					}
					rw := "read-write"
					if m.ReadOnly {
						rw = "read-only"
					}
					mounts[m.Name][c.Name] = "mounts at " + m.MountPath + ", " + rw
				}
			}
			for _, v := range p.Spec.Volumes {
				lv := liveVolume{Name: v.Name, Mounts: mounts[v.Name]}
				for _, hv := range view.Volumes {
					if hv.Name == v.Name {
						lv.HostPath = hv.HostPath
					}
				}
				if lv.HostPath == "" {
					e.t.Fatalf("describe pod %s --host shows no host path for volume %s", p.Name, v.Name)
				}
				lp.Volumes = append(lp.Volumes, lv)
			}
			pods = append(pods, lp)
		}
	}
	return pods
}

// TestLiveView runs every example with the daemon's live view on, and
// looks at it as a person would: in Chromium, from the link `minipod ui`
// prints. The overview must show each pod and its IP; each pod's page must
// draw its IP, veth, network namespace, cgroup and shim, each container
// running and ready with the processes listening on its ports, each volume
// with its host path and who mounts it where (read-only or not), the names
// it reaches other pods by, and its log tail; a container killed from the
// host must show its restart on the page without a reload. Screenshots of
// each page are kept. It also checks the guards: no token, a foreign
// Host, another origin, a write, a login link used twice.
func TestLiveView(t *testing.T) {
	modules := requireBrowser(t)
	art := artifactsDir(t)
	t.Logf("screenshots in %s", art)
	e := newEnv(t, withDaemonArgs("--ui", "127.0.0.1:0"))
	e.loadDemoImages("log-collector", "webapp", "log-shipper", "log-adapter", "kvdb", "db-client", "ambassador", "simple-webapp", "log-agent")
	for _, f := range liveExamples {
		e.mustRun("run", example(f))
	}
	defer func() {
		for i := len(liveExamples) - 1; i >= 0; i-- {
			e.mustRun("delete", "-f", example(liveExamples[i]))
		}
		e.assertNoLeaks()
	}()
	specs := e.livePods()
	spec := filepath.Join(t.TempDir(), "pods.json")
	if b, err := json.MarshalIndent(specs, "", "  "); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(spec, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// The token file and the link.
	fi, err := os.Stat(filepath.Join(e.root, "ui-token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ui-token has mode %v, want 0600", fi.Mode().Perm())
	}
	token, _ := os.ReadFile(filepath.Join(e.root, "ui-token"))
	link := strings.TrimSpace(e.mustRun("ui"))
	u, err := url.Parse(link)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Path != "/login" {
		t.Fatalf("minipod ui printed %q, want http://127.0.0.1:PORT/login?key=...", link)
	}
	base := "http://" + u.Host

	// What the terminal says about the pod on the host.
	var view api.HostView
	hostText := e.mustRun("describe", "pod", "web", "--host")
	e.eventuallyView("web", &view, func(v *api.HostView) bool {
		return v.Veth.Host != "" && len(v.Listening) > 0 && v.Containers[0].PID > 0
	})
	pod := e.pod("web")
	for _, want := range []string{pod.Status.PodIP, view.Veth.Host, view.Bridge.Name, view.NetNS.Path, view.Volumes[0].HostPath, view.Cgroup.Path,
		"mounted by log-shipper at /var/log/webapp, read-only", "log-collector"} {
		if !strings.Contains(hostText, want) {
			t.Errorf("describe pod web --host does not show %q:\n%s", want, hostText)
		}
	}

	// The dry run of a second web pod names the running pods of the
	// namespace in its /etc/hosts, as the daemon will write them.
	dry := e.mustRun("run", "--dry-run", example("sidecar/pod.yaml"))
	collector := e.pod("log-collector").Status.PodIP
	if !strings.Contains(dry, "| "+collector+"  log-collector log-collector.default") {
		t.Errorf("the dry run's /etc/hosts lacks the running log-collector (%s):\n%s", collector, dry)
	}
	// It reads the images' configs from the daemon, which has them, and
	// says which image it does not have.
	for _, want := range []string{
		"- docker.io/minipod/webapp:1.0 is on this host; its config, which the containers below start from:",
		"-   entrypoint /usr/local/bin/webapp, cmd (none)",
		"runs /usr/local/bin/webapp --listen=:8080 --access-log=/var/log/webapp/access.log  (from the image's ENTRYPOINT + args of the pod)",
		"runs /usr/local/bin/log-shipper --file=/var/log/webapp/access.log --to=log-collector:9000",
	} {
		if !strings.Contains(dry, want) {
			t.Errorf("the dry run lacks %q:\n%s", want, dry)
		}
	}
	if strings.Contains(dry, "config not known") {
		t.Errorf("the dry run says an image's config is not known, though the daemon has both:\n%s", dry)
	}
	absent := e.mustRun("run", "--dry-run", e.writeFile("absent.yaml", `apiVersion: v1
kind: Pod
metadata: {name: absent}
spec:
  containers:
  - {name: app, image: "docker.io/minipod/absent:1.0"}
`))
	if want := "- docker.io/minipod/absent:1.0 is not on this host: the run pulls it first"; !strings.Contains(absent, want) {
		t.Errorf("the dry run of an image the daemon lacks does not say %q:\n%s", want, absent)
	}

	// The guards.
	get := func(method, path string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	bearer := "Bearer " + strings.TrimSpace(string(token))
	for _, c := range []struct {
		what   string
		method string
		path   string
		hdr    map[string]string
		want   int
	}{
		{"no token", "GET", "/", nil, http.StatusUnauthorized},
		{"no token, API", "GET", "/api/pods", nil, http.StatusUnauthorized},
		{"a wrong token", "GET", "/api/pods", map[string]string{"Authorization": "Bearer 00" + strings.TrimSpace(string(token))[2:]}, http.StatusUnauthorized},
		{"the token", "GET", "/api/pods", map[string]string{"Authorization": bearer}, http.StatusOK},
		{"a foreign Host (DNS rebinding)", "GET", "/api/pods", map[string]string{"Authorization": bearer, "Host": "attacker.example:" + u.Port()}, http.StatusForbidden},
		{"another origin", "GET", "/api/pods", map[string]string{"Authorization": bearer, "Origin": "http://attacker.example"}, http.StatusForbidden},
		{"a cross-site fetch", "GET", "/api/pods", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"a write", "POST", "/api/pods", map[string]string{"Authorization": bearer}, http.StatusMethodNotAllowed},
		{"the login link", "GET", u.RequestURI(), nil, http.StatusSeeOther},
		{"the login link again", "GET", u.RequestURI(), nil, http.StatusUnauthorized},
	} {
		if got := get(c.method, c.path, c.hdr); got != c.want {
			t.Errorf("%s: %s %s answered %d, want %d", c.what, c.method, c.path, got, c.want)
		}
	}

	// The browser, with a fresh link.
	link = strings.TrimSpace(e.mustRun("ui"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(suite.repo, "e2e/testdata/liveview/browse.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "ARTIFACTS="+art, "LOGIN_URL="+link,
		"PODS="+spec, "VICTIM_POD=web", "VICTIM=app")
	// Its own process group, so that the chromium it starts goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// node and its chromium, by the group id of the node this test
		// started, whatever happened.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	}()
	lines := bufio.NewScanner(stdout)
	var ready, restarted bool
	for lines.Scan() {
		line := lines.Text()
		t.Logf("browser: %s", line)
		switch {
		case strings.HasPrefix(line, "READY"):
			ready = true
			e.eventuallyView("web", &view, func(v *api.HostView) bool { return v.Containers[0].PID > 0 })
			pid := view.Containers[0].PID
			if view.Containers[0].Name != "app" {
				t.Fatalf("first container is %q, want app", view.Containers[0].Name)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("failed to kill app's process %d: %v", pid, err)
			}
			fmt.Fprintln(stdin, "KILLED")
		case strings.HasPrefix(line, "RESTARTED"):
			restarted = true
		}
	}
	err = cmd.Wait()
	if err != nil || !ready || !restarted {
		t.Fatalf("the browser test failed (%v):\n%s\ndaemon log tail:\n%s", err, stderr.String(), tail(e.daemonLog(), 30))
	}
	shots := []string{"overview.png", "pod-web-restarted.png"}
	for _, p := range specs {
		shots = append(shots, "pod-"+p.Name+".png")
	}
	for _, f := range shots {
		if fi, err := os.Stat(filepath.Join(art, f)); err != nil || fi.Size() < 10000 {
			t.Errorf("screenshot %s missing or empty: %v", f, err)
		}
	}
	if got := containerStatus(e.pod("web"), "app").RestartCount; got < 1 {
		t.Errorf("app has %d restarts after its kill, want 1", got)
	}
}

// eventuallyView waits until the pod's host view satisfies ok.
func (e *env) eventuallyView(name string, v *api.HostView, ok func(*api.HostView) bool) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "the host view of "+name, func() bool {
		out, _, code := e.run("describe", "pod", name, "--host", "-o", "json")
		if code != 0 {
			return false
		}
		*v = api.HostView{}
		return json.Unmarshal([]byte(out), v) == nil && len(v.Containers) > 0 && ok(v)
	})
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
