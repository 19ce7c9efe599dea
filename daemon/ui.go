package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/atomicfile"
)

// The live view: a read-only web page, served on loopback TCP, that draws
// what each pod is on the host and follows it as it changes. The page and
// its script are embedded; it loads nothing from elsewhere.
//
// Who may look: whoever holds the token the daemon writes to
// <root>/ui-token (0600, new at each start). `minipod ui` asks the daemon,
// over its root-only socket, for a one-time login link; following it sets
// the token as an HttpOnly, SameSite=Strict cookie. Requests naming another
// Host (DNS rebinding) or coming from another origin are refused.

//go:embed ui
var uiFiles embed.FS

// UITokenFile is the name of the live view's token file under the root.
const UITokenFile = "ui-token"

const (
	uiCookie   = "minipod_ui"
	loginTTL   = 5 * time.Minute
	logTail    = 20
	maxLogLine = 2000
)

type uiServer struct {
	b        Backend
	log      *slog.Logger
	token    string
	port     string
	stopping context.Context

	mu     sync.Mutex
	logins map[string]time.Time
}

// newUIServer makes the live view's token under root and returns the
// server for l.
func newUIServer(b Backend, root string, l net.Listener, log *slog.Logger) (*uiServer, error) {
	token, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	root = stateRoot(root)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the state root %q: %w", root, err)
	}
	// Replaced, never rewritten in place; a new one at each start, so that
	// a restart ends the sessions of the one before.
	path := filepath.Join(root, UITokenFile)
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("failed to write the live view's token %q: %w", path, err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return &uiServer{b: b, log: log, token: token, port: port, logins: map[string]time.Time{}}, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("failed to make a random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// info mints a one-time login link.
func (u *uiServer) info() (api.UIInfo, error) {
	key, err := randomHex(24)
	if err != nil {
		return api.UIInfo{}, err
	}
	u.mu.Lock()
	now := time.Now()
	for k, t := range u.logins {
		if now.After(t) {
			delete(u.logins, k)
		}
	}
	u.logins[key] = now.Add(loginTTL)
	u.mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", u.port)
	return api.UIInfo{URL: "http://" + addr + "/login?key=" + key, Address: "http://" + addr + "/"}, nil
}

// serve serves the live view on l until ctx ends.
func (u *uiServer) serve(ctx context.Context, l net.Listener) error {
	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	u.stopping = stopping
	hs := &http.Server{
		Handler:           u.guard(u.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(u.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("failed to serve the live view on %q: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	stop() // ends the streams
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// guard refuses what the live view never answers: another Host (a DNS
// rebinding attack names the attacker's host), another origin, anything
// but GET, and, except for the login itself, requests without the token.
func (u *uiServer) guard(next http.Handler) http.Handler {
	hosts := map[string]bool{}
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		hosts[h+":"+u.port] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		if !hosts[strings.ToLower(r.Host)] {
			http.Error(w, "refused: this page is served to 127.0.0.1, localhost and [::1] only, not to Host "+quoteHeader(r.Host), http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			http.Error(w, "refused: cross-origin request", http.StatusForbidden)
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			http.Error(w, "refused: cross-site request", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the live view is read-only", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path != "/login" && !u.authorized(r) {
			http.Error(w, "unauthorized: run \"minipod ui\" and open the link it prints", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func quoteHeader(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return fmt.Sprintf("%q", s)
}

func (u *uiServer) authorized(r *http.Request) bool {
	given := ""
	if c, err := r.Cookie(uiCookie); err == nil {
		given = c.Value
	} else if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = a
	}
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(u.token)) == 1
}

func (u *uiServer) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(uiFiles, "ui")
	files := http.FileServerFS(static)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /style.css", files)
	mux.Handle("GET /favicon.svg", files)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := fs.ReadFile(static, "index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
	mux.HandleFunc("GET /login", u.login)
	mux.HandleFunc("GET /api/pods", func(w http.ResponseWriter, r *http.Request) {
		pods, err := u.overview(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, pods)
	})
	mux.HandleFunc("GET /api/pods/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, err := u.podView(r.Context(), r.PathValue("ns"), r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /api/stream", u.stream)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	return mux
}

// login trades a one-time key for the cookie.
func (u *uiServer) login(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	u.mu.Lock()
	exp, ok := u.logins[key]
	delete(u.logins, key)
	u.mu.Unlock()
	if !ok || time.Now().After(exp) {
		http.Error(w, "this login link is used or expired: run \"minipod ui\" for a new one", http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: uiCookie, Value: u.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// podSummary is one pod on the overview: enough to draw it and the names
// it is reached by.
type podSummary struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	Phase      string           `json:"phase"`
	PodIP      string           `json:"podIP,omitempty"`
	Veth       string           `json:"veth,omitempty"`
	Bridge     string           `json:"bridge,omitempty"`
	Deleting   bool             `json:"deleting,omitempty"`
	Containers []containerBrief `json:"containers"`
	// Hosts are the other pods this pod's /etc/hosts names.
	Hosts []hostsEntry `json:"hosts,omitempty"`
}

type containerBrief struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
}

type hostsEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

func (u *uiServer) overview(ctx context.Context) ([]podSummary, error) {
	pods, err := u.b.ListPods(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]podSummary, 0, len(pods))
	for _, p := range pods {
		s := podSummary{Namespace: p.Namespace, Name: p.Name, Phase: string(p.Status.Phase), PodIP: p.Status.PodIP,
			Deleting: p.DeletionTimestamp != nil}
		if v, err := u.b.HostView(ctx, p.Namespace, p.Name); err == nil {
			s.Veth, s.Bridge = v.Veth.Host, v.Bridge.Name
			s.Hosts = peerEntries(v.Hosts, p.Status.PodIP)
			for _, c := range v.Containers {
				if !c.Init {
					s.Containers = append(s.Containers, containerBrief{Name: c.Name, State: c.State, Ready: c.Ready, Restarts: c.Restarts})
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// peerEntries are the lines of an /etc/hosts that name other addresses
// than loopback and the pod's own.
func peerEntries(hosts, self string) []hostsEntry {
	var out []hostsEntry
	for _, l := range strings.Split(hosts, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || f[0] == self {
			continue
		}
		if ip := net.ParseIP(f[0]); ip == nil || ip.IsLoopback() || ip.To4() == nil {
			continue
		}
		out = append(out, hostsEntry{IP: f[0], Names: f[1:]})
	}
	return out
}

// podPage is what the page of one pod draws.
type podPage struct {
	View   *api.HostView `json:"view"`
	Events []eventBrief  `json:"events"`
}

type eventBrief struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int32     `json:"count"`
	Last    time.Time `json:"last"`
}

func (u *uiServer) podView(ctx context.Context, ns, name string) (*podPage, error) {
	v, err := u.b.HostView(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	page := &podPage{View: v, Events: []eventBrief{}}
	evs, err := u.b.ListEvents(ctx, ns, name)
	if err == nil {
		if len(evs) > 30 {
			evs = evs[len(evs)-30:]
		}
		for _, e := range evs {
			page.Events = append(page.Events, eventBrief{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: e.Count, Last: lastSeen(e)})
		}
	}
	return page, nil
}

func lastSeen(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

// sse writes server-sent events, one at a time.
type sse struct {
	mu sync.Mutex
	w  io.Writer
	rc *http.ResponseController
}

func (s *sse) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return s.rc.Flush()
}

// stream sends the overview ("pods") and, with ?pod=NS/NAME, that pod's
// page ("pod") each time the daemon reports a change (the same signal the
// API's watches use, never a timer), and the tail of each container's log
// ("log", "logreset") as it is written.
func (u *uiServer) stream(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(u.stopping, cancel)
	defer stop()
	ns, name, onePod := strings.Cut(r.URL.Query().Get("pod"), "/")
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	out := &sse{w: w, rc: http.NewResponseController(w)}
	if onePod {
		go u.followLogs(ctx, out, ns, name)
	}
	var lastPods, lastPod []byte
	for {
		changed := u.b.Changed()
		pods, err := u.overview(ctx)
		if err != nil {
			return
		}
		if b, _ := json.Marshal(pods); !bytes.Equal(b, lastPods) {
			lastPods = b
			if out.send("pods", pods) != nil {
				return
			}
		}
		if onePod {
			page, err := u.podView(ctx, ns, name)
			if err != nil {
				page = nil // gone: the page says so
			}
			if b, _ := json.Marshal(page); !bytes.Equal(b, lastPod) {
				lastPod = b
				if out.send("pod", page) != nil {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// logLine is one line of a container's log on the page.
type logLine struct {
	Container string `json:"container"`
	Line      string `json:"line,omitempty"`
}

// followLogs follows the log of each container of a pod, from its last
// lines; when a container restarts, its tail starts again from the new run.
func (u *uiServer) followLogs(ctx context.Context, out *sse, ns, name string) {
	pod, err := u.b.GetPod(ctx, ns, name)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.followLog(ctx, out, ns, name, c.Name)
		}()
	}
	wg.Wait()
}

func (u *uiServer) followLog(ctx context.Context, out *sse, ns, name, ctr string) {
	runOf := func() (int32, bool) {
		p, err := u.b.GetPod(ctx, ns, name)
		if err != nil {
			return 0, false
		}
		for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if s.Name == ctr {
				return s.RestartCount, s.State.Running != nil
			}
		}
		return 0, false
	}
	followed := int32(-1)
	for ctx.Err() == nil {
		changed := u.b.Changed()
		run, running := runOf()
		if running && run != followed {
			followed = run
			if out.send("logreset", logLine{Container: ctr}) != nil {
				return
			}
			tail := int64(logTail)
			lw := &lineWriter{fn: func(l string) error { return out.send("log", logLine{Container: ctr, Line: l}) }}
			_ = u.b.Logs(ctx, ns, name, api.LogOptions{Container: ctr, Follow: true, TailLines: &tail}, lw)
			lw.flush()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// lineWriter calls fn for every complete line written to it.
type lineWriter struct {
	buf []byte
	fn  func(string) error
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		line := string(lw.buf[:i])
		lw.buf = lw.buf[i+1:]
		if len(line) > maxLogLine {
			line = line[:maxLogLine] + "…"
		}
		if err := lw.fn(line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (lw *lineWriter) flush() {
	if len(lw.buf) > 0 {
		_ = lw.fn(string(lw.buf))
		lw.buf = nil
	}
}

// uiLogin serves GET /minipod/v1/ui on the API's socket: a one-time login
// link to the live view.
func (s *server) uiLogin(w http.ResponseWriter, r *http.Request) {
	if s.ui == nil {
		writeStatus(w, newStatus(http.StatusNotFound, metav1.StatusReasonNotFound,
			"the live view is off: start the daemon with --ui 127.0.0.1:7777 (any free loopback port)"))
		return
	}
	info, err := s.ui.info()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
