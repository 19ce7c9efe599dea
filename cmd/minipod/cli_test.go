package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/daemon"
	"github.com/minipod/minipod/internal/fakebackend"
)

// minipod runs the CLI with args and returns its exit code, stdout and stderr.
func minipod(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(t.Context(), args, ioStreams{in: strings.NewReader(stdin), out: &out, errOut: &errOut})
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const webYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: ["sleep", "3600"]
`

func TestRunDryRun(t *testing.T) {
	file := writeFile(t, "pod.yaml", webYAML)
	code, out, errOut := minipod(t, "", "run", "--dry-run", file, "--socket", "/nonexistent/minipod.sock")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "Pod default/web") || !strings.Contains(out, "busybox:1.36") {
		t.Errorf("plan text lacks the pod or its image:\n%s", out)
	}

	// From stdin, as JSON.
	code, out, errOut = minipod(t, webYAML, "run", "--dry-run", "-o", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var plans []map[string]any
	if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 || plans[0]["name"] != "web" {
		t.Errorf("JSON plans: %v\n%s", err, out)
	}
	// Placeholders read as in the text plan, not HTML-escaped.
	if !strings.Contains(out, "<uid>") || strings.Contains(out, `\u003c`) {
		t.Errorf("JSON plans escape <uid>:\n%s", out)
	}
}

// downwardAPI and projected volumes show their own kind in the JSON plan,
// and /etc/hosts its content with its placeholders.
func TestRunDryRunVolumeKinds(t *testing.T) {
	code, out, errOut := minipod(t, webYAML+`    volumeMounts:
    - {name: info, mountPath: /info}
    - {name: all, mountPath: /all}
  volumes:
  - name: info
    downwardAPI:
      items: [{path: name, fieldRef: {fieldPath: metadata.name}}]
  - name: all
    projected:
      sources:
      - downwardAPI:
          items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]
`, "run", "--dry-run", "-o", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var plans []struct {
		Volumes []struct{ Name, Kind string }
		Sandbox struct {
			Files []struct{ ContainerPath, Content string }
		}
	}
	if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("JSON plans: %v\n%s", err, out)
	}
	kinds := map[string]string{}
	for _, v := range plans[0].Volumes {
		kinds[v.Name] = v.Kind
	}
	if kinds["info"] != "downwardAPI" || kinds["all"] != "projected" {
		t.Errorf("volume kinds %v, want info downwardAPI and all projected", kinds)
	}
	for _, f := range plans[0].Sandbox.Files {
		if f.ContainerPath == "/etc/hosts" && (!strings.Contains(f.Content, "127.0.0.1\tlocalhost\n") || !strings.Contains(f.Content, "<pod IP>\tweb\n")) {
			t.Errorf("/etc/hosts in the plan:\n%s", f.Content)
		}
	}
}

func TestRunRefusesBadFile(t *testing.T) {
	file := writeFile(t, "pod.yaml", strings.Replace(webYAML, "    command:", "    bogusField: 1\n    command:", 1))
	code, out, errOut := minipod(t, "", "run", "--dry-run", file)
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	if !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, "bogusField") {
		t.Errorf("stderr does not name the field:\n%s", errOut)
	}
	if strings.Contains(errOut, "Usage:") || strings.Contains(errOut, "goroutine") {
		t.Errorf("stderr has a usage dump or a stack trace:\n%s", errOut)
	}
}

func TestErrorLines(t *testing.T) {
	got := errorLines(fmt.Errorf("pod.yaml: doc 1: a\npod.yaml: doc 1: b"))
	want := []string{"error: pod.yaml: doc 1: a", "error: pod.yaml: doc 1: b"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLogContainer(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app"}, {Name: "log-agent"}},
	}}
	if _, err := logContainer(pod, ""); err == nil || err.Error() != "a container name must be specified for pod web, choose one of: [app log-agent]" {
		t.Errorf("two containers: %v", err)
	}
	if c, err := logContainer(pod, "log-agent"); err != nil || c != "log-agent" {
		t.Errorf("asked for log-agent: %q %v", c, err)
	}
	pod.Spec.Containers = pod.Spec.Containers[:1]
	if c, err := logContainer(pod, ""); err != nil || c != "app" {
		t.Errorf("one container: %q %v", c, err)
	}
}

func TestWaitingLine(t *testing.T) {
	if got := waitingLine([]string{"web"}, []string{"ContainerCreating"}); got != "waiting for pod web: ContainerCreating" {
		t.Errorf("one pod: %q", got)
	}
	if got := waitingLine([]string{"web", "db"}, []string{"Init:0/1", "Pending"}); got != "waiting for pods web (Init:0/1), db (Pending)" {
		t.Errorf("two pods: %q", got)
	}
}

// samplePods are a running two-container pod and a crash-looping one.
func samplePods() []corev1.Pod {
	web := mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: running(), Ready: true}, {State: running(), Ready: true}})
	web.Status.PodIP = "10.77.0.5"
	web.Status.PodIPs = []corev1.PodIP{{IP: "10.77.0.5"}}
	db := mkPod(corev1.PodRunning, nil, []corev1.ContainerStatus{{State: waiting("CrashLoopBackOff"), RestartCount: 2}})
	db.Name, db.Namespace = "db", "prod"
	db.CreationTimestamp = ago(50 * time.Hour)
	return []corev1.Pod{*web, *db}
}

func TestPrintPodTable(t *testing.T) {
	tests := []struct {
		name string
		opts podTableOptions
		want string
	}{
		{"plain", podTableOptions{now: testNow}, "" +
			"NAME   READY   STATUS             RESTARTS   AGE\n" +
			"web    2/2     Running            0          5m\n" +
			"db     0/1     CrashLoopBackOff   2          2d2h\n"},
		{"wide, all namespaces", podTableOptions{now: testNow, wide: true, allNamespaces: true, hostname: "host1"}, "" +
			"NAMESPACE   NAME   READY   STATUS             RESTARTS   AGE    IP          NODE\n" +
			"default     web    2/2     Running            0          5m     10.77.0.5   host1\n" +
			"prod        db     0/1     CrashLoopBackOff   2          2d2h   <none>      host1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := printPodTable(&b, samplePods(), tt.opts); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestPrintDataTable(t *testing.T) {
	cms := []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "default", CreationTimestamp: ago(10 * time.Second)},
		Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}}}
	var b strings.Builder
	printDataTable(&b, configMapRows(cms), false, testNow)
	if want := "NAME   DATA   AGE\nconf   3      10s\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintObjects(t *testing.T) {
	pods := samplePods()
	var b strings.Builder
	if err := printObjects(&b, "name", "pod", nil, []string{"web", "db"}, false); err != nil || b.String() != "pod/web\npod/db\n" {
		t.Errorf("name: %q %v", b.String(), err)
	}
	b.Reset()
	pods[0].TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	if err := printObjects(&b, "yaml", "pod", []any{&pods[0]}, []string{"web"}, true); err != nil ||
		!strings.HasPrefix(b.String(), "apiVersion: v1\nkind: Pod\n") || !strings.Contains(b.String(), "podIP: 10.77.0.5") {
		t.Errorf("yaml: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := printObjects(&b, "json", "pod", []any{&pods[0], &pods[1]}, nil, false); err != nil || !strings.Contains(b.String(), `"kind": "List"`) {
		t.Errorf("json list: %v\n%s", err, b.String())
	}
}

func TestDescribePod(t *testing.T) {
	start := ago(time.Hour)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "default",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{annotationNetNS: "/run/netns/minipod-1234"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "app", Image: "busybox:1.36", Command: []string{"httpd", "-f"},
					VolumeMounts: []corev1.VolumeMount{{Name: "html", MountPath: "/www"}}},
				{Name: "log-agent", Image: "busybox:1.36",
					VolumeMounts: []corev1.VolumeMount{{Name: "html", MountPath: "/logs", ReadOnly: true}}},
			},
			Volumes: []corev1.Volume{{Name: "html", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.77.0.5", StartTime: &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}},
				{Name: "log-agent", RestartCount: 1,
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", StartedAt: start, FinishedAt: start}}},
			},
		},
	}
	var b strings.Builder
	if err := describePod(&b, pod, "host1", testNow); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Name:               web\n",
		"Node:               host1\n",
		"Labels:             app=web\n                    tier=front\n",
		"Annotations:        <none>\n",
		"Status:             Running\n",
		"IP:                 10.77.0.5\n",
		"Network Namespace:  /run/netns/minipod-1234\n",
		"  app:\n",
		"    State:          Running\n",
		"      /www from html (rw)\n",
		"    State:          Terminated\n      Reason:       Error\n      Exit Code:    2\n",
		"    Restart Count:  1\n",
		"      /logs from html (ro)\n",
		"  Ready  True\n",
		"    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)\n",
		"    Mounted By:  app at /www, log-agent at /logs\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q; got:\n%s", want, out)
		}
	}
}

func TestPrintRunResults(t *testing.T) {
	pods := samplePods()
	var b strings.Builder
	printRunResults(&b, []runResult{
		{name: "web", pod: &pods[0]},
		{name: "db", err: fmt.Errorf("failed to pull image %q: not found", "nope")},
	})
	want := "NAME   STATUS    IP\nweb    Running   10.77.0.5\ndb     Failed    <none>\npod \"db\": failed to pull image \"nope\": not found\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// startCLIServer serves the sample pods from the shared fake backend, whose
// exec and logs say what they were asked for.
func startCLIServer(t *testing.T) (string, *fakebackend.Backend) {
	t.Helper()
	pods := samplePods()
	pods[1].Namespace = "default"
	fb := fakebackend.New()
	for i := range pods {
		fb.AddPod(&pods[i])
	}
	fb.ExecFunc = func(ctx context.Context, ns, name string, opts api.ExecOptions, stdio api.ExecIO) (int, error) {
		fmt.Fprintf(stdio.Stdout, "ran %s in %s\n", strings.Join(opts.Command, " "), opts.Container)
		fmt.Fprintln(stdio.Stderr, "to stderr")
		return 7, nil
	}
	fb.LogsFunc = func(ctx context.Context, ns, name string, opts api.LogOptions, w io.Writer) error {
		_, err := fmt.Fprintf(w, "log of %s\n", opts.Container)
		return err
	}
	sock := filepath.Join(t.TempDir(), "minipod.sock")
	l, err := daemon.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { daemon.Serve(ctx, l, fb, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock, fb
}

func TestCLIAgainstServer(t *testing.T) {
	sock, fb := startCLIServer(t)

	code, out, errOut := minipod(t, "", "--socket", sock, "get", "pods")
	if code != 0 || !strings.HasPrefix(out, "NAME   READY   STATUS") || !strings.Contains(out, "CrashLoopBackOff") {
		t.Errorf("get pods: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = minipod(t, "", "--socket", sock, "get", "pod", "web", "-o", "name")
	if code != 0 || out != "pod/web\n" {
		t.Errorf("get pod web -o name: exit %d %q", code, out)
	}

	code, _, errOut = minipod(t, "", "--socket", sock, "get", "pod", "nope", "-w")
	if code != 1 || errOut != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("get pod nope -w: exit %d stderr %q", code, errOut)
	}

	code, out, errOut = minipod(t, "", "--socket", sock, "logs", "web")
	if code != 1 || !strings.Contains(errOut, "error: a container name must be specified for pod web, choose one of: [a b]") {
		t.Errorf("logs of a two-container pod: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = minipod(t, "", "--socket", sock, "logs", "web", "-c", "b")
	if code != 0 || out != "log of b\n" {
		t.Errorf("logs -c b: exit %d %q", code, out)
	}

	code, out, errOut = minipod(t, "", "--socket", sock, "exec", "web", "-c", "a", "--", "ls", "-l")
	if code != 7 || out != "ran ls -l in a\n" || errOut != "to stderr\n" {
		t.Errorf("exec: exit %d stdout %q stderr %q", code, out, errOut)
	}

	code, out, errOut = minipod(t, "", "--socket", sock, "delete", "pod", "nope", "web")
	if code != 1 || out != "pod \"web\" deleted\n" || errOut != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("delete: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if deleted := fb.Deleted(); len(deleted) != 1 || deleted[0] != "web" {
		t.Errorf("deleted %v", deleted)
	}

	code, _, errOut = minipod(t, "", "--socket", filepath.Join(t.TempDir(), "none.sock"), "get", "pods")
	if code != 1 || !strings.Contains(errOut, `start it with "sudo minipod daemon"`) {
		t.Errorf("no daemon: exit %d %q", code, errOut)
	}
}

// The shim passes the log driver's arguments in the random order of a map:
// every order reaches the log-driver command and its own parser.
func TestLogDriverArgumentOrder(t *testing.T) {
	for _, args := range [][]string{
		{"log-driver", "relative.log", "--max-size", "10", "--max-files", "5"},
		{"--max-files", "5", "log-driver", "relative.log", "--max-size", "10"},
		{"--max-size", "10", "--max-files", "5", "log-driver", "relative.log"},
	} {
		code, _, errOut := minipod(t, "", args...)
		if code == 0 || !strings.Contains(errOut, "want log-driver /ABSOLUTE/PATH") {
			t.Errorf("minipod %q: exit %d, %q; want the log driver's own error", args, code, errOut)
		}
	}
}
