package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGuardRequests(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	var guard *tcpGuard
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		io.WriteString(w, "ok")
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guardRequests(ok, guard, 300*time.Millisecond).ServeHTTP(w, r)
	}))
	srv.Start()
	defer srv.Close()
	var err error
	if guard, err = newTCPGuard(srv.Listener.Addr(), token); err != nil {
		t.Fatal(err)
	}
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		name, method, path, host, origin, ctype, auth, body string
		want                                                int
	}{
		{name: "no token", method: "GET", path: "/api/v1/pods", want: 401},
		{name: "wrong token", method: "GET", path: "/api/v1/pods", auth: "Bearer x", want: 401},
		{name: "token", method: "GET", path: "/api/v1/pods", auth: "Bearer " + token, want: 200},
		{name: "healthz without token", method: "GET", path: "/healthz", want: 200},
		{name: "localhost", method: "GET", path: "/api/v1/pods", host: "localhost:" + port, auth: "Bearer " + token, want: 200},
		{name: "rebound host", method: "GET", path: "/api/v1/pods", host: "evil.example:" + port, auth: "Bearer " + token, want: 403},
		{name: "rebound host healthz", method: "GET", path: "/healthz", host: "evil.example:" + port, want: 403},
		{name: "other port", method: "GET", path: "/api/v1/pods", host: "127.0.0.1:1", auth: "Bearer " + token, want: 403},
		{name: "cross origin", method: "POST", path: "/api/v1/namespaces/default/pods", origin: "http://evil.example", ctype: "application/json", auth: "Bearer " + token, body: "{}", want: 403},
		{name: "same origin", method: "POST", path: "/api/v1/namespaces/default/pods", origin: "http://" + addr, ctype: "application/json", auth: "Bearer " + token, body: "{}", want: 200},
		{name: "text/plain", method: "POST", path: "/api/v1/namespaces/default/pods", ctype: "text/plain", auth: "Bearer " + token, body: "{}", want: 415},
		{name: "form", method: "POST", path: "/api/v1/namespaces/default/pods", ctype: "application/x-www-form-urlencoded", auth: "Bearer " + token, body: "a=b", want: 415},
		{name: "no type", method: "POST", path: "/api/v1/namespaces/default/pods", auth: "Bearer " + token, body: "{}", want: 415},
		{name: "yaml", method: "POST", path: "/api/v1/namespaces/default/pods", ctype: "application/yaml", auth: "Bearer " + token, body: "{}", want: 200},
		{name: "merge patch", method: "PATCH", path: "/api/v1/namespaces/default/pods/x", ctype: "application/merge-patch+json", auth: "Bearer " + token, body: "{}", want: 200},
		{name: "tar to image load", method: "POST", path: "/minipod/v1/images/load", ctype: "application/x-tar", auth: "Bearer " + token, body: "x", want: 200},
		{name: "tar elsewhere", method: "POST", path: "/api/v1/namespaces/default/pods", ctype: "application/x-tar", auth: "Bearer " + token, body: "x", want: 415},
		{name: "bodyless post", method: "POST", path: "/minipod/v1/gc", auth: "Bearer " + token, want: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range map[string]string{"Origin": tc.origin, "Content-Type": tc.ctype, "Authorization": tc.auth} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
		})
	}

	// A body that stops arriving is cut off.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":", addr, token)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	// The handler's read fails and it answers, or the connection closes.
	_, err = bufio.NewReader(c).ReadString('\n')
	if time.Since(start) > 5*time.Second {
		t.Fatalf("a stalled body held the connection for %s (err %v)", time.Since(start), err)
	}
}
