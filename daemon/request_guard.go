package daemon

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every request passes guardRequests before the API sees it.
//
// On any connection that is not the unix socket (the loopback TCP
// listener), a web page must not be able to use the API: a browser on this
// host reaches 127.0.0.1 too, and a page can send a cross-site POST (with
// Content-Type text/plain, which needs no preflight) or rebind its own
// host name to 127.0.0.1 and read the answers. So such a request needs
//
//   - a Host that is the listener's own address (its IP or "localhost",
//     and its port): a rebound name is refused;
//   - no Origin header, or one of this very origin;
//   - the daemon's bearer token (Authorization: Bearer ...), which only
//     root can read (TokenFile); GET /healthz is the one exception.
//
// On every listener, a request that carries a body must say it is JSON or
// YAML (or a tar archive for an image load), or it is refused with 415:
// no HTML form can send those types. And a body must keep arriving: a
// client that stops sending for bodyIdleTimeout is cut off, so half-sent
// bodies cannot hold connections and memory forever.

// DefaultBodyIdleTimeout is how long a request body may stall.
const DefaultBodyIdleTimeout = time.Minute

// tcpGuard is what a TCP request must show.
type tcpGuard struct {
	token string
	port  string
	ip    net.IP
}

func newTCPGuard(addr net.Addr, token string) (*tcpGuard, error) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("the TCP listener's address %v is not a TCP address", addr)
	}
	if len(token) < 32 {
		return nil, errors.New("the API token is too short")
	}
	return &tcpGuard{token: token, port: fmt.Sprint(ta.Port), ip: ta.IP}, nil
}

// check returns the refusal of r, or nil.
func (g *tcpGuard) check(r *http.Request) *metav1.Status {
	if g == nil {
		return newStatus(http.StatusForbidden, metav1.StatusReasonForbidden, "this listener serves no API")
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != g.port || !(host == "localhost" || g.ip.Equal(net.ParseIP(host))) {
		return newStatus(http.StatusForbidden, metav1.StatusReasonForbidden,
			fmt.Sprintf("Host %q is not this listener's address (%s); a request through another name is refused", r.Host, net.JoinHostPort(g.ip.String(), g.port)))
	}
	if o, ok := r.Header["Origin"]; ok && (len(o) != 1 || o[0] != "http://"+r.Host) {
		return newStatus(http.StatusForbidden, metav1.StatusReasonForbidden,
			fmt.Sprintf("cross-origin request from %q refused", strings.Join(o, ", ")))
	}
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		return nil
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		return newStatus(http.StatusUnauthorized, metav1.StatusReasonUnauthorized,
			"the TCP listener needs the daemon's token (Authorization: Bearer, from the file api-token under the daemon's --root, readable by root; minipod --server reads it)")
	}
	return nil
}

// allowedBody reports whether a body of media type mt may be sent to r.
func allowedBody(r *http.Request, mt string) bool {
	switch {
	case mt == "application/json", mt == "application/yaml", mt == "application/vnd.kubernetes.protobuf":
		return true
	case strings.HasPrefix(mt, "application/") && (strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+yaml")):
		return true // merge-patch+json, apply-patch+yaml, ...
	case mt == "application/x-tar":
		return r.Method == http.MethodPost && r.URL.Path == "/minipod/v1/images/load"
	}
	return false
}

// checkBody refuses a POST, PUT or PATCH whose body is of a type the API
// does not take, or has no type.
func checkBody(r *http.Request) *metav1.Status {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return nil // no body: an exec upgrade, gc, an image pull
		}
		return newStatus(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			"the request body has no Content-Type; send application/json or application/yaml")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !allowedBody(r, mt) {
		return newStatus(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("Content-Type %q is not accepted; send application/json or application/yaml", ct))
	}
	return nil
}

// guardRequests applies the checks above before next.
func guardRequests(next http.Handler, tcp *tcpGuard, bodyIdle time.Duration) http.Handler {
	if bodyIdle <= 0 {
		bodyIdle = DefaultBodyIdleTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, local := r.Context().Value(http.LocalAddrContextKey).(*net.UnixAddr); !local {
			if st := tcp.check(r); st != nil {
				if st.Code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="minipod"`)
				}
				writeStatus(w, st)
				return
			}
		}
		if st := checkBody(r); st != nil {
			writeStatus(w, st)
			return
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: bodyIdle}
		}
		next.ServeHTTP(w, r)
	})
}

// idleBody gives each read of a request body a deadline, and lifts it
// once the body has been read to its end, so that the connection's later reads (the
// server's watch for a client gone away) do not time out.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		// Read whole: the deadline is lifted. After any other error it
		// stays, so that the server's discarding of the rest of the body
		// is cut off too.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
