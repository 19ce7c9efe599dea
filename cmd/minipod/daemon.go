package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/daemon"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/runtime"
)

type daemonOptions struct {
	root                string
	socket              string
	socketGroup         string
	listenTCP           string
	ui                  string
	kubeAPI             string
	containerdAddress   string
	containerdNamespace string
	subnet              string
	bridge              string
	network             string
	cniConfList         string
	cniPluginDirs       []string
	insecureRegistries  []string
	pprof               bool
	logLevel            string
	restartBackOff      time.Duration
	netnsDir            string
	shimPerContainer    bool
	secretDir           string
	logMaxSize          string
	logMaxFiles         int
	podPidsLimit        int64
	bodyIdleTimeout     time.Duration
}

func newDaemonCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &daemonOptions{}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the minipod daemon (needs root)",
		Long: `Run the minipod daemon: the API on a unix socket, and the pods, on containerd.

It uses the containerd given by --containerd-address; when that is empty, the
system's /run/containerd/containerd.sock if it answers, else a containerd of
its own started under --root (state in <root>/containerd).

Stopping the daemon (Ctrl-C, SIGTERM) leaves pods running; the next daemon
adopts them. An embedded containerd keeps running too, so that the pods do.
To stop everything, delete the pods first, then the embedded containerd:

  minipod delete -f pod.yaml          # or: minipod delete pod NAME...
  kill $(cat <root>/containerd/containerd.pid)
                                      # /var/lib/minipod/containerd/containerd.pid by default`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("minipod daemon needs root (it creates network namespaces, mounts and containers): run \"sudo minipod daemon\"")
			}
			level := o.logLevel
			if g.verbose {
				level = "debug"
			}
			log, err := newLogger(s, level)
			if err != nil {
				return err
			}
			socket := o.socket
			if !cmd.Flags().Changed("socket") && cmd.Root().PersistentFlags().Changed("socket") {
				socket = g.socket
			}
			logMaxSize, err := resource.ParseQuantity(o.logMaxSize)
			if err != nil {
				return fmt.Errorf("invalid --container-log-max-size %q: want a quantity such as 10Mi", o.logMaxSize)
			}
			rotation := runtime.LogRotation{MaxSize: logMaxSize.Value(), MaxFiles: o.logMaxFiles}
			if err := rotation.Validate(); err != nil {
				return fmt.Errorf("invalid --container-log-max-size or --container-log-max-files: %w", err)
			}
			return daemon.Run(cmd.Context(), daemon.Config{
				Socket:          socket,
				SocketGroup:     o.socketGroup,
				TCPAddress:      o.listenTCP,
				UIAddress:       o.ui,
				Pprof:           o.pprof,
				BodyIdleTimeout: o.bodyIdleTimeout,
				KubeAPI:         o.kubeAPI,
				Log:             log,
				Runtime: runtime.Config{
					Root:                o.root,
					ContainerdAddress:   o.containerdAddress,
					ContainerdNamespace: o.containerdNamespace,
					NetworkName:         o.network,
					Bridge:              o.bridge,
					Subnet:              o.subnet,
					ConfList:            o.cniConfList,
					PluginDirs:          o.cniPluginDirs,
					InsecureRegistries:  o.insecureRegistries,
					RestartBackOff:      o.restartBackOff,
					NetNSDir:            o.netnsDir,
					ShimPerContainer:    o.shimPerContainer,
					SecretDir:           o.secretDir,
					LogRotation:         rotation,
					PodPidsLimit:        o.podPidsLimit,
					Logger:              log,
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.root, "root", runtime.DefaultStateRoot, "state root: pod records, volumes, logs, the embedded containerd; it must be new, empty or minipod's own")
	f.StringVar(&o.socket, "socket", api.DefaultSocket, "unix socket of the API")
	f.StringVar(&o.socketGroup, "socket-group", "", "group that may use the socket besides root (default: root only)")
	f.StringVar(&o.listenTCP, "listen-tcp", "", "also serve the API on this loopback address, 127.0.0.1:PORT, to clients with the token in <root>/api-token (off by default; other addresses are refused)")
	f.StringVar(&o.ui, "ui", "", "serve the live view, a read-only web page of the host's pods, on this loopback address, 127.0.0.1:PORT (off by default; minipod ui prints a login link)")
	f.DurationVar(&o.bodyIdleTimeout, "request-body-timeout", daemon.DefaultBodyIdleTimeout, "cut a connection whose request body stops arriving for this long")
	f.StringVar(&o.kubeAPI, "kube-api", daemon.DefaultKubeAPI, "serve the Kubernetes API (for kubectl; see \"minipod kubeconfig\") over TLS on this loopback address, with credentials kept under --root; \"\" turns it off")
	f.StringVar(&o.containerdAddress, "containerd-address", "", "containerd socket (default: the system's if it answers, else an embedded containerd under --root)")
	f.StringVar(&o.containerdNamespace, "containerd-namespace", "minipod", "containerd namespace of minipod's containers and images")
	f.StringVar(&o.subnet, "subnet", netns.DefaultSubnet, "subnet of the pod network")
	f.StringVar(&o.bridge, "bridge", netns.DefaultBridge, "bridge of the pod network")
	f.StringVar(&o.network, "network", runtime.DefaultNetwork, "name of the CNI network")
	f.StringVar(&o.cniConfList, "cni-conflist", "", "a CNI conflist file to use instead of the built-in bridge network (read again when it changes)")
	f.StringSliceVar(&o.cniPluginDirs, "cni-plugin-dir", []string{"/opt/cni/bin", "/usr/lib/cni"}, "directory of CNI plugins (repeatable)")
	f.StringSliceVar(&o.insecureRegistries, "insecure-registry", nil, "registry host[:port] to pull from over plain HTTP (repeatable; localhost is always allowed)")
	f.StringVar(&o.secretDir, "secret-dir", "", "where Secrets are kept, on a tmpfs mounted on this directory; it must be new, empty or minipod's own (default /run/minipod/secrets/<root as a name>)")
	f.BoolVar(&o.shimPerContainer, "shim-per-container", false, "give each container its own containerd shim: pods start faster (containerd 1.6's shim creates a pod's containers one at a time) at twice the shim memory")
	f.StringVar(&o.netnsDir, "netns-dir", netns.Dir(), "where pod network namespaces are pinned (ip netns finds them in /run/netns); it must be new or hold only network namespaces")
	f.DurationVar(&o.restartBackOff, "restart-backoff", 10*time.Second, "first back-off before restarting a crashed container, doubling up to 30 times it (the kubelet's 10s..5m); lower it for tests")
	f.StringVar(&o.logMaxSize, "container-log-max-size", "10Mi", "rotate a container's log file when it would exceed this size (the kubelet's containerLogMaxSize)")
	f.IntVar(&o.logMaxFiles, "container-log-max-files", runtime.DefaultLogMaxFiles, "log files kept per container run, the current one included (the kubelet's containerLogMaxFiles; at least 2)")
	f.Int64Var(&o.podPidsLimit, "pod-pids-limit", runtime.DefaultPodPidsLimit, "most processes a pod may have, in its cgroup (the kubelet's podPidsLimit; -1: no limit, the kubelet's default)")
	f.BoolVar(&o.pprof, "pprof", false, "serve net/http/pprof under /debug/pprof/ on the socket")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func newLogger(s ioStreams, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(s.errOut, &slog.HandlerOptions{Level: l})), nil
}

// newLogDriverCommand is the program containerd's shim runs to write a
// container's output to its log file; people do not run it.
func newLogDriverCommand() *cobra.Command {
	// The shim passes the driver's arguments as key/value pairs in no fixed
	// order; the runtime reads them, not cobra.
	return &cobra.Command{
		Use:                "log-driver PATH [--max-size BYTES] [--max-files N]",
		Short:              "Write a container's output to its CRI log file (run by containerd's shim)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, rot, err := runtime.ParseLogDriverArgs(args)
			if err != nil {
				return err
			}
			return runtime.RunLogDriver(path, rot)
		},
	}
}

// newPauseCommand is PID 1 of a pod's shared PID namespace
// (shareProcessNamespace); the daemon starts it, people do not.
func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Hold a pod's shared PID namespace (started by the daemon)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runtime.RunPause()
		},
	}
}
