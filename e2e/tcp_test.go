package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTCPListenerRefusesWebPages performs what a web page on this host can
// do against --listen-tcp: a cross-site POST of a privileged pod with
// Content-Type text/plain and a foreign Origin, and a read of a Secret
// through a rebound host name. Both must be refused, the API must need the
// daemon's token (which the CLI uses with --server), and on the unix socket
// too a text/plain body is refused and a half-sent body does not hold its
// connection.
func TestTCPListenerRefusesWebPages(t *testing.T) {
	checks, passed := 0, 0
	check := func(ok bool, format string, args ...any) {
		checks++
		if ok {
			passed++
		} else {
			t.Errorf(format, args...)
		}
	}
	addr := freeLoopbackAddr(t)
	e := newEnv(t, withDaemonArgs("--listen-tcp", addr, "--request-body-timeout", "1s"))
	_, port, _ := net.SplitHostPort(addr)
	value := "s3cr3t-" + uuid.NewString()
	e.apply(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {key: %q}
`, value))

	// A cross-site POST of a privileged pod that writes into a host
	// directory: the shape of a form or fetch(no-cors) from any page.
	hostDir := t.TempDir()
	pod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"evil"},"spec":{"terminationGracePeriodSeconds":0,"restartPolicy":"Never",
"containers":[{"name":"c","image":"docker.io/library/busybox:1.36","command":["touch","/host/pwned"],"securityContext":{"privileged":true},
"volumeMounts":[{"name":"h","mountPath":"/host"}]}],"volumes":[{"name":"h","hostPath":{"path":%q}}]}}`, hostDir)
	code, _ := tcpRequest(t, "POST", "http://"+addr+"/api/v1/namespaces/default/pods", "", pod, map[string]string{
		"Content-Type": "text/plain", "Origin": "http://evil.example"})
	check(code == http.StatusForbidden || code == http.StatusUnauthorized || code == http.StatusUnsupportedMediaType,
		"cross-site POST of a privileged pod answered %d", code)
	out, _, _ := e.run("get", "pods", "-o", "name")
	check(strings.TrimSpace(out) == "", "a cross-site POST created a pod: %q", out)

	// DNS rebinding: the page's own name, resolved to 127.0.0.1.
	secretURL := "http://" + addr + "/api/v1/namespaces/default/secrets/s"
	leaked := func(body string) bool {
		return strings.Contains(body, value) || strings.Contains(body, base64.StdEncoding.EncodeToString([]byte(value)))
	}
	code, body := tcpRequest(t, "GET", secretURL, "evil.example:"+port, "", nil)
	check(code != http.StatusOK && !leaked(body), "a Secret read through a rebound Host answered %d: %s", code, body)
	// The same host and token-less: refused for want of the token.
	code, body = tcpRequest(t, "GET", secretURL, "", "", nil)
	check(code == http.StatusUnauthorized && !leaked(body), "a Secret read without the token answered %d: %s", code, body)

	// The token: root's only, and what opens the API (the CLI reads it).
	tokenFile := filepath.Join(e.root, "api-token")
	fi, err := os.Stat(tokenFile)
	check(err == nil && fi.Mode().Perm() == 0o600, "token file %s: %v, %v; want mode 0600", tokenFile, fi, err)
	tok, _ := os.ReadFile(tokenFile)
	code, body = tcpRequest(t, "GET", secretURL, "", "", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(tok))})
	check(code == http.StatusOK, "a Secret read with the token answered %d: %s", code, body)
	code, _ = tcpRequest(t, "GET", secretURL, "evil.example:"+port, "", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(tok))})
	check(code == http.StatusForbidden, "a rebound Host with the token answered %d", code)
	out, errs, rc := e.run("--server", addr, "--token-file", tokenFile, "get", "secrets")
	check(rc == 0 && strings.Contains(out, "s"), "minipod --server %s get secrets: exit %d\n%s%s", addr, rc, out, errs)
	_, errs, rc = e.run("--server", addr, "--token-file", filepath.Join(t.TempDir(), "none"), "get", "pods")
	check(rc != 0 && strings.Contains(errs, "token"), "minipod --server without the token: exit %d: %s", rc, errs)

	// The unix socket: a text/plain pod is refused (415) as well.
	uc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", e.socket)
	}}}
	req, _ := http.NewRequest("POST", "http://minipod/api/v1/namespaces/default/pods", strings.NewReader(pod))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := uc.Do(req); err != nil {
		check(false, "POST over the socket: %v", err)
	} else {
		resp.Body.Close()
		check(resp.StatusCode == http.StatusUnsupportedMediaType, "a text/plain pod over the socket answered %d, want 415", resp.StatusCode)
	}
	out, _, _ = e.run("get", "pods", "-o", "name")
	check(strings.TrimSpace(out) == "", "a text/plain body created a pod: %q", out)
	_, err = os.Stat(filepath.Join(hostDir, "pwned"))
	check(os.IsNotExist(err), "a refused pod wrote into the host: %v", err)

	// A half-sent body is cut off after --request-body-timeout (1s).
	c, err := net.Dial("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: minipod\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"kind\":")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	line, err := bufio.NewReader(c).ReadString('\n')
	held := time.Since(start)
	check(held < 10*time.Second, "a half-sent body held its connection %s (%q, %v)", held, line, err)

	securityFigure(t, "tcp listener and bodies", passed, checks)
}

// tcpRequest sends one request with the given Host (or the URL's) and
// headers, and returns the code and body.
func tcpRequest(t *testing.T, method, url, host, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freeLoopbackAddr is a loopback address with a port nothing listens on.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
