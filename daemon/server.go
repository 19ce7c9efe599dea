package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxObjectBytes bounds the body of a request that carries an object (a pod,
// a ConfigMap, a Secret, delete options). Image archives are not bounded.
const MaxObjectBytes = 4 << 20

// shutdownGrace is how long Serve waits, once its context ends, for requests
// in flight (such as a pod being created) before it closes their connections.
const shutdownGrace = 30 * time.Second

// Serve serves the minipod API of b on l until ctx ends, then stops
// accepting, ends streaming requests (followed logs, execs), waits up to 30s
// for the other requests in flight and returns. It closes l. Serve returns
// nil when it stopped because ctx ended.
// Requests that do not come through a unix socket are refused (see
// guardRequests).
func Serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger) error {
	return serve(ctx, l, b, log, serveOptions{})
}

// serveOptions are what the daemon's Run serves besides what Serve does:
// its settings of the request checks, the live view and the Kubernetes
// API whose login link and kubeconfig the API hands out, and pprof.
type serveOptions struct {
	// tcp is what a request through the TCP listener must show.
	tcp *tcpGuard
	// bodyIdle is how long a request body may stall (default
	// DefaultBodyIdleTimeout).
	bodyIdle time.Duration
	// ui is the live view (nil: off).
	ui *uiServer
	// kube is the Kubernetes API (nil: off).
	kube *kubeAPI
	// pprof serves net/http/pprof under /debug/pprof/.
	pprof bool
}

// serve is Serve with the daemon's options.
func serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger, opts serveOptions) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	s := &server{b: b, log: log, stopping: stopping, ui: opts.ui, kube: opts.kube}
	mux := s.routes()
	if opts.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	hs := &http.Server{
		Handler:           s.logRequests(guardRequests(mux, opts.tcp, opts.bodyIdle)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("failed to serve the minipod API on %q: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	stop() // ends follows and execs
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
	}
	s.background.Wait()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("failed to serve the minipod API on %q: %w", l.Addr(), err)
	}
	if err != nil {
		return fmt.Errorf("failed to shut down the minipod API: %w", err)
	}
	return nil
}

type server struct {
	b   Backend
	log *slog.Logger
	// stopping ends when the server shuts down; streams end with it.
	stopping context.Context
	// background counts pod creations that run detached from their request.
	background sync.WaitGroup
	// ui and kube, when not nil, are the live view and the Kubernetes API,
	// whose login link and kubeconfig the API hands out.
	ui   *uiServer
	kube *kubeAPI
	// health tells whether containerd answers.
	health runtimeHealth
}

// routes are the minipod API, one handler per resource and verb; the
// handlers live in a file per resource (pods.go, logs.go, exec.go,
// configmaps.go, secrets.go, events.go, images.go, containerd.go, gc.go,
// host.go, ui.go, kubeapi_run.go).
func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})

	mux.HandleFunc("POST /api/v1/namespaces/{ns}/pods", s.createPod)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", s.listPods)
	mux.HandleFunc("GET /api/v1/pods", s.listPods)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.getPod)
	mux.HandleFunc("DELETE /api/v1/namespaces/{ns}/pods/{name}", s.deletePod)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}/log", s.podLogs)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/pods/{name}/exec", s.podExec)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}/exec", s.podExec)

	mux.HandleFunc("POST /api/v1/namespaces/{ns}/configmaps", s.createConfigMap)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/configmaps", s.listConfigMaps)
	mux.HandleFunc("GET /api/v1/configmaps", s.listConfigMaps)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/configmaps/{name}", s.getConfigMap)
	mux.HandleFunc("DELETE /api/v1/namespaces/{ns}/configmaps/{name}", s.deleteConfigMap)

	mux.HandleFunc("POST /api/v1/namespaces/{ns}/secrets", s.createSecret)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/secrets", s.listSecrets)
	mux.HandleFunc("GET /api/v1/secrets", s.listSecrets)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/secrets/{name}", s.getSecret)
	mux.HandleFunc("DELETE /api/v1/namespaces/{ns}/secrets/{name}", s.deleteSecret)

	mux.HandleFunc("GET /api/v1/namespaces/{ns}/events", s.listEvents)
	mux.HandleFunc("GET /api/v1/events", s.listEvents)

	mux.HandleFunc("GET /minipod/v1/images", s.listImages)
	mux.HandleFunc("GET /minipod/v1/images/config", s.imageConfigs)
	mux.HandleFunc("POST /minipod/v1/images/pull", s.pullImage)
	mux.HandleFunc("POST /minipod/v1/images/load", s.loadImage)
	mux.HandleFunc("DELETE /minipod/v1/images", s.removeImage)
	mux.HandleFunc("GET /minipod/v1/containerd", s.containerd)
	mux.HandleFunc("POST /minipod/v1/gc", s.gc)
	mux.HandleFunc("GET /minipod/v1/namespaces/{ns}/pods/{name}/host", s.hostView)
	mux.HandleFunc("GET /minipod/v1/ui", s.uiLogin)
	mux.HandleFunc("GET /minipod/v1/kubeconfig", s.kubeconfig)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, newStatus(http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf("the server could not find the requested resource (%s %s)", r.Method, r.URL.Path)))
	})
	return mux
}

// streamContext is the context of a streaming request: it ends with the
// request or when the server shuts down.
func (s *server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.stopping, cancel)
	return ctx, func() { stop(); cancel() }
}

// logRequests logs every request at debug level.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		code := rw.code
		if code == 0 {
			code = http.StatusSwitchingProtocols // hijacked
		}
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("query", r.URL.RawQuery), slog.Int("status", code),
			slog.Duration("duration", time.Since(start)))
	})
}

// recorder remembers the status code; Unwrap lets http.ResponseController
// reach Flush and Hijack of the real writer.
type recorder struct {
	http.ResponseWriter
	code int
}

func (rw *recorder) WriteHeader(code int) {
	if rw.code == 0 {
		rw.code = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.code == 0 {
		rw.code = http.StatusOK
	}
	return rw.ResponseWriter.Write(p)
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
