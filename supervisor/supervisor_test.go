package supervisor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDecide(t *testing.T) {
	p := Policy{BackOffBase: 10 * time.Second, BackOffMax: 300 * time.Second}
	for _, tc := range []struct {
		name string
		c    Container
		want Action
	}{
		{"running and well", Container{Name: "app", Running: true, Startup: Success}, Action{}},
		{"readiness is no reason to kill", Container{Name: "app", Running: true}, Action{}},
		{"postStart failed", Container{Name: "app", Running: true, PostStartFailed: true}, Action{Kill: true, Message: "FailedPostStartHook"}},
		{"startup failed", Container{Name: "app", Running: true, Startup: Failure}, Action{Kill: true, Message: "Container app failed startup probe, will be restarted"}},
		{"liveness failed", Container{Name: "app", Running: true, Liveness: Failure}, Action{Kill: true, Message: "Container app failed liveness probe, will be restarted"}},
		{"first exit restarts at once", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, ExitCode: 1}, Action{Restart: true}},
		{"second exit waits the base", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, ExitCode: 1, Restarts: 1}, Action{Restart: true, BackOff: 10 * time.Second}},
		{"back-off doubles", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, ExitCode: 1, Restarts: 2, BackOff: 10 * time.Second}, Action{Restart: true, BackOff: 20 * time.Second}},
		{"back-off stops at the maximum", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, Restarts: 9, BackOff: 200 * time.Second}, Action{Restart: true, BackOff: 300 * time.Second}},
		{"a long run forgets the back-off", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, Restarts: 9, BackOff: 300 * time.Second, Ran: 11 * time.Minute}, Action{Restart: true}},
		{"OnFailure, exit 0", Container{Name: "app", RestartPolicy: corev1.RestartPolicyOnFailure, ExitCode: 0, Restarts: 1}, Action{}},
		{"OnFailure, exit 2", Container{Name: "app", RestartPolicy: corev1.RestartPolicyOnFailure, ExitCode: 2, Restarts: 1}, Action{Restart: true, BackOff: 10 * time.Second}},
		{"Never", Container{Name: "app", RestartPolicy: corev1.RestartPolicyNever, ExitCode: 2}, Action{}},
		{"stopping", Container{Name: "app", RestartPolicy: corev1.RestartPolicyAlways, Stopping: true}, Action{}},
	} {
		if got := p.Decide(tc.c); got != tc.want {
			t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Defaults: the kubelet's 10 s.
	if got := (Policy{}).Decide(Container{Restarts: 1, ExitCode: 1}); got.BackOff != DefaultBackOffBase {
		t.Errorf("default back-off %v", got.BackOff)
	}
}

func TestCounter(t *testing.T) {
	steps := func(kind Kind, p *corev1.Probe, oks ...bool) []Result {
		c := newCounter(p)
		var out []Result
		for _, ok := range oks {
			res, _ := c.observe(kind, ok)
			out = append(out, res)
		}
		return out
	}
	eq := func(a, b []Result) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	U, S, F := Unknown, Success, Failure
	// Readiness: successThreshold 2, failureThreshold 2 (successes in a row).
	if got := steps(Readiness, &corev1.Probe{SuccessThreshold: 2, FailureThreshold: 2}, true, false, true, true, false, false, true); !eq(got, []Result{U, U, U, S, U, F, U}) {
		t.Errorf("readiness: %v", got)
	}
	// Liveness: the default failureThreshold is 3.
	if got := steps(Liveness, &corev1.Probe{}, false, false, true, false, false, false); !eq(got, []Result{U, U, U, U, U, F}) {
		t.Errorf("liveness: %v", got)
	}
	c := newCounter(&corev1.Probe{FailureThreshold: 2})
	if res, done := c.observe(Startup, false); res != U || done {
		t.Errorf("startup after a failure: %v %v", res, done)
	}
	if res, done := c.observe(Startup, true); res != S || !done {
		t.Errorf("startup after a success: %v %v", res, done)
	}
	live, ready := newCounter(&corev1.Probe{FailureThreshold: 1}), newCounter(&corev1.Probe{FailureThreshold: 1})
	if res, done := live.observe(Liveness, false); res != F || !done {
		t.Errorf("liveness at its threshold: %v %v", res, done)
	}
	if _, done := ready.observe(Readiness, false); done {
		t.Errorf("a readiness worker is never done")
	}
}

// TestResults: only a change is reported; a new run starts from Unknown.
func TestResults(t *testing.T) {
	var got []Update
	r := NewResults(func(u Update) { got = append(got, u) })
	k := Key{Container: "app", Kind: Readiness}
	r.Set(k, Success)
	r.Set(k, Success)
	r.Set(k, Failure)
	if len(got) != 2 || got[0].Result != Success || got[1].Result != Failure || r.Get(k) != Failure {
		t.Fatalf("updates %+v", got)
	}
	r.Forget("app")
	r.Set(k, Failure)
	if len(got) != 3 || r.Get(Key{Container: "app", Kind: Liveness}) != Unknown {
		t.Fatalf("after Forget: %+v", got)
	}
}

// TestWorkRecordsOnly: a worker records its result and stops when done; it
// never acts.
func TestWorkRecordsOnly(t *testing.T) {
	var got []Update
	r := NewResults(func(u Update) { got = append(got, u) })
	calls := 0
	Work(context.Background(), Key{Container: "app", Kind: Liveness}, &corev1.Probe{FailureThreshold: 1}, func(ctx context.Context, timeout time.Duration) bool {
		calls++
		if timeout != time.Second {
			t.Errorf("timeout %v, want the default 1s", timeout)
		}
		return false
	}, r)
	if calls != 1 || len(got) != 1 || got[0].Result != Failure {
		t.Fatalf("calls %d, updates %+v", calls, got)
	}
	// A run that has ended records nothing.
	ctx, cancel := context.WithCancel(context.Background())
	Work(ctx, Key{Container: "app", Kind: Startup}, &corev1.Probe{}, func(context.Context, time.Duration) bool { cancel(); return true }, r)
	if len(got) != 1 {
		t.Fatalf("a cancelled run recorded %+v", got)
	}
}

// fakeHost runs no container: Exec answers with a set exit code.
type fakeHost struct {
	code   int
	out    string
	err    error
	podIP  string
	called [][]string
}

func (h *fakeHost) Exec(ctx context.Context, container string, cmd []string) (int, string, error) {
	h.called = append(h.called, append([]string{container}, cmd...))
	return h.code, h.out, h.err
}

func (h *fakeHost) PodIP() string { return h.podIP }

func TestRunnerExec(t *testing.T) {
	h := &fakeHost{code: 2, out: "not yet\n"}
	run := Runner{Host: h}
	c := &corev1.Container{Name: "app"}
	err := run.Probe(context.Background(), c, corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/ready"}}}, time.Second)
	if err == nil || err.Error() != "command [cat /ready] exited with 2: not yet" {
		t.Fatalf("exec probe: %v", err)
	}
	h.code = 0
	if err := run.Hook(context.Background(), c, &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}); err != nil {
		t.Fatalf("exec hook: %v", err)
	}
	h.err = errors.New("container not running")
	if err := run.Hook(context.Background(), c, &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}); err == nil || err.Error() != "container not running" {
		t.Fatalf("exec hook on a stopped container: %v", err)
	}
	if len(h.called) != 3 || h.called[0][0] != "app" {
		t.Fatalf("calls %v", h.called)
	}
}

// TestRunnerHTTPAndTCP: httpGet and tcpSocket go from the host to the pod's
// address (here loopback), for probes and hooks alike.
func TestRunnerHTTPAndTCP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("X-Probe") != "yes" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	host, portS, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portS)
	run := Runner{Host: &fakeHost{podIP: host}}
	c := &corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	get := func(path string) *corev1.HTTPGetAction {
		return &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}
	}
	if err := run.Probe(context.Background(), c, corev1.ProbeHandler{HTTPGet: get("/ok")}, time.Second); err != nil {
		t.Fatalf("http probe: %v", err)
	}
	if err := run.Probe(context.Background(), c, corev1.ProbeHandler{HTTPGet: get("bad")}, time.Second); err == nil || err.Error() != "HTTP probe failed with statuscode: 503" {
		t.Fatalf("http probe of /bad: %v", err)
	}
	if err := run.Hook(context.Background(), c, &corev1.LifecycleHandler{HTTPGet: get("/ok")}); err != nil {
		t.Fatalf("http hook: %v", err)
	}
	if err := run.Probe(context.Background(), c, corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, time.Second); err != nil {
		t.Fatalf("tcp probe: %v", err)
	}
	if err := run.Probe(context.Background(), c, corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nosuch")}}, time.Second); err == nil || !strings.Contains(err.Error(), `port "nosuch" is not a port of container "web"`) {
		t.Fatalf("tcp probe of an unknown port: %v", err)
	}
	if err := run.Hook(context.Background(), c, &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 0}}); err != nil {
		t.Fatalf("sleep hook: %v", err)
	}
}
