package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/minipod/minipod/internal/fakebackend"
)

func TestPodRow(t *testing.T) {
	started := true
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	now := metav1.Now()
	cases := []struct {
		name  string
		pod   corev1.Pod
		ready string
		want  string
		rest  string
	}{
		{"running", corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true, State: running},
				{Name: "b", Ready: false, State: running},
			}},
		}, "1/2", "Running", "0"},
		{"crash loop", corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", RestartCount: 3, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(time.Now().Add(-2 * time.Minute))}}},
			}},
		}, "0/1", "CrashLoopBackOff", "3 (2m ago)"},
		{"init", corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}, {Name: "i2"}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "i1", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{Name: "i2", State: running},
			}},
		}, "0/1", "Init:1/2", "0"},
		{"init failed", corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "i1", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}},
			}},
		}, "0/1", "Init:ExitCode:2", "0"},
		{"sidecar", corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "s", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "s", Started: &started, Ready: true, State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}},
			},
		}, "2/2", "Running", "0"},
		{"completed", corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
			}},
		}, "0/1", "Completed", "0"},
		{"terminating", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true, State: running},
			}},
		}, "1/1", "Terminating", "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.pod.Name = "p"
			row := podRow(&c.pod)
			if len(row.Cells) != len(tableColumns["pods"]) {
				t.Fatalf("%d cells for %d columns", len(row.Cells), len(tableColumns["pods"]))
			}
			if row.Cells[1] != c.ready || row.Cells[2] != c.want || row.Cells[3] != c.rest {
				t.Fatalf("READY %v STATUS %v RESTARTS %v, want %s %s %s", row.Cells[1], row.Cells[2], row.Cells[3], c.ready, c.want, c.rest)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestStoreResourceVersions(t *testing.T) {
	ctx := context.Background()
	b := fakebackend.New()
	st := newKubeStore(b, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "host"}})
	if err := st.sync(ctx); err != nil {
		t.Fatal(err)
	}
	rv0 := st.current()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a", UID: "u1"}, Data: map[string]string{"k": "1"}}
	b.PutConfigMap(cm)
	st.sync(ctx)
	rv1 := st.current()
	if rv1 <= rv0 {
		t.Fatalf("a new object did not move the resourceVersion: %d -> %d", rv0, rv1)
	}
	got := st.get("configmaps", "default", "a")
	if got == nil || got.(*corev1.ConfigMap).ResourceVersion != strconv.FormatUint(rv1, 10) {
		t.Fatalf("stored object: %+v", got)
	}
	// Nothing changed: nothing moves.
	st.sync(ctx)
	if st.current() != rv1 {
		t.Fatalf("an unchanged sync moved the resourceVersion to %d", st.current())
	}
	// A change, a replacement under the same name, a removal.
	cm.Data["k"] = "2"
	b.PutConfigMap(cm)
	st.sync(ctx)
	cm.UID = "u2"
	b.PutConfigMap(cm)
	st.sync(ctx)
	if err := b.DeleteConfigMap(ctx, "default", "a"); err != nil {
		t.Fatal(err)
	}
	st.sync(ctx)
	changes, _, _, err := st.since("configmaps", rv0)
	if err != nil {
		t.Fatal(err)
	}
	var types []watch.EventType
	last := rv0
	for _, c := range changes {
		if c.rv <= last {
			t.Fatalf("resourceVersions do not grow: %d after %d", c.rv, last)
		}
		last = c.rv
		types = append(types, c.typ)
	}
	want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted, watch.Added, watch.Deleted}
	if len(types) != len(want) {
		t.Fatalf("changes %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("changes %v, want %v", types, want)
		}
	}
	if _, _, _, err := st.since("configmaps", st.current()+1); err == nil {
		t.Fatal("a resourceVersion from the future was accepted")
	}
}

func TestStoreKeepsDeletionTimestamp(t *testing.T) {
	ctx := context.Background()
	b := fakebackend.New()
	st := newKubeStore(b, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "host"}})
	first := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	b.AddPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u", DeletionTimestamp: &first}})
	st.sync(ctx)
	rv := st.current()
	// The runtime reports "now" each time it is asked.
	later := metav1.Now()
	b.UpdatePod("default", "p", func(p *corev1.Pod) { p.DeletionTimestamp = &later })
	st.sync(ctx)
	if st.current() != rv {
		t.Fatal("a new deletionTimestamp from the backend counted as a change")
	}
	p := st.get("pods", "default", "p").(*corev1.Pod)
	if !p.DeletionTimestamp.Equal(&first) || p.Spec.NodeName != "host" {
		t.Fatalf("deletionTimestamp %v, node %q", p.DeletionTimestamp, p.Spec.NodeName)
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept       string
		table, yaml  bool
		ok           bool
		tableAllowed bool
	}{
		{accept: "", ok: true},
		{accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", ok: true, tableAllowed: true, table: true},
		{accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", ok: true},
		{accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", ok: true},
		{accept: "application/vnd.kubernetes.protobuf, */*", ok: true},
		{accept: "application/yaml", ok: true, yaml: true},
		{accept: "text/html", ok: false},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", c.accept)
		out, ok := negotiate(r, c.tableAllowed)
		if ok != c.ok || out.table != c.table || out.yaml != c.yaml {
			t.Errorf("Accept %q: %+v %v", c.accept, out, ok)
		}
	}
}

func TestSelection(t *testing.T) {
	pods := findResource("pods")
	r, _ := http.NewRequest(http.MethodGet, "/api/v1/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%3DRunning,spec.nodeName%3Dhost", nil)
	sel, st := parseSelection(r, pods)
	if st != nil {
		t.Fatal(st.Message)
	}
	mk := func(app string, phase corev1.PodPhase) k8sruntime.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: "host"}, Status: corev1.PodStatus{Phase: phase}}
	}
	if !sel.matches(pods, mk("web", corev1.PodRunning)) || sel.matches(pods, mk("db", corev1.PodRunning)) || sel.matches(pods, mk("web", corev1.PodPending)) {
		t.Fatal("selection matched wrongly")
	}
	r, _ = http.NewRequest(http.MethodGet, "/api/v1/pods?fieldSelector=spec.bogus%3D1", nil)
	if _, st := parseSelection(r, pods); st == nil || st.Code != http.StatusBadRequest {
		t.Fatalf("an unknown field label was accepted: %+v", st)
	}
}

func TestCredsPersist(t *testing.T) {
	root := t.TempDir()
	a, err := loadOrCreateCreds(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateCreds(root)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != b.token || string(a.caPEM) != string(b.caPEM) {
		t.Fatal("a second start made new credentials")
	}
	if !a.tokenOK("Bearer "+a.token) || a.tokenOK("Bearer "+a.token+"x") || a.tokenOK("") || a.tokenOK(a.token) {
		t.Fatal("tokenOK is wrong")
	}
	if err := a.cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, credsDir))
	if len(entries) != 5 {
		t.Fatalf("%d files", len(entries))
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v", e.Name(), fi.Mode().Perm())
		}
	}
}

// TestKubeAPIEncodings: client-go's default Accept (protobuf, then JSON)
// gets protobuf; kubectl's Table Accept gets a Table; errors are Status.
func TestKubeAPIEncodings(t *testing.T) {
	b := fakebackend.New()
	b.PutConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a", UID: "u"}, Data: map[string]string{"k": "v"}})
	st := newKubeStore(b, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "host"}})
	k := &kubeServer{server: &server{b: b, log: slog.New(slog.DiscardHandler), stopping: context.Background()}, store: st}
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		k.route(w, r)
		return w
	}
	w := get("/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf, application/json")
	if ct := w.Header().Get("Content-Type"); ct != protobufType {
		t.Fatalf("Content-Type %q", ct)
	}
	obj, _, err := protobufSerializer.Decode(w.Body.Bytes(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, ok := obj.(*corev1.ConfigMapList); !ok || len(list.Items) != 1 || list.Items[0].Data["k"] != "v" || list.ResourceVersion == "" {
		t.Fatalf("decoded %#v", obj)
	}
	w = get("/api/v1/namespaces/default/configmaps", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	var tbl metav1.Table
	if err := json.Unmarshal(w.Body.Bytes(), &tbl); err != nil || tbl.Kind != "Table" || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "a" {
		t.Fatalf("table: %v %s", err, w.Body.String())
	}
	w = get("/api/v1/namespaces/default/configmaps/nope", "application/vnd.kubernetes.protobuf, application/json")
	var status metav1.Status
	if err := json.Unmarshal(w.Body.Bytes(), &status); err != nil || w.Code != http.StatusNotFound || status.Reason != metav1.StatusReasonNotFound || status.Message != `configmaps "nope" not found` {
		t.Fatalf("not found: %d %s", w.Code, w.Body.String())
	}
}

func TestCheckPodUpdate(t *testing.T) {
	cur := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u", ResourceVersion: "7"},
		Spec:       corev1.PodSpec{NodeName: "host", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	manifestDefaulted := cur.DeepCopy()
	manifestDefaulted.Spec.NodeName = ""
	cases := []struct {
		name string
		edit func(p *corev1.Pod)
		code int32
	}{
		{"labels", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, 0},
		{"spec as sent, without server defaults", func(p *corev1.Pod) { p.Spec = manifestDefaulted.Spec }, 0},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx" }, http.StatusUnprocessableEntity},
		{"name", func(p *corev1.Pod) { p.Name = "q" }, http.StatusUnprocessableEntity},
		{"stale resourceVersion", func(p *corev1.Pod) { p.ResourceVersion = "6" }, http.StatusConflict},
	}
	for _, c := range cases {
		want := cur.DeepCopy()
		c.edit(want)
		st := checkPodUpdate(cur, want)
		if (st == nil) != (c.code == 0) || (st != nil && st.Code != c.code) {
			t.Errorf("%s: %+v, want code %d", c.name, st, c.code)
		}
	}
}
