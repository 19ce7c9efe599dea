package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// WebSocket streams. kubectl 1.30 and later ask for exec over WebSocket
// (v5.channel.k8s.io) and for port-forward over a WebSocket tunnel (SPDY
// inside, SPDY/3.1+portforward.k8s.io). The kubelet's streaming code speaks
// SPDY and the WebSocket protocols up to v4; on a cluster the API server
// translates in front of it, with k8s.io/apiserver's StreamTranslatorHandler
// and TunnelingHandler, and so does this server. A translated exec reaches
// the SPDY handler through internalStreams: a connection inside the daemon
// (a socket pair), never a listening socket.

// wantsWebSocketExec tells whether an exec asks for the v5 WebSocket
// protocol that the API server translates.
func wantsWebSocketExec(r *http.Request) bool {
	return wsstream.IsWebSocketRequestWithStreamCloseProtocol(r)
}

// wantsWebSocketTunnel tells whether a port-forward asks for SPDY tunnelled
// through a WebSocket.
func wantsWebSocketTunnel(r *http.Request) bool {
	return wsstream.IsWebSocketRequestWithTunnelingProtocol(r)
}

// translateExec serves a v5 WebSocket exec by running it, translated, as a
// SPDY exec against this server's own SPDY handler.
func (k *kubeServer) translateExec(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	if _, ok := k.streamPod(w, r, kr); !ok {
		return
	}
	q := r.URL.Query()
	on := func(name string) bool { return q.Get(name) == "true" || q.Get(name) == "1" }
	opts := proxy.Options{Stdin: on("stdin"), Stdout: on("stdout"), Stderr: on("stderr"), Tty: on("tty")}
	if opts.Tty {
		opts.Stderr = false
	}
	loc := &url.URL{Scheme: "http", Host: "minipod.internal", Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	proxy.NewStreamTranslatorHandler(loc, k.internal.transport(), 0, opts).ServeHTTP(rawWriter(w), r)
}

// tunnelPortForward serves a port-forward whose SPDY is tunnelled through a
// WebSocket: the tunnel's SPDY goes, as a plain port-forward, to this
// server's own SPDY handler, as the API server's goes to a kubelet.
func (k *kubeServer) tunnelPortForward(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	if _, ok := k.streamPod(w, r, kr); !ok {
		return
	}
	loc := &url.URL{Scheme: "http", Host: "minipod.internal", Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	upgrade := upgradeproxy.NewUpgradeAwareHandler(loc, k.internal.transport(), false, true, upgradeErrors{k, r})
	proxy.NewTunnelingHandler(upgrade).ServeHTTP(rawWriter(w), r)
}

// upgradeErrors answers a failed upgrade to the internal server with a
// Status.
type upgradeErrors struct {
	k *kubeServer
	r *http.Request
}

func (u upgradeErrors) Error(w http.ResponseWriter, _ *http.Request, err error) {
	u.k.writeStatus(w, u.r, newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error()))
}

// internalStreams serves the Kubernetes API's routes, without
// authentication, to connections made inside the daemon by the WebSocket
// translators (whose requests were authenticated when they came in).
type internalStreams struct {
	once    sync.Once
	handler http.Handler
	log     *slog.Logger
	srv     *http.Server
	conns   chan net.Conn
	closed  chan struct{}
	tr      *http.Transport
}

func newInternalStreams(handler http.Handler, log *slog.Logger) *internalStreams {
	s := &internalStreams{handler: handler, log: log, conns: make(chan net.Conn), closed: make(chan struct{})}
	s.tr = &http.Transport{DialContext: s.dial, DisableKeepAlives: true}
	return s
}

// transport dials the internal server, which is started on first use.
func (s *internalStreams) transport() *http.Transport {
	s.once.Do(func() {
		s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		go s.srv.Serve(s)
	})
	return s.tr
}

// dial makes a connected socket pair and hands one end to the server.
func (s *internalStreams) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to make an internal stream connection: %w", err)
	}
	var ends [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "internal-stream")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 1 {
				ends[0].Close()
			} else {
				unix.Close(fds[1])
			}
			return nil, fmt.Errorf("failed to make an internal stream connection: %w", err)
		}
		ends[i] = c
	}
	select {
	case s.conns <- ends[1]:
		return ends[0], nil
	case <-s.closed:
	case <-ctx.Done():
	}
	ends[0].Close()
	ends[1].Close()
	return nil, net.ErrClosed
}

// Accept, Close and Addr make internalStreams the internal server's
// net.Listener.
func (s *internalStreams) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

func (s *internalStreams) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

func (s *internalStreams) Addr() net.Addr { return internalAddr{} }

// shutdown stops the internal server, if it was started; it is not
// started after.
func (s *internalStreams) shutdown(ctx context.Context) {
	s.Close()
	s.once.Do(func() {})
	if s.srv != nil {
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
	}
}

type internalAddr struct{}

func (internalAddr) Network() string { return "internal" }
func (internalAddr) String() string  { return "minipod.internal" }
