package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/utils/ptr"
)

// TestClientGo drives the daemon's Kubernetes API with client-go at its
// defaults (protobuf bodies, aggregated discovery, watch-list informers),
// as a controller or a tool built on it would: discovery, create, get,
// list with a selector, an informer that syncs and sees a pod added,
// modified and deleted, and delete.
func TestClientGo(t *testing.T) {
	e := newEnv(t)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(e.mustRun("kubeconfig")))
	if err != nil {
		t.Fatal(err)
	}
	// Record what the client asks for and what it is answered, to check
	// that the defaults were really used.
	var mu sync.Mutex
	seen := map[string]string{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			if err == nil {
				mu.Lock()
				seen[r.Method+" "+r.URL.Path] = resp.Header.Get("Content-Type")
				mu.Unlock()
			}
			return resp, err
		})
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Discovery: one aggregated answer for the core group, no /api/v1.
	_, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var pods *metav1.APIResource
	for _, l := range lists {
		for i, r := range l.APIResources {
			if l.GroupVersion == "v1" && r.Name == "pods" {
				pods = &l.APIResources[i]
			}
		}
	}
	if pods == nil || !pods.Namespaced || !strings.Contains(strings.Join(pods.Verbs, ","), "watch") {
		t.Fatalf("discovery has no namespaced, watchable pods: %+v", lists)
	}
	mu.Lock()
	if ct := seen["GET /api"]; !strings.Contains(ct, "as=APIGroupDiscoveryList") {
		t.Errorf("GET /api answered %q, not aggregated discovery", ct)
	}
	if _, ok := seen["GET /api/v1"]; ok {
		t.Errorf("client-go fell back to legacy discovery (GET /api/v1)")
	}
	mu.Unlock()

	// An informer on the pods labelled app=cg syncs, then sees each change.
	type change struct {
		kind string
		pod  *corev1.Pod
	}
	changes := make(chan change, 100)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=cg" }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { changes <- change{"ADDED", o.(*corev1.Pod)} },
		UpdateFunc: func(_, o any) { changes <- change{"MODIFIED", o.(*corev1.Pod)} },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			changes <- change{"DELETED", o.(*corev1.Pod)}
		},
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer func() {
		close(stop)
		factory.Shutdown()
	}()
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("the pod informer did not sync")
	}
	await := func(kind string, ok func(*corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		for {
			select {
			case c := <-changes:
				if c.kind == kind && ok(c.pod) {
					return c.pod
				}
			case <-ctx.Done():
				t.Fatalf("the informer saw no %s", kind)
			}
		}
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cg", Labels: map[string]string{"app": "cg"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name: "app", Image: "docker.io/library/busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sh", "-c", "mkdir -p /www && echo hello through a tunnel > /www/index.html && httpd -p 8080 -h /www && echo hello from client-go; exec sleep 3600"},
			}},
		},
	}
	created, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" {
		t.Fatalf("create returned %+v", created.ObjectMeta)
	}
	await("ADDED", func(p *corev1.Pod) bool { return p.UID == created.UID })
	running := await("MODIFIED", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })

	// exec over WebSocket (v5.channel.k8s.io), which kubectl 1.30 and
	// later ask for first: no fallback to SPDY here.
	execURL := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("cg").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Stdout: true, Stderr: true}, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", execURL.String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	var exit utilexec.CodeExitError
	if !errors.As(err, &exit) || exit.Code != 3 || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Fatalf("exec over WebSocket: err %v, stdout %q, stderr %q; want exit 3, out, err", err, stdout.String(), stderr.String())
	}

	// port-forward with SPDY tunnelled through a WebSocket, as kubectl
	// 1.31 and later ask first.
	pfURL := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("cg").SubResource("portforward").URL()
	dialer, err := portforward.NewSPDYOverWebsocketDialer(pfURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopPF, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stopPF, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pfDone := make(chan error, 1)
	go func() { pfDone <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-pfDone:
		t.Fatalf("port-forward over a WebSocket tunnel: %v", err)
	case <-ctx.Done():
		t.Fatal("port-forward over a WebSocket tunnel never got ready")
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("forwarded ports: %v %v", ports, err)
	}
	var body string
	eventually(t, 20*time.Second, "the pod's httpd through the tunnel", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[0].Local))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	close(stopPF)
	<-pfDone
	if body != "hello through a tunnel\n" {
		t.Fatalf("through the tunnel: %q", body)
	}

	got, err := cs.CoreV1().Pods("default").Get(ctx, "cg", metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.Status.PodIP != running.Status.PodIP {
		t.Fatalf("get: %v %+v", err, got)
	}
	list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "cg"}.String()})
	if err != nil || len(list.Items) != 1 || list.ResourceVersion == "" {
		t.Fatalf("list -l app=cg: %v %+v", err, list)
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "cg", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	await("DELETED", func(p *corev1.Pod) bool { return p.UID == created.UID })

	mu.Lock()
	defer mu.Unlock()
	if ct := seen["POST /api/v1/namespaces/default/pods"]; ct != "application/vnd.kubernetes.protobuf" {
		t.Errorf("create was answered in %q, not protobuf", ct)
	}
	if ct := seen["GET /api/v1/namespaces/default/pods/cg"]; ct != "application/vnd.kubernetes.protobuf" {
		t.Errorf("get was answered in %q, not protobuf", ct)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
