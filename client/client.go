// Package client is the Go client of the minipod daemon's API. The CLI and
// the tests use it; it implements api.Backend, method for method.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

// Client talks to one minipod daemon over its unix socket, or over its
// loopback TCP listener with the daemon's token.
type Client struct {
	socket string
	http   *http.Client
	// base is the URL the requests go to; tokenFile, for TCP, holds the
	// bearer token, read at the first request.
	base      string
	tokenFile string
	tokenOnce sync.Once
	token     string
	tokenErr  error
	// warn, when set, receives each warning the daemon sends with an
	// answer (as client-go's WarningHandler does).
	warn func(string)
}

// OnWarning makes the client pass each warning the daemon sends (a
// Warning header: containerd unreachable, a field that means nothing on
// one host) to fn.
func (c *Client) OnWarning(fn func(string)) { c.warn = fn }

// DefaultTokenFile is where a daemon with the default state root keeps the
// token of its TCP listener.
const DefaultTokenFile = "/var/lib/minipod/api-token"

// NewTCP returns a client of the daemon's loopback TCP listener at addr
// (127.0.0.1:PORT, or http://127.0.0.1:PORT) that authenticates with the
// token in tokenFile (DefaultTokenFile when ""), which only root can read.
func NewTCP(addr, tokenFile string) *Client {
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
	if tokenFile == "" {
		tokenFile = DefaultTokenFile
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		DisableCompression: true,
	}
	return &Client{socket: addr, http: &http.Client{Transport: tr}, base: "http://" + addr, tokenFile: tokenFile}
}

// bearer returns the token of a TCP client ("" for the unix socket).
func (c *Client) bearer() (string, error) {
	if c.tokenFile == "" {
		return "", nil
	}
	c.tokenOnce.Do(func() {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			c.tokenErr = fmt.Errorf("failed to read the daemon's API token %q: %w (it is under the daemon's --root and only root may read it: use sudo, or --token-file)", c.tokenFile, err)
			return
		}
		c.token = strings.TrimSpace(string(b))
	})
	return c.token, c.tokenErr
}

// New returns a client of the daemon listening on socketPath. It does not
// connect until the first call.
func New(socketPath string) *Client {
	if socketPath == "" {
		socketPath = api.DefaultSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		DisableCompression: true,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr}, base: "http://minipod"}
}

// Socket returns the socket path the client talks to.
func (c *Client) Socket() string { return c.socket }

// unreachable turns a failure to connect into advice.
func (c *Client) unreachable(err error) error {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &unreachableError{
			msg:   fmt.Sprintf("cannot reach the minipod daemon at %s: permission denied: use sudo, or join the socket's group (see minipod daemon --socket-group)", c.socket),
			class: errdefs.ErrPermissionDenied, cause: err,
		}
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return &unreachableError{
			msg:   fmt.Sprintf("cannot reach the minipod daemon at %s: start it with \"sudo minipod daemon\" (or set MINIPOD_SOCKET / --socket)", c.socket),
			class: errdefs.ErrUnavailable, cause: err,
		}
	}
	return fmt.Errorf("failed to talk to the minipod daemon at %s: %w", c.socket, err)
}

// unreachableError says what to do when the daemon does not answer; it
// matches its errdefs class and the dial error with errors.Is.
type unreachableError struct {
	msg   string
	class error
	cause error
}

func (e *unreachableError) Error() string   { return e.msg }
func (e *unreachableError) Unwrap() []error { return []error{e.class, e.cause} }

// request is one API call.
type request struct {
	method string
	path   string
	query  url.Values
	body   io.Reader
	ctype  string
	header http.Header
}

// do sends req and returns the response when its code is 2xx (or 101);
// any other code becomes a *StatusError.
func (c *Client) do(ctx context.Context, req request) (*http.Response, error) {
	tok, err := c.bearer()
	if err != nil {
		return nil, err
	}
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, req.body)
	if err != nil {
		return nil, fmt.Errorf("failed to build request %s %s: %w", req.method, req.path, err)
	}
	for k, vs := range req.header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if req.ctype != "" {
		hreq.Header.Set("Content-Type", req.ctype)
	}
	hreq.Header.Set("Accept", "application/json")
	if tok != "" {
		hreq.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.unreachable(err)
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusSwitchingProtocols {
		if c.warn != nil {
			warnings, _ := utilnet.ParseWarningHeaders(resp.Header.Values("Warning"))
			for _, w := range warnings {
				c.warn(w.Text)
			}
		}
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeStatusError(resp)
}

// doJSON sends req with in (if not nil) as its JSON body and decodes the
// answer into out (if not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, query url.Values, in, out any) error {
	req := request{method: method, path: path, query: query}
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("failed to encode the request to %s: %w", path, err)
		}
		req.body = bytes.NewReader(data)
		req.ctype = "application/json"
	}
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("failed to decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Ping checks that the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.doJSON(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

func nsPath(ns, resource string) string {
	if ns == "" {
		return "/api/v1/" + resource
	}
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + resource
}

func objPath(ns, resource, name string) string {
	return nsPath(orDefault(ns), resource) + "/" + url.PathEscape(name)
}

func orDefault(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

// CreatePod creates pod in its namespace ("default" when unset) and returns
// when it runs or its creation failed.
func (c *Client) CreatePod(ctx context.Context, pod *corev1.Pod, opts api.CreateOptions) (*corev1.Pod, error) {
	return c.createPod(ctx, pod, true, opts)
}

// SubmitPod hands pod to the daemon and returns at once (status Pending);
// the daemon goes on creating it, and GetPod shows how that goes.
func (c *Client) SubmitPod(ctx context.Context, pod *corev1.Pod, opts api.CreateOptions) (*corev1.Pod, error) {
	return c.createPod(ctx, pod, false, opts)
}

func (c *Client) createPod(ctx context.Context, pod *corev1.Pod, wait bool, opts api.CreateOptions) (*corev1.Pod, error) {
	q := url.Values{}
	if !wait {
		q.Set("wait", "false")
	}
	for _, ref := range opts.PulledImages {
		q.Add("pulledImage", ref)
	}
	in := pod.DeepCopy()
	in.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	var out corev1.Pod
	if err := c.doJSON(ctx, http.MethodPost, nsPath(orDefault(pod.Namespace), "pods"), q, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPod returns a pod.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	var out corev1.Pod
	if err := c.doJSON(ctx, http.MethodGet, objPath(namespace, "pods", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPods lists the pods of namespace, or of all namespaces when it is "".
func (c *Client) ListPods(ctx context.Context, namespace string) ([]corev1.Pod, error) {
	var out corev1.PodList
	if err := c.doJSON(ctx, http.MethodGet, nsPath(namespace, "pods"), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeletePod deletes a pod, stopping its containers first.
func (c *Client) DeletePod(ctx context.Context, namespace, name string, opts api.DeleteOptions) error {
	var q url.Values
	if opts.GracePeriodSeconds != nil {
		q = url.Values{"gracePeriodSeconds": {strconv.FormatInt(*opts.GracePeriodSeconds, 10)}}
	}
	return c.doJSON(ctx, http.MethodDelete, objPath(namespace, "pods", name), q, nil, nil)
}

// CreateConfigMap stores a ConfigMap.
func (c *Client) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	in := cm.DeepCopy()
	in.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
	var out corev1.ConfigMap
	if err := c.doJSON(ctx, http.MethodPost, nsPath(orDefault(cm.Namespace), "configmaps"), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetConfigMap returns a ConfigMap.
func (c *Client) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	var out corev1.ConfigMap
	if err := c.doJSON(ctx, http.MethodGet, objPath(namespace, "configmaps", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListConfigMaps lists the ConfigMaps of namespace ("" = all).
func (c *Client) ListConfigMaps(ctx context.Context, namespace string) ([]corev1.ConfigMap, error) {
	var out corev1.ConfigMapList
	if err := c.doJSON(ctx, http.MethodGet, nsPath(namespace, "configmaps"), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeleteConfigMap deletes a ConfigMap.
func (c *Client) DeleteConfigMap(ctx context.Context, namespace, name string) error {
	return c.doJSON(ctx, http.MethodDelete, objPath(namespace, "configmaps", name), nil, nil, nil)
}

// CreateSecret stores a Secret.
func (c *Client) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	in := s.DeepCopy()
	in.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	var out corev1.Secret
	if err := c.doJSON(ctx, http.MethodPost, nsPath(orDefault(s.Namespace), "secrets"), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSecret returns a Secret.
func (c *Client) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var out corev1.Secret
	if err := c.doJSON(ctx, http.MethodGet, objPath(namespace, "secrets", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSecrets lists the Secrets of namespace ("" = all).
func (c *Client) ListSecrets(ctx context.Context, namespace string) ([]corev1.Secret, error) {
	var out corev1.SecretList
	if err := c.doJSON(ctx, http.MethodGet, nsPath(namespace, "secrets"), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// ListEvents lists the events of a namespace ("" = all), of one pod when
// pod is not "".
func (c *Client) ListEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error) {
	var q url.Values
	if pod != "" {
		q = url.Values{"fieldSelector": {"involvedObject.name=" + pod}}
	}
	var out corev1.EventList
	if err := c.doJSON(ctx, http.MethodGet, nsPath(namespace, "events"), q, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeleteSecret deletes a Secret.
func (c *Client) DeleteSecret(ctx context.Context, namespace, name string) error {
	return c.doJSON(ctx, http.MethodDelete, objPath(namespace, "secrets", name), nil, nil, nil)
}

// Logs copies a container's log to w; with opts.Follow it keeps copying
// until ctx ends or the container has exited.
func (c *Client) Logs(ctx context.Context, namespace, name string, opts api.LogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.Since > 0 {
		secs := int64(opts.Since.Seconds())
		if secs < 1 {
			secs = 1
		}
		q.Set("sinceSeconds", strconv.FormatInt(secs, 10))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: objPath(namespace, "pods", name) + "/log", query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("failed to read the log of pod %q: %w", name, err)
	}
	return nil
}
