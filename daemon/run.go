package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/runtime"
)

// Config configures the daemon.
type Config struct {
	// Socket is the unix socket of the API (default api.DefaultSocket).
	Socket string
	// SocketGroup may use the socket besides root ("" = root only).
	SocketGroup string
	// TCPAddress, when set, also serves the API on this loopback address
	// (host:port); any other address is refused.
	TCPAddress string
	// BodyIdleTimeout is how long a request body may stall before the
	// connection is cut (default DefaultBodyIdleTimeout).
	BodyIdleTimeout time.Duration
	// KubeAPI, when set, serves the Kubernetes API on this loopback
	// address over TLS, with credentials kept under Runtime.Root.
	KubeAPI string
	// Runtime configures the pod runtime.
	Runtime runtime.Config
	// UIAddress, when set, serves the live view (a read-only web page of
	// the host's pods) on this loopback address; port 0 picks one.
	UIAddress string
	// Pprof serves net/http/pprof under /debug/pprof/ on the socket.
	Pprof bool
	// Log receives the daemon's log (nil = slog.Default()).
	Log *slog.Logger
}

// Run listens on cfg.Socket, starts the runtime (connecting to or starting
// containerd), and serves the API until ctx ends. Then it stops serving and
// closes the runtime; pods keep running, and a later Run adopts them.
func Run(ctx context.Context, cfg Config) (err error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	socket := cfg.Socket
	if socket == "" {
		socket = api.DefaultSocket
	}
	// The test-only fault hook (runtime.FaultEnv); inert when unset.
	fault, err := runtime.FaultFromEnv()
	if err != nil {
		return err
	}
	if fault != nil {
		cfg.Runtime.Fault = fault
		log.Warn("test-only fault injection is on", "fault", os.Getenv(runtime.FaultEnv))
	}
	if cfg.TCPAddress != "" {
		if err := checkLoopback(cfg.TCPAddress); err != nil {
			return err
		}
	}
	// The directories the flags name are checked before anything is
	// created: a user's directory is refused, and nothing is left behind.
	if err := runtime.CheckDirs(cfg.Runtime); err != nil {
		return err
	}
	// Listen first: a daemon that already runs is found before containerd
	// is touched.
	l, err := Listen(socket, cfg.SocketGroup)
	if err != nil {
		return err
	}
	// What the daemon keeps in the state root before the runtime starts
	// (the API token, the Kubernetes API's credentials) goes into a root
	// taken for minipod first, so that the runtime finds it minipod's own.
	if cfg.TCPAddress != "" || cfg.KubeAPI != "" {
		if err := runtime.PrepareStateRoot(stateRoot(cfg.Runtime.Root)); err != nil {
			l.Close()
			return err
		}
	}
	var token string
	if cfg.TCPAddress != "" {
		// The token exists before the API answers anywhere.
		if token, err = ensureToken(cfg.Runtime.Root); err != nil {
			l.Close()
			return err
		}
	}
	opts := serveOptions{bodyIdle: cfg.BodyIdleTimeout}
	if cfg.TCPAddress != "" {
		tl, err := listenTCPWithToken(cfg.TCPAddress, token)
		if err != nil {
			l.Close()
			return err
		}
		opts.tcp = tl.guard
		log.Info("serving the API on loopback TCP too, to holders of the token", "address", tl.Addr().String(), "token", TokenFile(stateRoot(cfg.Runtime.Root)))
		l = newMultiListener(l, tl)
	}
	defer l.Close()
	var ul net.Listener
	if cfg.UIAddress != "" {
		if ul, err = ListenTCP(cfg.UIAddress); err != nil {
			return err
		}
		defer ul.Close()
	}
	var kube *kubeAPI
	if cfg.KubeAPI != "" {
		root := cfg.Runtime.Root
		if root == "" {
			root = runtime.DefaultStateRoot
		}
		if kube, err = listenKubeAPI(cfg.KubeAPI, root); err != nil {
			return err
		}
		defer kube.l.Close()
	}
	rt, err := runtime.New(ctx, cfg.Runtime)
	if err != nil {
		return fmt.Errorf("failed to start the pod runtime: %w", err)
	}
	defer func() {
		if cerr := rt.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("failed to close the pod runtime: %w", cerr))
		}
	}()
	var ui *uiServer
	uiDone := make(chan error, 1)
	if ul != nil {
		if ui, err = newUIServer(rt, cfg.Runtime.Root, ul, log); err != nil {
			return err
		}
		log.Info("serving the live view; `minipod ui` prints its address", "address", ul.Addr().String())
		uctx, ucancel := context.WithCancel(ctx)
		go func() { uiDone <- ui.serve(uctx, ul) }()
		defer func() {
			ucancel()
			err = errors.Join(err, <-uiDone)
		}()
	}
	opts.ui, opts.kube, opts.pprof = ui, kube, cfg.Pprof
	kubeDone := make(chan error, 1)
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	if kube != nil {
		go func() {
			err := kube.serve(kctx, rt, log)
			if err != nil {
				log.Error("the Kubernetes API stopped", "error", err)
			}
			kubeDone <- err
		}()
		log.Info("serving the Kubernetes API", "address", "https://"+kube.l.Addr().String())
	} else {
		kubeDone <- nil
	}
	log.Info("minipod daemon serving", "socket", socket, "root", cfg.Runtime.Root)
	err = serve(ctx, l, rt, log, opts)
	kcancel()
	err = errors.Join(err, <-kubeDone)
	log.Info("minipod daemon stopped; pods keep running")
	return err
}
