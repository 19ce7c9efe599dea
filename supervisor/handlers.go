package supervisor

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Host is what the handlers need of the host: running a command in a
// container, and the pod's address, where httpGet and tcpSocket go by
// default (from the host, so nothing is needed in the image).
type Host interface {
	// Exec runs cmd in container and returns its exit code and output.
	Exec(ctx context.Context, container string, cmd []string) (int, string, error)
	PodIP() string
}

// Runner runs probe and lifecycle handlers over a Host, as the kubelet's
// prober and lifecycle handler runner do.
type Runner struct {
	Host Host
}

// hookHTTPTimeout bounds an httpGet hook's request.
const hookHTTPTimeout = 30 * time.Second

// Probe runs a probe's handler once for container c within timeout: nil
// when it passed, otherwise why not.
func (r Runner) Probe(ctx context.Context, c *corev1.Container, h corev1.ProbeHandler, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		return r.exec(ctx, c, h.Exec.Command)
	case h.HTTPGet != nil:
		return httpGet(ctx, r.Host.PodIP(), c, h.HTTPGet, timeout)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = r.Host.PodIP()
		}
		return dialTCP(ctx, host, c, h.TCPSocket.Port)
	}
	return fmt.Errorf("no probe handler")
}

// Hook runs a lifecycle handler for container c: nil when it succeeded.
func (r Runner) Hook(ctx context.Context, c *corev1.Container, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		return r.exec(ctx, c, h.Exec.Command)
	case h.HTTPGet != nil:
		return httpGet(ctx, r.Host.PodIP(), c, h.HTTPGet, hookHTTPTimeout)
	case h.TCPSocket != nil:
		return dialTCP(ctx, r.Host.PodIP(), c, h.TCPSocket.Port)
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
			return nil
		}
	}
	return nil
}

func (r Runner) exec(ctx context.Context, c *corev1.Container, cmd []string) error {
	code, out, err := r.Host.Exec(ctx, c.Name, cmd)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("command %v exited with %d: %s", cmd, code, strings.TrimSpace(out))
	}
	return nil
}

func dialTCP(ctx context.Context, host string, c *corev1.Container, p intstr.IntOrString) error {
	port, err := ResolvePort(p, c)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return conn.Close()
}

// httpGet gets g's URL: nil for a status from 200 to 399, as the kubelet's
// HTTP probe.
func httpGet(ctx context.Context, podIP string, c *corev1.Container, g *corev1.HTTPGetAction, timeout time.Duration) error {
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := ResolvePort(g.Port, c)
	if err != nil {
		return err
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/minipod")
	for _, hd := range g.HTTPHeaders {
		if strings.EqualFold(hd.Name, "host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	client := &http.Client{
		Timeout: timeout,
		// As the kubelet: HTTPS probes do not verify the certificate.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return nil
	}
	return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// ResolvePort turns a handler's port (a number or a container port's
// name) into a number.
func ResolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q is not a port of container %q", p.StrVal, c.Name)
}
