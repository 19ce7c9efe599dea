package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipod/minipod/manifest"
)

// The pattern examples of examples/, run as a newcomer runs them: the
// images built by scripts/build-demo-images.sh and loaded, then
// `minipod run` on the files as they are in the repository.

var demoImages struct {
	once sync.Once
	dir  string
	err  error
}

// loadDemoImages builds the demo images once per test binary and loads the
// named ones into e's daemon.
func (e *env) loadDemoImages(names ...string) {
	e.t.Helper()
	demoImages.once.Do(func() {
		demoImages.dir = filepath.Join(suite.dir, "demo-images")
		cmd := exec.Command("bash", filepath.Join(suite.repo, "scripts/build-demo-images.sh"), "-o", demoImages.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			demoImages.err = fmt.Errorf("failed to build the demo images: %v\n%s", err, out)
		}
	})
	if demoImages.err != nil {
		e.t.Fatal(demoImages.err)
	}
	for _, n := range names {
		e.mustRun("image", "load", filepath.Join(demoImages.dir, n+".tar"))
	}
}

func example(path string) string {
	return filepath.Join(suite.repo, "examples", path)
}

// collectorLines reads what the collector pod received, from GET /lines.
func collectorLines(t *testing.T, ip string) []string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s:9001/lines", ip))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// waitLines waits until the collector holds at least n lines and returns
// them all.
func waitLines(t *testing.T, ip string, n int) []string {
	t.Helper()
	var got []string
	eventually(t, 30*time.Second, fmt.Sprintf("%d lines at the collector", n), func() bool {
		got = nonEmpty(collectorLines(t, ip))
		return len(got) >= n
	})
	return got
}

func nonEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// request GETs path on the pod's port 8080 from the host, retrying until
// the app answers.
func request(t *testing.T, ip, path string) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	eventually(t, 15*time.Second, "GET "+path+" from "+ip, func() bool {
		resp, err := c.Get(fmt.Sprintf("http://%s:8080%s", ip, path))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK
	})
}

// shipsLineForLine is the sidecar's point: n requests to the app in pod,
// and the collector receives exactly the n access-log lines the app wrote,
// line for line, in order.
func shipsLineForLine(t *testing.T, e *env, pod, app, logPath string) {
	t.Helper()
	collector := e.pod("log-collector").Status.PodIP
	ip := e.pod(pod).Status.PodIP
	const n = 5
	for i := range n {
		request(t, ip, fmt.Sprintf("/req-%d", i))
	}
	got := waitLines(t, collector, n)
	if len(got) != n {
		t.Fatalf("collector received %d lines, want %d:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	written, code := e.exec(pod, app, "cat", logPath)
	if code != 0 {
		t.Fatalf("cat %s: exit %d: %s", logPath, code, written)
	}
	want := nonEmpty(strings.Split(written, "\n"))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("collector received:\n%s\nthe app wrote:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, l := range got {
		if !strings.Contains(l, fmt.Sprintf(`"GET /req-%d HTTP/1.1" 200 `, i)) {
			t.Fatalf("line %d is not request %d in common log format: %q", i, i, l)
		}
	}
}

func TestExampleSidecar(t *testing.T) {
	e := newEnv(t)
	e.loadDemoImages("log-collector", "webapp", "log-shipper")
	e.mustRun("run", example("log-collector/pod.yaml"))
	e.mustRun("run", example("sidecar/pod.yaml"))
	shipsLineForLine(t, e, "web", "app", "/var/log/webapp/access.log")
	// The shipper read the shared volume read-only.
	if _, code := e.exec("web", "log-shipper", "touch", "/var/log/webapp/x"); code == 0 {
		t.Fatal("the log-shipper could write the app's log volume")
	}
	e.mustRun("delete", "-f", example("sidecar/pod.yaml"))
	e.mustRun("delete", "-f", example("log-collector/pod.yaml"))
	e.assertNoLeaks()
}

func TestExampleSimpleWebapp(t *testing.T) {
	e := newEnv(t)
	e.loadDemoImages("log-collector", "simple-webapp", "log-agent")
	e.mustRun("run", example("log-collector/pod.yaml"))
	e.mustRun("run", example("simple-webapp/pod.yaml"))
	shipsLineForLine(t, e, "simple-webapp", "simple-webapp", "/var/log/webapp/access.log")
	e.mustRun("delete", "-f", example("simple-webapp/pod.yaml"))
	e.mustRun("delete", "-f", example("log-collector/pod.yaml"))
	e.assertNoLeaks()
}

// TestExampleAdapter: two apps log in two formats; the collector receives
// only JSON objects with the fixed keys, from both.
func TestExampleAdapter(t *testing.T) {
	e := newEnv(t)
	e.loadDemoImages("log-collector", "webapp", "log-adapter")
	e.mustRun("run", example("log-collector/pod.yaml"))
	e.mustRun("run", example("adapter/pod.yaml"))
	collector := e.pod("log-collector").Status.PodIP
	apps := []string{"shop", "billing"}
	const n = 3
	for _, app := range apps {
		ip := e.pod(app).Status.PodIP
		for i := range n {
			request(t, ip, fmt.Sprintf("/%s-%d", app, i))
		}
	}
	got := waitLines(t, collector, len(apps)*n)
	if len(got) != len(apps)*n {
		t.Fatalf("collector received %d lines, want %d:\n%s", len(got), len(apps)*n, strings.Join(got, "\n"))
	}
	wantKeys := []string{"bytes", "client", "method", "path", "source", "status", "time"}
	paths := map[string][]string{}
	for _, l := range got {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("collector received a line that is not JSON: %q: %v", l, err)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("line %q has keys %v, want %v", l, keys, wantKeys)
		}
		var rec struct {
			Time   time.Time
			Client string
			Method string
			Path   string
			Status int
			Bytes  int
			Source string
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(l)))
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if rec.Method != "GET" || rec.Status != 200 || rec.Bytes <= 0 || rec.Client == "" || rec.Time.IsZero() {
			t.Fatalf("line %q lost fields in conversion: %+v", l, rec)
		}
		paths[rec.Source] = append(paths[rec.Source], rec.Path)
	}
	for _, app := range apps {
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("/%s-%d", app, i))
		}
		if !reflect.DeepEqual(paths[app], want) {
			t.Fatalf("source %s: paths %v, want %v (all: %v)", app, paths[app], want, paths)
		}
	}
	// The apps really log in two formats; only the adapters made them one.
	if out, _ := e.exec("billing", "app", "cat", "/var/log/app/access.log"); !strings.HasPrefix(out, "time=") {
		t.Fatalf("billing does not log key=value: %q", out)
	}
	if out, _ := e.exec("shop", "app", "cat", "/var/log/app/access.log"); !strings.Contains(out, `"GET /shop-0 HTTP/1.1" 200`) {
		t.Fatalf("shop does not log the common log format: %q", out)
	}
	e.mustRun("delete", "-f", example("adapter/pod.yaml"))
	e.mustRun("delete", "-f", example("log-collector/pod.yaml"))
	e.assertNoLeaks()
}

// TestExampleAmbassador: switching only the ambassador's ConfigMap changes
// which database the app reads, with the app's container spec unchanged.
func TestExampleAmbassador(t *testing.T) {
	e := newEnv(t)
	e.loadDemoImages("kvdb", "ambassador", "db-client")
	e.mustRun("run", example("ambassador/databases.yaml"))

	devFile := example("ambassador/pod.yaml")
	dev, err := os.ReadFile(devFile)
	if err != nil {
		t.Fatal(err)
	}
	const devTarget, prodTarget = `DB_TARGET: "db-dev:6379"`, `DB_TARGET: "db-prod:6379"`
	if bytes.Count(dev, []byte(devTarget)) != 1 {
		t.Fatalf("%s does not set %s once", devFile, devTarget)
	}
	prod := bytes.Replace(dev, []byte(devTarget), []byte(prodTarget), 1)
	prodFile := e.writeFile("pod-prod.yaml", string(prod))

	// The edit touched the ConfigMap only: the two files' pods are equal.
	devM, err := manifest.Parse(devFile, dev)
	if err != nil {
		t.Fatal(err)
	}
	prodM, err := manifest.Parse(prodFile, prod)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(devM.Pods, prodM.Pods) || prodM.ConfigMaps[0].Data["DB_TARGET"] != "db-prod:6379" {
		t.Fatal("switching the database changed more than the ConfigMap")
	}

	var specs []string
	for _, run := range []struct{ file, want string }{
		{devFile, "hello from dev"},
		{prodFile, "hello from prod"},
	} {
		e.mustRun("run", run.file)
		ip := e.pod("app").Status.PodIP
		httpGet(t, fmt.Sprintf("http://%s:8080/", ip), run.want)
		if got, _ := e.exec("app", "app", "sh", "-c", `echo "GET stage" | nc localhost 6379`); !strings.Contains(got, "VALUE "+strings.TrimPrefix(run.want, "hello from ")) {
			t.Fatalf("localhost:6379 inside the pod answered %q", got)
		}
		spec, err := json.Marshal(e.pod("app").Spec.Containers[0])
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, string(spec))
		e.mustRun("delete", "-f", run.file)
	}
	if specs[0] != specs[1] {
		t.Fatalf("the app's container spec differs between stages:\n%s\n%s", specs[0], specs[1])
	}
	e.mustRun("delete", "-f", example("ambassador/databases.yaml"))
	e.assertNoLeaks()
}

// TestExampleManifests: every example file reads cleanly, without
// warnings, and names only images that build-demo-images.sh builds (or the
// busybox image) with a pull policy that never needs a registry.
func TestExampleManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example manifests found: %v", err)
	}
	script, err := os.ReadFile(filepath.Join("..", "scripts", "build-demo-images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			m, err := manifest.ReadFile(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Fatalf("warnings: %v", m.Warnings)
			}
			for _, p := range m.Pods {
				for _, c := range p.Spec.Containers {
					if c.ImagePullPolicy != "IfNotPresent" {
						t.Errorf("pod %s container %s: imagePullPolicy %s needs a registry", p.Name, c.Name, c.ImagePullPolicy)
					}
					ref := c.Image
					if !strings.Contains(ref, "/") {
						ref = "docker.io/library/" + ref
					}
					if !bytes.Contains(script, []byte(ref)) && ref != "docker.io/library/busybox:1.36" {
						t.Errorf("pod %s container %s: image %s is not built by scripts/build-demo-images.sh", p.Name, c.Name, c.Image)
					}
				}
			}
		})
	}
}
