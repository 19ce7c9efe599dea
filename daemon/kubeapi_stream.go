package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/runtime"
)

// Streams (exec, port-forward) are served with the kubelet's own streaming
// code (k8s.io/cri-streaming): SPDY/3.1 with the channel.k8s.io protocols
// up to v4, and WebSocket; kubectl falls back to SPDY where it asks for a
// WebSocket protocol that code does not speak.

const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// rawWriter unwraps the request logger's writer: the streaming code
// hijacks the connection and needs the server's own writer.
func rawWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// podExec serves pods/exec.
func (k *kubeServer) podExec(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	pod, ok := k.streamPod(w, r, kr)
	if !ok {
		return
	}
	q := r.URL.Query()
	opts := &remotecommand.Options{
		Stdin:  q.Get("stdin") == "true" || q.Get("stdin") == "1",
		Stdout: q.Get("stdout") == "true" || q.Get("stdout") == "1",
		Stderr: q.Get("stderr") == "true" || q.Get("stderr") == "1",
		TTY:    q.Get("tty") == "true" || q.Get("tty") == "1",
	}
	if opts.TTY {
		opts.Stderr = false
	}
	cmd := q["command"]
	if len(cmd) == 0 {
		k.writeStatus(w, r, badRequest("you must specify at least one command for the container"))
		return
	}
	if !opts.Stdin && !opts.Stdout && !opts.Stderr {
		k.writeStatus(w, r, badRequest("you must specify at least one of stdin, stdout, stderr"))
		return
	}
	container := q.Get("container")
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, containerNames(pod))))
			return
		}
		container = pod.Spec.Containers[0].Name
	}
	ctx, cancel := k.streamContext(r)
	defer cancel()
	x := &kubeExec{b: k.b, namespace: kr.namespace}
	remotecommand.ServeExec(rawWriter(w), r.WithContext(ctx), x, kr.name, string(pod.UID), container, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func containerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

// streamPod finds the pod of a streaming request, which must be running.
func (k *kubeServer) streamPod(w http.ResponseWriter, r *http.Request, kr kubeRequest) (*corev1.Pod, bool) {
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return nil, false
	}
	obj := k.store.get("pods", kr.namespace, kr.name)
	if obj == nil {
		k.objectNotFound(w, r, kr)
		return nil, false
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.Phase != corev1.PodRunning {
		k.writeStatus(w, r, badRequest(fmt.Sprintf("pod %s is not running (phase %s)", pod.Name, pod.Status.Phase)))
		return nil, false
	}
	return pod, true
}

// kubeExec runs the streaming code's exec through the backend.
type kubeExec struct {
	b         Backend
	namespace string
}

// exitError tells the streaming code a command's exit status
// (k8s.io/utils/exec.ExitError), which it sends to the client.
type exitError int

func (e exitError) Error() string   { return fmt.Sprintf("command terminated with exit code %d", int(e)) }
func (e exitError) String() string  { return e.Error() }
func (e exitError) Exited() bool    { return true }
func (e exitError) ExitStatus() int { return int(e) }

func (x *kubeExec) ExecInContainer(ctx context.Context, name, uid, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	stdio := api.ExecIO{Stdin: in, Stdout: io.Discard, Stderr: io.Discard}
	if out != nil {
		stdio.Stdout = out
	}
	if errw != nil {
		stdio.Stderr = errw
	}
	if resize != nil {
		sizes := make(chan api.TermSize)
		stdio.Resize = sizes
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(sizes)
			for {
				select {
				case <-stop:
					return
				case s, ok := <-resize:
					if !ok {
						return
					}
					select {
					case sizes <- api.TermSize{Width: s.Width, Height: s.Height}:
					case <-stop:
						return
					}
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
	}
	code, err := x.b.Exec(ctx, x.namespace, name, api.ExecOptions{
		Container: container, Command: cmd, Stdin: in != nil, TTY: tty,
	}, stdio)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError(code)
	}
	return nil
}

// podPortForward serves pods/portforward over SPDY: each stream pair
// carries one connection to a port on the pod's loopback, made inside the
// pod's network namespace, as the kubelet does.
func (k *kubeServer) podPortForward(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	pod, ok := k.streamPod(w, r, kr)
	if !ok {
		return
	}
	if isWebSocket(r) {
		// kubectl tunnels SPDY through a WebSocket (SPDY/3.1+portforward.k8s.io)
		// where the API server offers it; refusing the upgrade makes it
		// fall back to SPDY itself.
		k.writeStatus(w, r, badRequest("port forwarding over WebSocket is not supported; use SPDY"))
		return
	}
	path := pod.Annotations[runtime.AnnotationNetNS]
	if path == "" {
		k.writeStatus(w, r, newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError,
			fmt.Sprintf("pod %s has no network namespace", pod.Name)))
		return
	}
	ctx, cancel := k.streamContext(r)
	defer cancel()
	pf := &kubePortForward{netns: path}
	portforward.ServePortForward(rawWriter(w), r.WithContext(ctx), pf, kr.name, string(pod.UID), &portforward.V4Options{},
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if v == "websocket" || v == "WebSocket" {
			return true
		}
	}
	return false
}

type kubePortForward struct {
	netns string
}

func (p *kubePortForward) PortForward(ctx context.Context, name, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	c, err := netns.Dial(ctx, p.netns, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("failed to forward to port %d of pod %s: %w", port, name, err)
	}
	defer c.Close()
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(c, stream)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		errc <- err
	}()
	go func() {
		_, err := io.Copy(stream, c)
		stream.Close()
		errc <- err
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	return err
}
