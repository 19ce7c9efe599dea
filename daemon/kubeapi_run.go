package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/minipod/minipod/kubeconfig"
)

// kubeAPI is the Kubernetes API of a running daemon: its listener, its
// credentials and the store that gives objects their resourceVersions.
type kubeAPI struct {
	l     net.Listener
	creds *kubeCreds
}

// listenKubeAPI listens on addr, a loopback address only, and loads (or
// makes) the API's credentials under root.
func listenKubeAPI(addr, root string) (*kubeAPI, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return nil, fmt.Errorf("invalid --kube-api address %q: want 127.0.0.1:PORT or [::1]:PORT: %w", addr, errdefs.ErrInvalidArgument)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("refusing to serve the Kubernetes API on %q: only a loopback address (127.0.0.1:PORT or [::1]:PORT) is allowed: %w", addr, errdefs.ErrInvalidArgument)
	}
	creds, err := loadOrCreateCreds(root)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %q for the Kubernetes API (choose another address with --kube-api, or turn it off with --kube-api \"\"): %w", addr, err)
	}
	return &kubeAPI{l: l, creds: creds}, nil
}

// kubeconfig is a kubeconfig for this API.
func (ka *kubeAPI) kubeconfig() ([]byte, error) {
	return kubeconfig.Build("https://"+ka.l.Addr().String(), ka.creds.caPEM, ka.creds.token)
}

// serve serves the API of b until ctx ends.
func (ka *kubeAPI) serve(ctx context.Context, b Backend, log *slog.Logger) error {
	// The streaming code logs through klog; its lines go to the daemon's
	// log instead of raw stderr.
	klog.SetSlogLogger(log.With("component", "kube-api"))
	st := newKubeStore(b, hostNode())
	syncDone := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(syncDone)
		st.run(sctx)
	}()
	defer func() {
		cancel()
		<-syncDone
	}()
	return serveKube(ctx, ka.l, b, st, ka.creds, log)
}

// kubeconfig serves GET /minipod/v1/kubeconfig on the socket: only those
// who may use the socket get the API's credentials.
func (s *server) kubeconfig(w http.ResponseWriter, r *http.Request) {
	if s.kube == nil {
		writeStatus(w, newStatus(http.StatusNotFound, metav1.StatusReasonNotFound,
			"this daemon does not serve the Kubernetes API (it was started with --kube-api \"\")"))
		return
	}
	data, err := s.kube.kubeconfig()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(data)
}
