package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/fakebackend"
)

// fuzzBackend is the shared fake backend, and checks that only validated
// objects reach it.
type fuzzBackend struct {
	*fakebackend.Backend
	t *testing.T
}

func (b fuzzBackend) checkName(kind, ns, name string) {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		b.t.Fatalf("%s with invalid name %q reached the backend: %v", kind, name, errs)
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		b.t.Fatalf("%s with invalid namespace %q reached the backend: %v", kind, ns, errs)
	}
}

func (b fuzzBackend) CreatePod(ctx context.Context, p *corev1.Pod, opts api.CreateOptions) (*corev1.Pod, error) {
	b.checkName("pod", p.Namespace, p.Name)
	if len(p.Spec.Containers) == 0 {
		b.t.Fatalf("a pod without containers reached the backend")
	}
	return b.Backend.CreatePod(ctx, p, opts)
}

func (b fuzzBackend) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	b.checkName("configmap", cm.Namespace, cm.Name)
	return b.Backend.CreateConfigMap(ctx, cm)
}

func (b fuzzBackend) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	b.checkName("secret", s.Namespace, s.Name)
	return b.Backend.CreateSecret(ctx, s)
}

// fuzzRoutes are the API's routes but exec; {ns} and {name} are filled in
// by the fuzzer. Streams (a followed log, a watch) end after what they send
// first.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/namespaces/{ns}/pods"},
	{"GET", "/api/v1/namespaces/{ns}/pods"},
	{"GET", "/api/v1/namespaces/{ns}/pods/{name}"},
	{"DELETE", "/api/v1/namespaces/{ns}/pods/{name}"},
	{"GET", "/api/v1/namespaces/{ns}/pods/{name}/log"},
	{"POST", "/api/v1/namespaces/{ns}/configmaps"},
	{"GET", "/api/v1/namespaces/{ns}/configmaps/{name}"},
	{"DELETE", "/api/v1/namespaces/{ns}/configmaps/{name}"},
	{"POST", "/api/v1/namespaces/{ns}/secrets"},
	{"DELETE", "/api/v1/namespaces/{ns}/secrets/{name}"},
	{"POST", "/minipod/v1/images/pull"},
	{"POST", "/minipod/v1/images/load"},
	{"GET", "/minipod/v1/containerd"},
	{"DELETE", "/minipod/v1/images"},
	{"POST", "/minipod/v1/gc"},
	{"PUT", "/api/v1/{ns}"},
	{"GET", "/api/v1/namespaces/{ns}/events"},
}

// FuzzAPIRequest sends arbitrary bodies, names, namespaces and queries to
// every route but exec: the server must never panic, must answer
// with a valid code, every error must be a metav1.Status, and only valid
// objects may reach the backend.
func FuzzAPIRequest(f *testing.F) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	f.Add(uint8(0), "default", "web", "", []byte(pod))
	f.Add(uint8(0), "default", "web", "wait=false", []byte(pod))
	f.Add(uint8(0), "other", "web", "", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"x"}}`))
	f.Add(uint8(3), "default", "web", "gracePeriodSeconds=abc", []byte(`{"gracePeriodSeconds": -1}`))
	f.Add(uint8(4), "default", "web", "follow=maybe&tailLines=-5&container=../x", []byte(nil))
	f.Add(uint8(1), "default", "", "watch=true", []byte(nil))
	f.Add(uint8(1), "default", "", "watch=often", []byte(nil))
	f.Add(uint8(15), "default", "", "watch=1&fieldSelector=involvedObject.name=web", []byte(nil))
	f.Add(uint8(5), "default", "cm", "", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"../x":"y"}}`))
	f.Add(uint8(8), "default", "s", "", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"!!notbase64"}}`))
	f.Add(uint8(10), "", "", "", []byte(`{"ref":""}`))
	f.Add(uint8(13), "", "", "dryRun=perhaps", []byte(nil))
	f.Add(uint8(0), "default", "web", "", []byte(strings.Repeat("[", 10000)))
	f.Add(uint8(0), "default", "web", "", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: y}\n"))
	if files, _ := filepath.Glob("../e2e/testdata/hostile/*"); len(files) > 0 {
		for i, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(uint8(i%3*5), "default", "x", "", b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, ns, name, query string, body []byte) {
		// The server is already stopping: a stream (a followed log, a
		// watch) sends what it has at once and ends.
		stopping, stop := context.WithCancel(context.Background())
		stop()
		s := &server{b: fuzzBackend{Backend: fakebackend.New(), t: t}, log: slog.New(slog.DiscardHandler), stopping: stopping}
		mux := s.routes()
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		p := strings.NewReplacer("{ns}", url.PathEscape(ns), "{name}", url.PathEscape(name)).Replace(rt.path)
		if _, err := url.ParseQuery(query); err != nil {
			query = url.QueryEscape(query)
		}
		u := &url.URL{Path: p, RawQuery: query}
		req, err := http.NewRequest(rt.method, "http://minipod"+u.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		s.background.Wait()
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("%s %s: status %d", rt.method, u, w.Code)
		}
		if w.Code >= 400 {
			var st metav1.Status
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Kind != "Status" || st.Message == "" {
				t.Fatalf("%s %s: error %d is not a Status with a message (%v): %q", rt.method, u, w.Code, err, w.Body.String())
			}
			if int(st.Code) != w.Code {
				t.Fatalf("%s %s: Status code %d in a %d answer", rt.method, u, st.Code, w.Code)
			}
		}
	})
}
