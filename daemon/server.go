package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/runtime"
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
	return serve(ctx, l, b, log, nil, serveOptions{})
}

// serveOptions are the daemon's settings of the request checks.
type serveOptions struct {
	// tcp is what a request through the TCP listener must show.
	tcp *tcpGuard
	// bodyIdle is how long a request body may stall (default
	// DefaultBodyIdleTimeout).
	bodyIdle time.Duration
}

// serve is Serve with extra routes (pprof) mounted beside the API.
func serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger, extra func(*http.ServeMux), opts serveOptions) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	s := &server{b: b, log: log, stopping: stopping}
	mux := s.routes()
	if extra != nil {
		extra(mux)
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
}

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
	mux.HandleFunc("POST /minipod/v1/images/pull", s.pullImage)
	mux.HandleFunc("POST /minipod/v1/images/load", s.loadImage)
	mux.HandleFunc("DELETE /minipod/v1/images", s.removeImage)
	mux.HandleFunc("GET /minipod/v1/containerd", s.containerd)
	mux.HandleFunc("POST /minipod/v1/gc", s.gc)

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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeStatus(w http.ResponseWriter, st *metav1.Status) {
	writeJSON(w, int(st.Code), st)
}

func writeError(w http.ResponseWriter, err error) {
	writeStatus(w, Status(err))
}

// writeObjectError is writeError for a request on one named object: NotFound
// reads as Kubernetes says it (`pods "web" not found`).
func writeObjectError(w http.ResponseWriter, err error, resource, name string) {
	if errors.Is(err, errdefs.ErrNotFound) {
		st := newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", resource, name))
		st.Details = &metav1.StatusDetails{Name: name, Kind: resource}
		writeStatus(w, st)
		return
	}
	writeError(w, err)
}

func badRequest(msg string) *metav1.Status {
	return newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, msg)
}

func success(resource, name string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     http.StatusOK,
		Details:  &metav1.StatusDetails{Name: name, Kind: resource},
	}
}

// readObject reads a request body of at most MaxObjectBytes. On failure it
// has answered the request and returns false.
func readObject(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxObjectBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, newStatus(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", MaxObjectBytes)))
			return nil, false
		}
		writeStatus(w, badRequest(fmt.Sprintf("failed to read the request body: %v", err)))
		return nil, false
	}
	return data, true
}

// requestSource names a request body in decode and validation errors.
var requestSource = manifest.Source{File: "request"}

// setNamespace puts the URL's namespace on an object, or refuses an object
// that names another one.
func setNamespace(meta *metav1.ObjectMeta, ns string) *metav1.Status {
	if meta.Namespace == "" {
		meta.Namespace = ns
		return nil
	}
	if meta.Namespace != ns {
		return badRequest(fmt.Sprintf("the namespace of the object (%q) does not match the namespace of the request (%q)", meta.Namespace, ns))
	}
	return nil
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
	}
}

func queryBool(r *http.Request, key string) (bool, *metav1.Status) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(fmt.Sprintf("query parameter %s=%q is not a boolean", key, v))
	}
	return b, nil
}

func queryInt(r *http.Request, key string) (*int64, *metav1.Status) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("query parameter %s=%q is not an integer", key, v))
	}
	return &n, nil
}

// ---- pods

func (s *server) createPod(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns := r.PathValue("ns")
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	pod, warnings, err := manifest.DecodePod(requestSource, data)
	if err != nil {
		writeStatus(w, badRequest(err.Error()))
		return
	}
	if st := setNamespace(&pod.ObjectMeta, ns); st != nil {
		writeStatus(w, st)
		return
	}
	manifest.DefaultPod(pod)
	refs, err := s.refs(ctx, ns)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := manifest.ValidatePod(requestSource, pod, refs); err != nil {
		writeStatus(w, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error()))
		return
	}
	addWarnings(w, warnings)
	wait := true
	if v := r.URL.Query().Get("wait"); v != "" {
		b, st := queryBool(r, "wait")
		if st != nil {
			writeStatus(w, st)
			return
		}
		wait = b
	}
	// pulledImage (repeated) names images the client pulled for this pod
	// just before: imagePullPolicy Always does not pull them again.
	opts := api.CreateOptions{PulledImages: r.URL.Query()["pulledImage"]}
	for _, ref := range opts.PulledImages {
		if _, err := runtime.NormalizeImage(ref); err != nil {
			writeStatus(w, badRequest(fmt.Sprintf("query parameter pulledImage: %v", err)))
			return
		}
	}
	if !wait {
		// Detached: the creation outlives the request; its outcome shows in
		// the pod's status.
		s.background.Add(1)
		go func(pod *corev1.Pod) {
			defer s.background.Done()
			if _, err := s.b.CreatePod(context.WithoutCancel(ctx), pod, opts); err != nil {
				s.log.Warn("failed to create pod", "namespace", pod.Namespace, "pod", pod.Name, "error", err)
			}
		}(pod.DeepCopy())
		pod.Status.Phase = corev1.PodPending
		writeJSON(w, http.StatusAccepted, podObject(pod))
		return
	}
	created, err := s.b.CreatePod(ctx, pod, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, podObject(created))
}

// refs collects the ConfigMaps and Secrets of a namespace, which a pod's
// volumes and env may reference.
func (s *server) refs(ctx context.Context, ns string) (manifest.Refs, error) {
	refs := manifest.Refs{
		ConfigMaps: map[string]*corev1.ConfigMap{},
		Secrets:    map[string]*corev1.Secret{},
	}
	cms, err := s.b.ListConfigMaps(ctx, ns)
	if err != nil {
		return refs, err
	}
	for i := range cms {
		refs.ConfigMaps[cms[i].Name] = &cms[i]
	}
	secrets, err := s.b.ListSecrets(ctx, ns)
	if err != nil {
		return refs, err
	}
	for i := range secrets {
		refs.Secrets[secrets[i].Name] = &secrets[i]
	}
	return refs, nil
}

func podObject(p *corev1.Pod) *corev1.Pod {
	p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	return p
}

func (s *server) listPods(w http.ResponseWriter, r *http.Request) {
	if watching, st := queryBool(r, "watch"); st != nil || watching {
		if st != nil {
			writeStatus(w, st)
			return
		}
		s.watch(w, r, func(ctx context.Context) ([]object, error) {
			pods, err := s.b.ListPods(ctx, r.PathValue("ns"))
			objs := make([]object, len(pods))
			for i := range pods {
				objs[i] = object{key: pods[i].Namespace + "/" + pods[i].Name, obj: podObject(&pods[i])}
			}
			return objs, err
		}, true)
		return
	}
	pods, err := s.b.ListPods(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	if pods == nil {
		pods = []corev1.Pod{}
	}
	writeJSON(w, http.StatusOK, &corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		Items:    pods,
	})
}

func (s *server) getPod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pod, err := s.b.GetPod(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}
	writeJSON(w, http.StatusOK, podObject(pod))
}

func (s *server) deletePod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	grace, st := queryInt(r, "gracePeriodSeconds")
	if st != nil {
		writeStatus(w, st)
		return
	}
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	if len(data) > 0 {
		var do metav1.DeleteOptions
		if err := json.Unmarshal(data, &do); err != nil {
			writeStatus(w, badRequest(fmt.Sprintf("failed to decode DeleteOptions: %v", err)))
			return
		}
		if grace == nil {
			grace = do.GracePeriodSeconds
		}
	}
	if grace != nil && *grace < 0 {
		writeStatus(w, badRequest(fmt.Sprintf("gracePeriodSeconds must not be negative, got %d", *grace)))
		return
	}
	if err := s.b.DeletePod(r.Context(), r.PathValue("ns"), name, api.DeleteOptions{GracePeriodSeconds: grace}); err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}
	writeJSON(w, http.StatusOK, success("pods", name))
}

// flushWriter sends each write to the client at once. It writes the
// response header on the first write, so that an error before any output
// can still be answered with a Status.
type flushWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	started     bool
}

func newFlushWriter(w http.ResponseWriter, contentType string) *flushWriter {
	return &flushWriter{w: w, rc: http.NewResponseController(w), contentType: contentType}
}

func (fw *flushWriter) start() {
	if fw.started {
		return
	}
	fw.started = true
	fw.w.Header().Set("Content-Type", fw.contentType)
	fw.w.Header().Set("X-Content-Type-Options", "nosniff")
	fw.w.WriteHeader(http.StatusOK)
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.start()
	n, err := fw.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, fw.rc.Flush()
}

func (s *server) podLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := api.LogOptions{Container: q.Get("container")}
	var st *metav1.Status
	if opts.Follow, st = queryBool(r, "follow"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.Previous, st = queryBool(r, "previous"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.Timestamps, st = queryBool(r, "timestamps"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.TailLines, st = queryInt(r, "tailLines"); st != nil {
		writeStatus(w, st)
		return
	}
	since, st := queryInt(r, "sinceSeconds")
	if st != nil {
		writeStatus(w, st)
		return
	}
	if since != nil {
		opts.Since = time.Duration(*since) * time.Second
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	fw := newFlushWriter(w, "text/plain; charset=utf-8")
	err := s.b.Logs(ctx, r.PathValue("ns"), r.PathValue("name"), opts, fw)
	if err == nil {
		fw.start()
		return
	}
	if !fw.started {
		writeError(w, err)
		return
	}
	// The stream has begun; the client sees it end early.
	if ctx.Err() == nil {
		s.log.Warn("failed to stream logs", "namespace", r.PathValue("ns"), "pod", r.PathValue("name"), "error", err)
	}
}

// ---- configmaps

func (s *server) createConfigMap(w http.ResponseWriter, r *http.Request) {
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	cm, warnings, err := manifest.DecodeConfigMap(requestSource, data)
	if err != nil {
		writeStatus(w, badRequest(err.Error()))
		return
	}
	if st := setNamespace(&cm.ObjectMeta, r.PathValue("ns")); st != nil {
		writeStatus(w, st)
		return
	}
	addWarnings(w, warnings)
	created, err := s.b.CreateConfigMap(r.Context(), cm)
	if err != nil {
		writeError(w, err)
		return
	}
	created.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
	writeJSON(w, http.StatusCreated, created)
}

func (s *server) listConfigMaps(w http.ResponseWriter, r *http.Request) {
	items, err := s.b.ListConfigMaps(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.ConfigMap{}
	}
	writeJSON(w, http.StatusOK, &corev1.ConfigMapList{
		TypeMeta: metav1.TypeMeta{Kind: "ConfigMapList", APIVersion: "v1"},
		Items:    items,
	})
}

func (s *server) getConfigMap(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cm, err := s.b.GetConfigMap(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "configmaps", name)
		return
	}
	cm.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, cm)
}

func (s *server) deleteConfigMap(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.b.DeleteConfigMap(r.Context(), r.PathValue("ns"), name); err != nil {
		writeObjectError(w, err, "configmaps", name)
		return
	}
	writeJSON(w, http.StatusOK, success("configmaps", name))
}

// ---- secrets

func (s *server) createSecret(w http.ResponseWriter, r *http.Request) {
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	secret, warnings, err := manifest.DecodeSecret(requestSource, data)
	if err != nil {
		writeStatus(w, badRequest(err.Error()))
		return
	}
	if st := setNamespace(&secret.ObjectMeta, r.PathValue("ns")); st != nil {
		writeStatus(w, st)
		return
	}
	addWarnings(w, warnings)
	created, err := s.b.CreateSecret(r.Context(), secret)
	if err != nil {
		writeError(w, err)
		return
	}
	created.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	writeJSON(w, http.StatusCreated, created)
}

func (s *server) listSecrets(w http.ResponseWriter, r *http.Request) {
	items, err := s.b.ListSecrets(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.Secret{}
	}
	writeJSON(w, http.StatusOK, &corev1.SecretList{
		TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"},
		Items:    items,
	})
}

func (s *server) getSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	secret, err := s.b.GetSecret(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "secrets", name)
		return
	}
	secret.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, secret)
}

func (s *server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.b.DeleteSecret(r.Context(), r.PathValue("ns"), name); err != nil {
		writeObjectError(w, err, "secrets", name)
		return
	}
	writeJSON(w, http.StatusOK, success("secrets", name))
}

// listEvents serves an EventList; `fieldSelector=involvedObject.name=POD`
// narrows it to one pod, as kubectl asks for it.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) {
	pod := ""
	for _, sel := range strings.Split(r.URL.Query().Get("fieldSelector"), ",") {
		if k, v, ok := strings.Cut(sel, "="); ok && k == "involvedObject.name" {
			pod = v
		}
	}
	if watching, st := queryBool(r, "watch"); st != nil || watching {
		if st != nil {
			writeStatus(w, st)
			return
		}
		// Events come and are counted again; those of a deleted pod stay
		// for the runtime's event TTL, and their expiry is not reported.
		s.watch(w, r, func(ctx context.Context) ([]object, error) {
			events, err := s.b.ListEvents(ctx, r.PathValue("ns"), pod)
			objs := make([]object, len(events))
			for i := range events {
				objs[i] = object{key: events[i].Namespace + "/" + events[i].Name, obj: &events[i]}
			}
			return objs, err
		}, false)
		return
	}
	items, err := s.b.ListEvents(r.Context(), r.PathValue("ns"), pod)
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.Event{}
	}
	writeJSON(w, http.StatusOK, &corev1.EventList{
		TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"},
		Items:    items,
	})
}
