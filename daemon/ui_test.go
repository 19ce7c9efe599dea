package daemon

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUIGuard: the live view answers only its own loopback Host, its own
// origin, GET, and the token; a login link works once.
func TestUIGuard(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	root := t.TempDir()
	u, err := newUIServer(nil, root, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, UITokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := u.guard(ok)
	host := l.Addr().String()
	info, err := u.info()
	if err != nil {
		t.Fatal(err)
	}
	login := strings.TrimPrefix(info.URL, "http://"+host)
	do := func(method, path string, hdr map[string]string, hostHdr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.Host = host
		if hostHdr != "" {
			r.Host = hostHdr
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	bearer := map[string]string{"Authorization": "Bearer " + u.token}
	for _, c := range []struct {
		what         string
		method, path string
		hdr          map[string]string
		host         string
		want         int
	}{
		{"no token", "GET", "/", nil, "", http.StatusUnauthorized},
		{"wrong token", "GET", "/", map[string]string{"Authorization": "Bearer x"}, "", http.StatusUnauthorized},
		{"token", "GET", "/", bearer, "", http.StatusOK},
		{"localhost", "GET", "/", bearer, "localhost:" + u.port, http.StatusOK},
		{"foreign host", "GET", "/", bearer, "rebind.example:" + u.port, http.StatusForbidden},
		{"other port", "GET", "/", bearer, "127.0.0.1:1", http.StatusForbidden},
		{"other origin", "GET", "/", map[string]string{"Authorization": bearer["Authorization"], "Origin": "http://evil.example"}, "", http.StatusForbidden},
		{"same origin", "GET", "/", map[string]string{"Authorization": bearer["Authorization"], "Origin": "http://" + host}, "", http.StatusOK},
		{"cross-site", "GET", "/", map[string]string{"Authorization": bearer["Authorization"], "Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"write", "POST", "/", bearer, "", http.StatusMethodNotAllowed},
		{"delete", "DELETE", "/", bearer, "", http.StatusMethodNotAllowed},
	} {
		if got := do(c.method, c.path, c.hdr, c.host).Code; got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	// The login link, through the real routes.
	h = u.guard(u.routes())
	w := do("GET", login, nil, "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", w.Code)
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Value != u.token || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("login cookie %+v, want the token, HttpOnly, SameSite=Strict", c)
	}
	if w := do("GET", login, nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("login link used twice: %d, want 401", w.Code)
	}
	r := httptest.NewRequest("GET", "/style.css", nil)
	r.Host = host
	r.AddCookie(c[0])
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if rw.Code != http.StatusOK || !strings.Contains(rw.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("style.css with the cookie: %d, CSP %q", rw.Code, rw.Header().Get("Content-Security-Policy"))
	}
}

// TestUIOff: with the live view off, the socket says how to turn it on.
func TestUIOff(t *testing.T) {
	mux := (&server{}).routes()
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/minipod/v1/ui", nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "--ui 127.0.0.1:7777") {
		t.Errorf("ui when off: %d %s", w.Code, w.Body.String())
	}
}
