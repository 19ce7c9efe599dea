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
	dir := buildDemoImages(e.t)
	for _, n := range names {
		e.mustRun("image", "load", filepath.Join(dir, n+".tar"))
	}
}

// buildDemoImages runs scripts/build-demo-images.sh once per test binary
// and returns the directory of its archives.
func buildDemoImages(t *testing.T) string {
	t.Helper()
	demoImages.once.Do(func() {
		demoImages.dir = filepath.Join(suite.dir, "demo-images")
		cmd := exec.Command("bash", filepath.Join(suite.repo, "scripts/build-demo-images.sh"), "-o", demoImages.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			demoImages.err = fmt.Errorf("failed to build the demo images: %v\n%s", err, out)
		}
	})
	if demoImages.err != nil {
		t.Fatal(demoImages.err)
	}
	return demoImages.dir
}

// TestDemoImageArchives: each archive of build-demo-images.sh holds one
// image, so that the READMEs' `skopeo copy oci-archive:_output/images/NAME.tar
// docker://...` needs no choosing ("more than one image in oci").
func TestDemoImageArchives(t *testing.T) {
	requireSuite(t)
	testutilRequireTool(t, "skopeo")
	dir := buildDemoImages(t)
	archives, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil || len(archives) < 9 {
		t.Fatalf("archives in %s: %v (%v), want the nine of build-demo-images.sh", dir, archives, err)
	}
	for _, a := range archives {
		out, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+a).CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect oci-archive:%s: %v\n%s", filepath.Base(a), err, out)
		}
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

// theLines are the lines of a command's output that are not empty.
func theLines(out string) []string { return nonEmpty(strings.Split(out, "\n")) }

// count tells how many of lines contain s.
func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestExampleSidecar follows examples/sidecar/README.md, including its
// experiment: the collector is deleted, two requests are made while it is
// away, a new collector pod starts, and it receives those two lines, each
// once.
func TestExampleSidecar(t *testing.T) {
	e := newEnv(t)
	l := e.lesson("examples/sidecar/README.md")
	l.step("sudo scripts/build-demo-images.sh --load")
	e.loadDemoImages("log-collector", "webapp", "log-shipper")
	l.ok("minipod run examples/log-collector/pod.yaml")
	l.ok("minipod run examples/sidecar/pod.yaml")
	l.ready(30*time.Second, "minipod get pods -o wide", "web 2/2 Running", "log-collector 1/1 Running")

	l.ok(`IP=$(minipod get pod web -o json | grep -o '"podIP": "[^"]*"' | cut -d'"' -f4)`)
	l.see("curl http://$IP:8080/hello", "hello from web, you asked for /hello")
	l.seeSoon(15*time.Second, "minipod logs log-collector", `"GET /hello HTTP/1.1" 200 37`)
	l.see("minipod logs web -c log-shipper", "connected to log-collector:9000", "shipped line 1: ")

	l.ok("minipod describe pod web")
	written := theLines(l.ok("minipod exec web -c app -- cat /var/log/webapp/access.log"))
	l.fails("minipod exec web -c log-shipper -- touch /var/log/webapp/x", "Read-only file system")
	l.see("minipod exec web -c log-shipper -- cat /etc/hosts", "log-collector")
	got := theLines(l.ok("minipod exec web -c log-shipper -- wget -qO- http://log-collector:9001/lines"))
	if !reflect.DeepEqual(got, written) {
		t.Fatalf("the collector holds:\n%s\nthe app wrote:\n%s", strings.Join(got, "\n"), strings.Join(written, "\n"))
	}
	l.ok("minipod run --dry-run examples/sidecar/pod.yaml")

	// Stop the collector, and start it again.
	l.ok("minipod delete pod log-collector")
	l.see("curl http://$IP:8080/while-away-1", "while-away-1")
	l.see("curl http://$IP:8080/while-away-2", "while-away-2")
	l.seeSoon(15*time.Second, "minipod logs web -c log-shipper", "line 2 not delivered: ", "trying again in ")
	l.ok("minipod run examples/log-collector/pod.yaml")
	l.says("/while-away-1", "/while-away-2", "each once", "shipped line 3", "The line of\n`/hello` is not there")
	got = theLines(l.seeSoon(30*time.Second, "minipod exec web -c log-shipper -- wget -qO- http://log-collector:9001/lines",
		"/while-away-1", "/while-away-2"))
	if len(got) != 2 || count(got, `"GET /while-away-1 HTTP/1.1" 200`) != 1 || count(got, `"GET /while-away-2 HTTP/1.1" 200`) != 1 {
		t.Fatalf("the new collector holds, after the shipper's retries:\n%s\nwant the two lines of /while-away-1 and /while-away-2, each once", strings.Join(got, "\n"))
	}
	l.see("minipod logs web -c log-shipper", "shipped line 3")

	// The collector's own README, by hand, from the sidecar's pod.
	lc := e.lesson("examples/log-collector/README.md")
	lc.see(`minipod exec web -c log-shipper -- sh -c 'echo "hello collector" | nc log-collector 9000'`, "ok")
	lc.see("minipod exec web -c log-shipper -- wget -qO- http://log-collector:9001/lines", "hello collector")
	lc.see("minipod exec log-collector -c collector -- tail /var/log/collector/all.log", "hello collector")

	l.ok("minipod delete -f examples/sidecar/pod.yaml")
	l.ok("minipod delete -f examples/log-collector/pod.yaml")
	e.assertNoLeaks()
}

// TestExampleSimpleWebapp follows examples/simple-webapp/README.md: the
// collector receives what the app wrote, line for line.
func TestExampleSimpleWebapp(t *testing.T) {
	e := newEnv(t)
	l := e.lesson("examples/simple-webapp/README.md")
	l.step("sudo scripts/build-demo-images.sh --load")
	e.loadDemoImages("log-collector", "simple-webapp", "log-agent")
	l.ok("minipod run examples/log-collector/pod.yaml")
	l.ok("minipod run examples/simple-webapp/pod.yaml")
	l.ready(30*time.Second, "minipod get pods -o wide", "simple-webapp 2/2 Running")
	l.ok(`IP=$(minipod get pod simple-webapp -o json | grep -o '"podIP": "[^"]*"' | cut -d'"' -f4)`)
	l.see("curl http://$IP:8080/hello", "hello from simple-webapp, you asked for /hello")
	l.seeSoon(15*time.Second, "minipod logs log-collector", `"GET /hello HTTP/1.1" 200 47`)
	l.see("minipod logs simple-webapp -c log-agent", "shipped line 1: ")
	l.see("minipod exec simple-webapp -c log-agent -- wget -qO- http://localhost:8080/", "hello from simple-webapp, you asked for /")
	l.ok("minipod describe pod simple-webapp")
	l.ok("minipod run --dry-run examples/simple-webapp/pod.yaml")

	// Line for line: what the app wrote is what the collector holds.
	collector := e.pod("log-collector").Status.PodIP
	written, code := e.exec("simple-webapp", "simple-webapp", "cat", "/var/log/webapp/access.log")
	if code != 0 {
		t.Fatalf("cat access.log: exit %d: %s", code, written)
	}
	want := theLines(written)
	got := waitLines(t, collector, len(want))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("collector received:\n%s\nthe app wrote:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	l.ok("minipod delete -f examples/simple-webapp/pod.yaml")
	l.ok("minipod delete -f examples/log-collector/pod.yaml")
	e.assertNoLeaks()
}

// TestExampleAdapter follows examples/adapter/README.md: two apps log in
// two formats; the collector receives only JSON objects with the fixed
// keys, from both.
func TestExampleAdapter(t *testing.T) {
	e := newEnv(t)
	l := e.lesson("examples/adapter/README.md")
	l.step("sudo scripts/build-demo-images.sh --load")
	e.loadDemoImages("log-collector", "webapp", "log-adapter")
	l.ok("minipod run examples/log-collector/pod.yaml")
	l.ok("minipod run examples/adapter/pod.yaml")
	l.ready(30*time.Second, "minipod get pods -o wide", "shop 2/2 Running", "billing 2/2 Running", "log-collector 1/1 Running")
	l.ok(`SHOP=$(minipod get pod shop -o json | grep -o '"podIP": "[^"]*"' | cut -d'"' -f4)`)
	l.ok(`BILLING=$(minipod get pod billing -o json | grep -o '"podIP": "[^"]*"' | cut -d'"' -f4)`)
	l.see("curl http://$SHOP:8080/cart", "hello from shop, you asked for /cart")
	l.see("curl http://$BILLING:8080/invoice", "hello from billing, you asked for /invoice")
	l.seeSoon(15*time.Second, "minipod logs log-collector",
		`"method":"GET","path":"/cart","status":200,"bytes":37,"source":"shop"}`,
		`"method":"GET","path":"/invoice","status":200,"bytes":43,"source":"billing"}`)
	l.ok("minipod logs billing -c adapter")
	l.see("minipod exec shop -c adapter -- wget -qO- http://log-collector:9001/lines", `"source":"shop"`, `"source":"billing"`)
	l.ok("minipod describe pod billing")
	l.ok("minipod run --dry-run examples/adapter/pod.yaml")

	// More requests, and every line the collector holds has the one format.
	collector := e.pod("log-collector").Status.PodIP
	apps := []string{"shop", "billing"}
	first := map[string]string{"shop": "/cart", "billing": "/invoice"}
	const n = 3
	for _, app := range apps {
		ip := e.pod(app).Status.PodIP
		for i := range n {
			request(t, ip, fmt.Sprintf("/%s-%d", app, i))
		}
	}
	got := waitLines(t, collector, len(apps)*(n+1))
	if len(got) != len(apps)*(n+1) {
		t.Fatalf("collector received %d lines, want %d:\n%s", len(got), len(apps)*(n+1), strings.Join(got, "\n"))
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
		want := []string{first[app]}
		for i := range n {
			want = append(want, fmt.Sprintf("/%s-%d", app, i))
		}
		if !reflect.DeepEqual(paths[app], want) {
			t.Fatalf("source %s: paths %v, want %v (all: %v)", app, paths[app], want, paths)
		}
	}
	// The apps really log in two formats; only the adapters made them one.
	if out := l.ok("minipod exec billing -c app -- cat /var/log/app/access.log"); !strings.HasPrefix(out, "time=") {
		t.Fatalf("billing does not log key=value: %q", out)
	}
	if out := l.ok("minipod exec shop -c app -- cat /var/log/app/access.log"); !strings.Contains(out, `"GET /shop-0 HTTP/1.1" 200`) {
		t.Fatalf("shop does not log the common log format: %q", out)
	}
	l.ok("minipod delete -f examples/adapter/pod.yaml")
	l.ok("minipod delete -f examples/log-collector/pod.yaml")
	e.assertNoLeaks()
}

// TestExampleAmbassador follows examples/ambassador/README.md: switching
// only the ambassador's ConfigMap changes which database the app reads,
// with the app's container spec unchanged; with its database gone, the app
// says so and its pod turns not ready.
func TestExampleAmbassador(t *testing.T) {
	e := newEnv(t)
	l := e.lesson("examples/ambassador/README.md")

	// The README's sed touches the ConfigMap only: the two files' pods are
	// equal.
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
	devM, err := manifest.Parse(devFile, dev)
	if err != nil {
		t.Fatal(err)
	}
	prodM, err := manifest.Parse("prod.yaml", prod)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(devM.Pods, prodM.Pods) || prodM.ConfigMaps[0].Data["DB_TARGET"] != "db-prod:6379" {
		t.Fatal("switching the database changed more than the ConfigMap")
	}
	appSpec := func() string {
		spec, err := json.Marshal(e.pod("app").Spec.Containers[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(spec)
	}

	l.step("sudo scripts/build-demo-images.sh --load")
	e.loadDemoImages("kvdb", "ambassador", "db-client")
	l.ok("minipod run examples/ambassador/databases.yaml")
	l.ok("minipod run examples/ambassador/pod.yaml")
	l.ready(30*time.Second, "minipod get pods -o wide", "app 2/2 Running")
	getIP := `IP=$(minipod get pod app -o json | grep -o '"podIP": "[^"]*"' | cut -d'"' -f4)`
	l.ok(getIP)
	l.see("curl http://$IP:8080/", "hello from dev")
	l.see("minipod logs app -c app", "db-client: GET greeting -> hello from dev")
	devSpec := appSpec()

	l.ok("minipod delete -f examples/ambassador/pod.yaml")
	l.ok("sed 's/db-dev:6379/db-prod:6379/' examples/ambassador/pod.yaml | minipod run -")
	l.ok(getIP)
	l.seeSoon(15*time.Second, "curl http://$IP:8080/", "hello from prod")
	l.see("minipod logs app -c ambassador", "relaying 127.0.0.1:6379 -> db-prod:6379")
	if prodSpec := appSpec(); prodSpec != devSpec {
		t.Fatalf("the app's container spec differs between stages:\n%s\n%s", devSpec, prodSpec)
	}
	l.see(`minipod exec app -c app -- sh -c 'echo "GET stage" | nc localhost 6379'`, "VALUE prod")
	l.see("minipod exec app -c ambassador -- env | grep DB_TARGET", "DB_TARGET=db-prod:6379")
	l.ok("minipod describe pod app")
	l.ok("minipod run --dry-run examples/ambassador/pod.yaml")

	// The database goes away: no stale answer, and the pod turns not ready.
	l.ok("minipod delete pod db-prod")
	l.seeSoon(15*time.Second, "curl http://$IP:8080/", "no answer from the database at localhost:6379: ")
	l.ready(30*time.Second, "minipod get pods", "app 1/2 Running")

	l.ok("minipod delete -f examples/ambassador/pod.yaml")
	l.ok("minipod delete -f examples/ambassador/databases.yaml --ignore-not-found")
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

// TestExampleHelloPod follows examples/hello-pod/README.md: the poller
// reaches web over localhost and reads its file from the shared volume,
// and never shows an error because it started first.
func TestExampleHelloPod(t *testing.T) {
	e := newEnv(t)
	l := e.lesson("examples/hello-pod/README.md")
	l.ok("minipod run examples/hello-pod/pod.yaml")
	l.ready(30*time.Second, "minipod get pods -o wide", "hello 2/2 Running")
	page := "hello from hello, served by the web container"
	out := l.seeSoon(20*time.Second, "minipod logs hello -c poller", "over localhost: "+page, "from the shared volume: "+page)
	for _, line := range theLines(out) {
		if !strings.Contains(line, page) && !strings.Contains(line, "web does not answer on localhost:8080 yet (it starts with this container); waiting") {
			t.Fatalf("the poller logged %q:\n%s", line, out)
		}
	}
	l.see("minipod logs hello -c web", "127.0.0.1")
	l.see("minipod exec hello -c poller -- wget -qO- http://localhost:8080/", page)
	l.fails("minipod exec hello -c poller -- touch /shared/x", "Read-only file system")
	l.see("minipod exec hello -c web -- hostname", "hello")
	l.ok("minipod describe pod hello")
	l.ok("minipod run --dry-run examples/hello-pod/pod.yaml")

	l.says("`terminationGracePeriodSeconds` (5 s)")
	start := time.Now()
	l.ok("minipod delete -f examples/hello-pod/pod.yaml")
	if d := time.Since(start); d < 4*time.Second {
		t.Fatalf("the delete took %s: web's httpd did not wait out the grace period as the README says", d)
	}
	e.assertNoLeaks()
}
