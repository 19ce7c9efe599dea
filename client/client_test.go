package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
	"github.com/minipod/minipod/daemon"
	"github.com/minipod/minipod/internal/fakebackend"
)

var _ api.Backend = (*client.Client)(nil)

// startServer serves b on a unix socket in a temporary directory and
// returns a client of it; the server stops when the test ends.
func startServer(t *testing.T, b daemon.Backend) (*client.Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "minipod.sock")
	l, err := daemon.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Serve(ctx, l, b, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not stop within 10s of its context ending")
		}
	})
	return client.New(sock), sock
}

// rawHTTP is an HTTP client on the socket, for requests the Client would
// not send.
func rawHTTP(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

func statusOf(t *testing.T, err error) metav1.Status {
	t.Helper()
	var se *client.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *client.StatusError", err, err)
	}
	return se.Status
}

func TestPodLifecycle(t *testing.T) {
	ctx := t.Context()
	fake := fakebackend.New()
	c, _ := startServer(t, fake)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	created, err := c.CreatePod(ctx, testPod("web"), api.CreateOptions{})
	if err != nil {
		t.Fatalf("CreatePod: %v", err)
	}
	if created.Status.Phase != corev1.PodRunning || created.Kind != "Pod" || created.APIVersion != "v1" {
		t.Errorf("created pod: phase %q kind %q apiVersion %q", created.Status.Phase, created.Kind, created.APIVersion)
	}
	if _, err := c.CreatePod(ctx, testPod("db"), api.CreateOptions{PulledImages: []string{"busybox", "localhost:5000/db:1"}}); err != nil {
		t.Fatalf("CreatePod db: %v", err)
	}
	if got, want := fake.LastCreateOptions().PulledImages, []string{"busybox", "localhost:5000/db:1"}; !slices.Equal(got, want) {
		t.Errorf("pulled images reached the backend as %q, want %q", got, want)
	}
	if _, err := c.CreatePod(ctx, testPod("bad-ref"), api.CreateOptions{PulledImages: []string{"not a reference"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("CreatePod with an invalid pulled image: got %v, want InvalidArgument", err)
	}

	_, err = c.CreatePod(ctx, testPod("web"), api.CreateOptions{})
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second CreatePod: got %v, want AlreadyExists", err)
	}
	if st := statusOf(t, err); st.Code != http.StatusConflict || st.Reason != metav1.StatusReasonAlreadyExists {
		t.Errorf("second CreatePod: status %d %s", st.Code, st.Reason)
	}

	got, err := c.GetPod(ctx, "default", "web")
	if err != nil || got.Status.PodIP != "10.233.0.2" {
		t.Fatalf("GetPod: %v, %+v", err, got)
	}

	pods, err := c.ListPods(ctx, "default")
	if err != nil || len(pods) != 2 || pods[0].Name != "db" || pods[1].Name != "web" {
		t.Fatalf("ListPods: %v, %d pods", err, len(pods))
	}
	all, err := c.ListPods(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("ListPods all: %v, %d pods", err, len(all))
	}
	other, err := c.ListPods(ctx, "other")
	if err != nil || len(other) != 0 {
		t.Fatalf("ListPods other: %v, %d pods", err, len(other))
	}

	grace := int64(0)
	if err := c.DeletePod(ctx, "default", "web", api.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatalf("DeletePod: %v", err)
	}
	_, err = c.GetPod(ctx, "default", "web")
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("GetPod after delete: got %v, want NotFound", err)
	}
	st := statusOf(t, err)
	if st.Code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound || st.Message != `pods "web" not found` || st.Kind != "Status" {
		t.Errorf("GetPod after delete: status %+v", st)
	}
	if err := c.DeletePod(ctx, "default", "web", api.DeleteOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("DeletePod again: got %v, want NotFound", err)
	}
}

func TestCreatePodErrors(t *testing.T) {
	ctx := t.Context()
	fb := fakebackend.New()
	c, sock := startServer(t, fb)

	t.Run("unknown field", func(t *testing.T) {
		body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"busybox","bogusField":1}]}}`
		resp, err := rawHTTP(sock).Post("http://minipod/api/v1/namespaces/default/pods", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("status code %d, want 400 or 422", resp.StatusCode)
		}
		if !strings.Contains(string(data), "bogusField") || !strings.Contains(string(data), `"kind": "Status"`) {
			t.Errorf("body does not name the field or is no Status: %s", data)
		}
	})

	t.Run("namespace mismatch", func(t *testing.T) {
		body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"other"},"spec":{"containers":[{"name":"app","image":"busybox"}]}}`
		resp, err := rawHTTP(sock).Post("http://minipod/api/v1/namespaces/default/pods", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status code %d, want 400", resp.StatusCode)
		}
	})

	t.Run("missing configmap", func(t *testing.T) {
		p := testPod("cfg")
		p.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}},
		}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/conf"}}
		_, err := c.CreatePod(ctx, p, api.CreateOptions{})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("got %v, want Invalid", err)
		}
		if st := statusOf(t, err); st.Code != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid || !strings.Contains(st.Message, "nope") {
			t.Errorf("status %+v", st)
		}
		// With the ConfigMap stored, the same pod is accepted.
		if _, err := c.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nope"}, Data: map[string]string{"a": "b"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreatePod(ctx, p, api.CreateOptions{}); err != nil {
			t.Fatalf("CreatePod with its ConfigMap stored: %v", err)
		}
	})

	t.Run("backend invalid", func(t *testing.T) {
		fb.SetCreateErr(fmt.Errorf("failed to plan pod %q: %w", "x", errdefs.ErrInvalidArgument))
		defer fb.SetCreateErr(nil)
		_, err := c.CreatePod(ctx, testPod("x"), api.CreateOptions{})
		if !errors.Is(err, errdefs.ErrInvalidArgument) || statusOf(t, err).Code != http.StatusUnprocessableEntity {
			t.Fatalf("got %v, want Invalid 422", err)
		}
	})

	t.Run("backend unavailable", func(t *testing.T) {
		fb.SetCreateErr(fmt.Errorf("containerd: %w", errdefs.ErrUnavailable))
		defer fb.SetCreateErr(nil)
		_, err := c.CreatePod(ctx, testPod("x"), api.CreateOptions{})
		if !errors.Is(err, errdefs.ErrUnavailable) || statusOf(t, err).Code != http.StatusServiceUnavailable {
			t.Fatalf("got %v, want ServiceUnavailable 503", err)
		}
	})

	t.Run("backend internal", func(t *testing.T) {
		fb.SetCreateErr(errors.New("boom"))
		defer fb.SetCreateErr(nil)
		_, err := c.CreatePod(ctx, testPod("x"), api.CreateOptions{})
		if st := statusOf(t, err); st.Code != http.StatusInternalServerError || st.Reason != metav1.StatusReasonInternalError || st.Message != "boom" {
			t.Fatalf("status %+v", st)
		}
	})

	t.Run("body too large", func(t *testing.T) {
		body := strings.Repeat(" ", daemon.MaxObjectBytes+10)
		resp, err := rawHTTP(sock).Post("http://minipod/api/v1/namespaces/default/pods", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status code %d, want 413", resp.StatusCode)
		}
	})

	t.Run("unknown route", func(t *testing.T) {
		resp, err := rawHTTP(sock).Get("http://minipod/api/v1/namespaces/default/deployments")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status code %d, want 404", resp.StatusCode)
		}
	})
}

func TestConfigMapsAndSecrets(t *testing.T) {
	ctx := t.Context()
	c, _ := startServer(t, fakebackend.New())
	if _, err := c.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConfigMap(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second CreateConfigMap: %v", err)
	}
	cm, err := c.GetConfigMap(ctx, "default", "cfg")
	if err != nil || cm.Data["k"] != "v" || cm.Kind != "ConfigMap" {
		t.Fatalf("GetConfigMap: %v %+v", err, cm)
	}
	if _, err := c.CreateSecret(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, Data: map[string][]byte{"p": []byte("s3cret")}}); err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSecret(ctx, "default", "pw")
	if err != nil || string(s.Data["p"]) != "s3cret" {
		t.Fatalf("GetSecret: %v %+v", err, s)
	}
	cms, _ := c.ListConfigMaps(ctx, "")
	secrets, _ := c.ListSecrets(ctx, "default")
	if len(cms) != 1 || len(secrets) != 1 {
		t.Errorf("lists: %d configmaps, %d secrets", len(cms), len(secrets))
	}
	if err := c.DeleteConfigMap(ctx, "default", "cfg"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSecret(ctx, "default", "pw"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(ctx, "default", "pw")
	if !errors.Is(err, errdefs.ErrNotFound) || statusOf(t, err).Message != `secrets "pw" not found` {
		t.Errorf("GetSecret after delete: %v", err)
	}
}

func TestLogsFollow(t *testing.T) {
	ctx := t.Context()
	fb := fakebackend.New()
	fb.LogLines = make(chan string)
	c, _ := startServer(t, fb)
	if _, err := c.CreatePod(ctx, testPod("web"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var static strings.Builder
	if err := c.Logs(ctx, "default", "web", api.LogOptions{}, &static); err != nil || static.String() != "static line\n" {
		t.Fatalf("Logs: %v %q", err, static.String())
	}
	if err := c.Logs(ctx, "default", "nope", api.LogOptions{}, io.Discard); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Logs of a missing pod: %v", err)
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := c.Logs(ctx, "default", "web", api.LogOptions{Follow: true}, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	lines := bufio.NewReader(pr)
	for _, want := range []string{"one\n", "two\n", "three\n"} {
		// Each line must arrive before the next one is written: the
		// server flushes as the backend writes.
		fb.LogLines <- want
		got, err := lines.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	close(fb.LogLines)
	if err := <-done; err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	fb := fakebackend.New()
	fb.LogLines = make(chan string)
	c, _ := startServer(t, fb)
	if _, err := c.CreatePod(t.Context(), testPod("web"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- c.Logs(ctx, "default", "web", api.LogOptions{Follow: true}, pw)
	}()
	fb.LogLines <- "hello\n"
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "hello\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Logs after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs did not return within 10s of its context ending")
	}
}

func TestExec(t *testing.T) {
	ctx := t.Context()
	c, _ := startServer(t, fakebackend.New())
	if _, err := c.CreatePod(ctx, testPod("web"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code, err := c.Exec(ctx, "default", "web", api.ExecOptions{
		Container: "app",
		Command:   []string{"echo", "hello", ";", "warn", "oops", ";", "echo", "bye", ";", "exit", "3"},
	}, api.ExecIO{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if code != 3 || stdout.String() != "hello\nbye\n" || stderr.String() != "oops\n" {
		t.Errorf("Exec: code %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}

	// stdin is copied until it ends, then the command sees EOF.
	stdout.Reset()
	in := strings.NewReader(strings.Repeat("x", 3<<20) + "end")
	code, err = c.Exec(ctx, "default", "web", api.ExecOptions{Command: []string{"cat"}, Stdin: true},
		api.ExecIO{Stdin: in, Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 0 || stdout.Len() != 3<<20+3 || !strings.HasSuffix(stdout.String(), "xend") {
		t.Errorf("Exec cat: code %d err %v, %d bytes out", code, err, stdout.Len())
	}

	// Errors before the upgrade and after it are both Status errors.
	_, err = c.Exec(ctx, "default", "nope", api.ExecOptions{Command: []string{"true"}}, api.ExecIO{})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Exec in a missing pod: %v", err)
	}
	_, err = c.Exec(ctx, "default", "web", api.ExecOptions{Command: []string{"fail"}}, api.ExecIO{})
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("Exec failing in the backend: %v", err)
	}
	_, err = c.Exec(ctx, "default", "web", api.ExecOptions{}, api.ExecIO{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Exec without a command: %v", err)
	}
}

func TestImages(t *testing.T) {
	ctx := t.Context()
	fb := fakebackend.New()
	fb.PullProgress = []api.PullProgress{
		{Ref: "busybox", Status: "resolving"},
		{Ref: "busybox", Status: "downloading", Current: 10, Total: 100},
		{Ref: "busybox", Status: "downloading", Current: 100, Total: 100},
		{Ref: "busybox", Status: "done", Current: 100, Total: 100},
	}
	c, _ := startServer(t, fb)

	var got []api.PullProgress
	img, err := c.PullImage(ctx, "busybox", func(p api.PullProgress) { got = append(got, p) })
	if err != nil || img.Name != "busybox" || img.Digest != "sha256:abc" {
		t.Fatalf("PullImage: %v %+v", err, img)
	}
	if len(got) != 4 || got[1].Current != 10 || got[3].Status != "done" {
		t.Errorf("progress: %+v", got)
	}

	// A failure after progress arrives as the last line of the stream.
	fb.PullErr = fmt.Errorf("failed to pull image %q: %w", "nope", errdefs.ErrNotFound)
	_, err = c.PullImage(ctx, "nope", nil)
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("PullImage failing late: %v", err)
	}
	// A failure before any progress is an ordinary error answer.
	fb.PullProgress = nil
	_, err = c.PullImage(ctx, "nope", nil)
	if !errors.Is(err, errdefs.ErrNotFound) || statusOf(t, err).Code != http.StatusNotFound {
		t.Errorf("PullImage failing early: %v", err)
	}
	fb.PullErr = nil

	loaded, err := c.LoadImage(ctx, strings.NewReader("archive"))
	if err != nil || len(loaded) != 1 || loaded[0].Name != "loaded/archive" {
		t.Fatalf("LoadImage: %v %+v", err, loaded)
	}
	images, err := c.ListImages(ctx)
	if err != nil || len(images) != 2 {
		t.Fatalf("ListImages: %v %+v", err, images)
	}
	configs, err := c.ImageConfigs(ctx, []string{"busybox", "absent"})
	if err != nil || len(configs) != 1 || configs["busybox"] == nil || configs["busybox"].Entrypoint[0] != "/busybox" {
		t.Fatalf("ImageConfigs: %v %+v", err, configs)
	}
	if err := c.RemoveImage(ctx, "busybox"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveImage(ctx, "busybox"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("RemoveImage again: %v", err)
	}
}

func TestContainerd(t *testing.T) {
	c, _ := startServer(t, fakebackend.New())
	info, err := c.Containerd(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Address != "/run/minipod/containerd/containerd.sock" || !info.Embedded || info.Version != "1.6.20" {
		t.Fatalf("Containerd() = %+v", info)
	}
}

func TestUnreachable(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.sock")
	err := client.New(missing).Ping(ctx)
	want := "cannot reach the minipod daemon at " + missing + `: start it with "sudo minipod daemon" (or set MINIPOD_SOCKET / --socket)`
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("missing socket: %v\nwant it to contain: %s", err, want)
	}

	// A socket file nobody listens on: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	err = client.New(stale).Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), `start it with "sudo minipod daemon"`) {
		t.Errorf("stale socket: %v", err)
	}

	// Listen takes over the stale socket.
	l2, err := daemon.Listen(stale, "")
	if err != nil {
		t.Fatalf("Listen on a stale socket: %v", err)
	}
	defer l2.Close()
	fi, err := os.Stat(stale)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode: %v %v", fi.Mode(), err)
	}
	// ...but not one that answers.
	if _, err := daemon.Listen(stale, ""); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("Listen on a live socket: %v", err)
	}
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36", Command: []string{"sleep", "3600"},
		}}},
	}
}

// TestServeIsRunsAPI: Serve, which the tests use, answers the routes the
// daemon's Run serves: gc, a pod's host view, and the live view's and the
// Kubernetes API's hand-outs (which say how to turn them on).
func TestServeIsRunsAPI(t *testing.T) {
	fb := fakebackend.New()
	c, _ := startServer(t, fb)
	ctx := t.Context()
	rep, err := c.GC(ctx, true)
	if err != nil || !rep.DryRun {
		t.Fatalf("GC: %+v, %v", rep, err)
	}
	if _, err := c.CreatePod(ctx, testPod("web"), api.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := c.HostView(ctx, "default", "web")
	if err != nil || v.Name != "web" || v.PodIP != "10.233.0.2" {
		t.Fatalf("HostView: %+v, %v", v, err)
	}
	if _, err := c.HostView(ctx, "default", "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("HostView of a missing pod: %v, want NotFound", err)
	}
	if _, err := c.UI(ctx); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "--ui") {
		t.Fatalf("UI when off: %v, want NotFound saying how to turn it on", err)
	}
	if _, err := c.Kubeconfig(ctx); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "--kube-api") {
		t.Fatalf("Kubeconfig when off: %v, want NotFound saying how to turn it on", err)
	}
}
