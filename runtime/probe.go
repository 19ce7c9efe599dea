package runtime

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minipod/minipod/api"
)

// Probes run as the kubelet runs them: exec inside the container, httpGet
// and tcpSocket from the daemon to the pod's IP, so nothing is needed in
// the image. A startup probe holds the others back until it passes; a
// failing liveness (or startup) probe kills the container, which then
// restarts as the restartPolicy says; readiness drives `ready`.

type probeKind string

const (
	probeStartup   probeKind = "Startup"
	probeLiveness  probeKind = "Liveness"
	probeReadiness probeKind = "Readiness"
)

// probeResult is one probe's outcome and, on failure, why.
type probeResult struct {
	ok     bool
	output string
}

// startProbes starts the prober of a container's current run. It stops
// when ctx (the run's) ends.
func (r *Runtime) startProbes(ps *podState, name string) {
	ps.mu.Lock()
	c, init := specOf(ps.rec.Pod, name)
	if init && c != nil && !isSidecar(c) {
		c = nil
	}
	cs := ps.containers[name]
	if c == nil || cs == nil {
		ps.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(ps.ctx)
	cs.stopProbes = cancel
	cs.Started = c.StartupProbe == nil
	cs.Ready = c.ReadinessProbe == nil
	ps.mu.Unlock()
	go r.probeLoop(ctx, ps, name, c)
}

func (r *Runtime) probeLoop(ctx context.Context, ps *podState, name string, c *corev1.Container) {
	if c.StartupProbe != nil {
		if !r.runProbe(ctx, ps, name, c, probeStartup, c.StartupProbe) {
			return
		}
		ps.mu.Lock()
		if cs := ps.containers[name]; cs != nil {
			cs.Started = true
		}
		ps.mu.Unlock()
	}
	if c.LivenessProbe != nil {
		go r.runProbe(ctx, ps, name, c, probeLiveness, c.LivenessProbe)
	}
	if c.ReadinessProbe != nil {
		go r.runProbe(ctx, ps, name, c, probeReadiness, c.ReadinessProbe)
	}
}

// runProbe probes every period until ctx ends. A startup probe returns true
// once it passes, false when it gave up (and killed the container).
func (r *Runtime) runProbe(ctx context.Context, ps *podState, name string, c *corev1.Container, kind probeKind, p *corev1.Probe) bool {
	period := seconds(p.PeriodSeconds, 10)
	timeout := seconds(p.TimeoutSeconds, 1)
	success := int(p.SuccessThreshold)
	if success <= 0 {
		success = 1
	}
	failure := int(p.FailureThreshold)
	if failure <= 0 {
		failure = 3
	}
	if d := time.Duration(p.InitialDelaySeconds) * time.Second; d > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
		}
	}
	oks, fails := 0, 0
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		res := r.probeOnce(ctx, ps, name, c, p, timeout)
		if ctx.Err() != nil {
			return false
		}
		if res.ok {
			oks, fails = oks+1, 0
		} else {
			oks, fails = 0, fails+1
			r.event(ps, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %s", kind, res.output), name)
		}
		switch kind {
		case probeStartup:
			if oks >= 1 {
				return true
			}
			if fails >= failure {
				r.killForProbe(ctx, ps, name, "Container "+name+" failed startup probe, will be restarted")
				return false
			}
		case probeLiveness:
			if fails >= failure {
				r.killForProbe(ctx, ps, name, "Container "+name+" failed liveness probe, will be restarted")
				return false
			}
		case probeReadiness:
			ps.mu.Lock()
			changed := false
			if cs := ps.containers[name]; cs != nil {
				was := cs.Ready
				if oks >= success {
					cs.Ready = true
				} else if fails >= failure {
					cs.Ready = false
				}
				changed = cs.Ready != was
			}
			ps.mu.Unlock()
			if changed {
				r.changes.notify()
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

func seconds(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

// killForProbe kills the container's task; its exit is then handled as any
// other, so the restartPolicy and back-off apply.
func (r *Runtime) killForProbe(ctx context.Context, ps *podState, name, msg string) {
	r.event(ps, corev1.EventTypeNormal, "Killing", msg, name)
	ps.mu.Lock()
	cs := ps.containers[name]
	id := ""
	if cs != nil {
		id = cs.ID
	}
	ps.mu.Unlock()
	cctx := r.nsctx(context.WithoutCancel(ctx))
	c, err := r.client.LoadContainer(cctx, id)
	if err != nil {
		return
	}
	t, err := c.Task(cctx, nil)
	if err != nil {
		return
	}
	if err := t.Kill(cctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		r.log.Warn("failed to kill container after a failed probe", "container", name, "err", err)
	}
}

func (r *Runtime) probeOnce(ctx context.Context, ps *podState, name string, c *corev1.Container, p *corev1.Probe, timeout time.Duration) probeResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ps.mu.Lock()
	podIP := ps.rec.PodIP
	ps.mu.Unlock()
	h := p.ProbeHandler
	switch {
	case h.Exec != nil:
		var out strings.Builder
		code, err := r.Exec(ctx, ps.rec.Pod.Namespace, ps.rec.Pod.Name, api.ExecOptions{Container: name, Command: h.Exec.Command}, api.ExecIO{Stdout: &out, Stderr: &out})
		if err != nil {
			return probeResult{output: err.Error()}
		}
		if code != 0 {
			return probeResult{output: fmt.Sprintf("command %v exited with %d: %s", h.Exec.Command, code, strings.TrimSpace(out.String()))}
		}
		return probeResult{ok: true}
	case h.HTTPGet != nil:
		return httpProbe(ctx, podIP, c, h.HTTPGet, timeout)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return probeResult{output: err.Error()}
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return probeResult{output: err.Error()}
		}
		conn.Close()
		return probeResult{ok: true}
	}
	return probeResult{output: "no probe handler"}
}

func httpProbe(ctx context.Context, podIP string, c *corev1.Container, g *corev1.HTTPGetAction, timeout time.Duration) probeResult {
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return probeResult{output: err.Error()}
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
		return probeResult{output: err.Error()}
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
		return probeResult{output: err.Error()}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return probeResult{ok: true}
	}
	return probeResult{output: fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)}
}

// resolvePort turns a probe's port (a number or a container port's name)
// into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
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
