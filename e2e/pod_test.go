package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The seed's kind of pod: a web server and a second container that reach
// each other on localhost and share an emptyDir, plus a Memory emptyDir
// that is one tmpfs seen by both.
const sharedPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo hello-from-app > /shared/index.html && exec httpd -f -p 8080 -h /shared"]
    ports:
    - containerPort: 8080
      hostPort: %d
    volumeMounts:
    - name: shared
      mountPath: /shared
    - name: mem
      mountPath: /mem
  - name: agent
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    volumeMounts:
    - name: shared
      mountPath: /data
      readOnly: true
    - name: mem
      mountPath: /mem
  volumes:
  - name: shared
    emptyDir: {}
  - name: mem
    emptyDir:
      medium: Memory
      sizeLimit: 8Mi
`

func TestSharedNetworkAndVolumes(t *testing.T) {
	e := newEnv(t)
	hostPort := 18000 + int(envSeq.Load())
	out := e.apply(fmt.Sprintf(sharedPod, hostPort))
	if !strings.Contains(out, "web") || !strings.Contains(out, "Running") {
		t.Fatalf("run did not report web Running:\n%s", out)
	}
	pod := e.pod("web")
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
		t.Fatalf("pod is %s with IP %q", pod.Status.Phase, pod.Status.PodIP)
	}

	// localhost between containers: one network namespace.
	eventually(t, 10*time.Second, "httpd to answer on localhost", func() bool {
		got, code := e.exec("web", "agent", "wget", "-qO-", "http://127.0.0.1:8080/index.html")
		return code == 0 && strings.TrimSpace(got) == "hello-from-app"
	})
	// The same file through the shared emptyDir, read-only for the agent.
	if got, code := e.exec("web", "agent", "cat", "/data/index.html"); code != 0 || strings.TrimSpace(got) != "hello-from-app" {
		t.Fatalf("agent reads %q (exit %d) from the shared emptyDir", got, code)
	}
	if _, code := e.exec("web", "agent", "sh", "-c", "echo x > /data/x"); code == 0 {
		t.Fatal("a readOnly volumeMount was writable")
	}
	// The Memory emptyDir: one tmpfs, seen by both.
	if got, _ := e.exec("web", "agent", "sh", "-c", "grep ' /mem ' /proc/mounts"); !strings.Contains(got, "tmpfs") {
		t.Fatalf("/mem is not a tmpfs: %q", got)
	}
	if _, code := e.exec("web", "app", "sh", "-c", "echo in-memory > /mem/note"); code != 0 {
		t.Fatal("app cannot write the Memory emptyDir")
	}
	if got, _ := e.exec("web", "agent", "cat", "/mem/note"); strings.TrimSpace(got) != "in-memory" {
		t.Fatalf("agent reads %q from the Memory emptyDir", got)
	}
	// Shared UTS: the hostname is the pod's name in both; /etc/hosts maps it.
	for _, c := range []string{"app", "agent"} {
		if got, _ := e.exec("web", c, "hostname"); strings.TrimSpace(got) != "web" {
			t.Fatalf("hostname in %s is %q", c, got)
		}
	}
	if got, _ := e.exec("web", "agent", "cat", "/etc/hosts"); !strings.Contains(got, pod.Status.PodIP+"\tweb") {
		t.Fatalf("/etc/hosts lacks the pod IP line:\n%s", got)
	}

	// The pod IP answers from the host, and the hostPort on 127.0.0.1.
	httpGet(t, fmt.Sprintf("http://%s:8080/index.html", pod.Status.PodIP), "hello-from-app")
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", hostPort), "hello-from-app")

	// Logs: the container's output is in its CRI log file.
	e.mustRun("exec", "web", "-c", "agent", "--", "sh", "-c", "echo logged-line > /proc/1/fd/1")
	eventually(t, 10*time.Second, "the agent's log line", func() bool {
		out, _, _ := e.run("logs", "web", "-c", "agent")
		return strings.Contains(out, "logged-line")
	})

	out = e.mustRun("delete", "pod", "web")
	if !strings.Contains(out, `"web" deleted`) {
		t.Fatalf("delete said %q", out)
	}
	if _, _, code := e.run("get", "pod", "web"); code == 0 {
		t.Fatal("pod still listed after delete")
	}
	e.assertNoLeaks()
}

func httpGet(t *testing.T, url, want string) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var last string
	eventually(t, 10*time.Second, "GET "+url, func() bool {
		resp, err := c.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		last = string(b)
		return strings.TrimSpace(last) == want
	})
}

const podA = `apiVersion: v1
kind: Pod
metadata:
  name: pod-a
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: client
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
`

const podB = `apiVersion: v1
kind: Pod
metadata:
  name: pod-b
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: server
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo from-b > /www/index.html && exec httpd -f -p 80 -h /www"]
`

// TestPodToPod: pods reach each other by IP, and by name: a pod started
// later is resolvable, as <pod> and <pod>.<namespace>, from one started
// earlier; once deleted, it is not.
func TestPodToPod(t *testing.T) {
	e := newEnv(t)
	e.apply(podA)
	e.apply(podB)
	b := e.pod("pod-b")
	a := e.pod("pod-a")
	if a.Status.PodIP == b.Status.PodIP {
		t.Fatalf("two pods share IP %s", a.Status.PodIP)
	}
	for _, host := range []string{b.Status.PodIP, "pod-b", "pod-b.default"} {
		eventually(t, 10*time.Second, "pod-a to reach pod-b as "+host, func() bool {
			got, code := e.exec("pod-a", "client", "wget", "-qO-", "http://"+host+"/index.html")
			return code == 0 && strings.TrimSpace(got) == "from-b"
		})
	}
	if got, _ := e.exec("pod-b", "server", "cat", "/etc/hosts"); !strings.Contains(got, a.Status.PodIP+"\tpod-a pod-a.default") {
		t.Fatalf("pod-b's hosts file lacks pod-a:\n%s", got)
	}
	e.mustRun("delete", "pod", "pod-b")
	if got, _ := e.exec("pod-a", "client", "cat", "/etc/hosts"); strings.Contains(got, "pod-b") {
		t.Fatalf("pod-a still resolves the deleted pod-b:\n%s", got)
	}
	e.mustRun("delete", "-f", e.writeFile("pods.yaml", podA))
	e.assertNoLeaks()
}

func TestRollbackLeavesNothing(t *testing.T) {
	pluginDir := t.TempDir()
	// A CNI plugin that fails every ADD after the bridge allocated an IP,
	// and succeeds at DEL: the IP must still be freed.
	fake := "#!/bin/sh\ncat >/dev/null\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"injected CNI failure\"}'\n  exit 1\nfi\nif [ \"$CNI_COMMAND\" = VERSION ]; then echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\"]}'; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(pluginDir, "failing"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		manifest string
		step     string
	}{
		{"image absent with policy Never", `apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - name: c
    image: docker.io/library/absent:1.0
    imagePullPolicy: Never
`, "images"},
		{"hostPath File missing", `apiVersion: v1
kind: Pod
metadata: {name: nohostpath}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
    volumeMounts: [{name: f, mountPath: /f}]
  volumes:
  - name: f
    hostPath: {path: /nonexistent/minipod-e2e-file, type: File}
`, "volumes"},
	}
	e := newEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := e.run("run", e.writeFile("pod.yaml", tc.manifest))
			if code == 0 {
				t.Fatalf("run succeeded:\n%s", out)
			}
			if !strings.Contains(out+errs, fmt.Sprintf("step %q failed", tc.step)) {
				t.Fatalf("error does not name step %q:\n%s%s", tc.step, out, errs)
			}
			e.assertNoLeaks()
		})
	}

	// A container that cannot start is the container's failure, not the
	// pod's: as on a kubelet the pod stays, the other container runs, and
	// the failing one is retried with back-off (RunContainerError, then
	// CrashLoopBackOff over a StartError) until the pod is deleted.
	t.Run("second container command not found", func(t *testing.T) {
		out, errs, code := e.run("run", e.writeFile("pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: badcmd}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: good
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
  - name: bad
    image: docker.io/library/busybox:1.36
    command: ["/no/such/command"]
`))
		t.Logf("minipod run:\n%s%s", out, errs)
		if code == 0 {
			t.Fatalf("run succeeded for a container that cannot start:\n%s%s", out, errs)
		}
		for _, want := range []string{`container "bad" cannot start: RunContainerError`, "/no/such/command", "minipod describe pod badcmd", "minipod logs badcmd -c bad --previous"} {
			if !strings.Contains(out+errs, want) {
				t.Fatalf("run's output lacks %q:\n%s%s", want, out, errs)
			}
		}
		if strings.Contains(out+errs, "step ") {
			t.Fatalf("run names a failed step: the pod was undone:\n%s%s", out, errs)
		}
		eventually(t, 30*time.Second, "bad retried into CrashLoopBackOff over a StartError", func() bool {
			p := e.pod("badcmd")
			cs := containerStatus(p, "bad")
			last := cs.LastTerminationState.Terminated
			return cs.RestartCount >= 2 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" &&
				last != nil && last.Reason == "StartError" && last.ExitCode == 128
		})
		p := e.pod("badcmd")
		if good := containerStatus(p, "good"); good.State.Running == nil || good.RestartCount != 0 {
			t.Fatalf("the other container: %+v", good)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Fatalf("phase %s, want Running", p.Status.Phase)
		}
		desc := e.mustRun("describe", "pod", "badcmd")
		for _, want := range []string{"StartError", "Failed", "Error: ", "BackOff", "Back-off restarting failed container bad"} {
			if !strings.Contains(desc, want) {
				t.Fatalf("describe lacks %q:\n%s", want, desc)
			}
		}
		e.mustRun("delete", "pod", "badcmd")
		e.assertNoLeaks()
	})

	t.Run("CNI ADD fails", func(t *testing.T) {
		conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"mpt-fail","plugins":[
{"type":"bridge","bridge":"mptfail0","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.235.7.0/24"}]],"dataDir":%q}},
{"type":"failing"}]}`, filepath.Join(t.TempDir(), "ipam"))
		ef := newEnv(t, withDaemonArgs("--cni-conflist", e.writeFile("fail.conflist", conf), "--cni-plugin-dir", pluginDir, "--cni-plugin-dir", "/usr/lib/cni", "--cni-plugin-dir", "/opt/cni/bin"))
		t.Cleanup(func() { deleteLink("mptfail0") })
		out, errs, code := ef.run("run", ef.writeFile("pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: cnifail}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    command: ["sleep", "60"]
`))
		if code == 0 || !strings.Contains(out+errs, `step "CNI ADD" failed`) || !strings.Contains(out+errs, "injected CNI failure") {
			t.Fatalf("exit %d, want the CNI step named:\n%s%s", code, out, errs)
		}
		ef.assertNoLeaks()
		ipam := strings.TrimSuffix(strings.Split(conf, `"dataDir":"`)[1], `"}},
{"type":"failing"}]}`)
		entries, _ := os.ReadDir(filepath.Join(ipam, "mpt-fail"))
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), "10.") {
				t.Fatalf("IP reservation %s left after a failed ADD", en.Name())
			}
		}
	})
}

func TestBadManifestCreatesNothing(t *testing.T) {
	e := newEnv(t)
	file := e.writeFile("bad.yaml", `apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    imagePullPolice: Always
`)
	out, errs, code := e.run("run", file)
	if code == 0 {
		t.Fatalf("a bad manifest ran:\n%s", out)
	}
	want := `bad.yaml: document 1 (Pod "bad"): spec.containers[0]: unknown field "imagePullPolice"`
	if !strings.Contains(errs, want) {
		t.Fatalf("stderr does not say %q:\n%s", want, errs)
	}
	if got, _, _ := e.run("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Fatalf("pods exist after a bad manifest: %q", got)
	}
	e.assertNoLeaks()
}

func TestImagePullAndLoad(t *testing.T) {
	e := newEnv(t)
	testutilRequireTool(t, "docker-registry")
	testutilRequireTool(t, "skopeo")
	reg := startRegistry(t)
	ref := reg.addr + "/demo/busybox:1.36"
	copyToRegistry(t, suite.image, ref)
	pushed := reg.manifestRequests(t, "demo/busybox", "1.36")

	// A pull from the registry, with policy Always: minipod run pulls it
	// (showing progress) and the daemon does not pull it again.
	pulledPod := func(name string) string {
		return e.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: %s
    imagePullPolicy: Always
    command: ["sleep", "3600"]
`, name, ref))
	}
	if out := pulledPod("pulled"); !strings.Contains(out, "Running") {
		t.Fatalf("pulled pod not Running:\n%s", out)
	}
	if n := reg.manifestRequests(t, "demo/busybox", "1.36") - pushed; n != 1 {
		t.Errorf("the registry saw %d resolutions of the tag for one pod, want 1 (one pull)", n)
	}
	if ls := e.mustRun("image", "ls"); !strings.Contains(ls, ref) {
		t.Fatalf("image ls lacks the pulled image:\n%s", ls)
	}
	// Always means a pull for every pod, even with the image present.
	pulledPod("pulled-again")
	if n := reg.manifestRequests(t, "demo/busybox", "1.36") - pushed; n != 2 {
		t.Errorf("the registry saw %d resolutions of the tag for two pods, want 2", n)
	}
	// The loaded image (newEnv loaded the archive) runs with IfNotPresent.
	e.apply(`apiVersion: v1
kind: Pod
metadata: {name: loaded}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
`)
	e.mustRun("delete", "pod", "pulled", "pulled-again", "loaded")
	e.assertNoLeaks()
}
