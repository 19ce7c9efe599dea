package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/netns"
)

// Config configures a Runtime: where its state lives, which containerd it
// talks to and how pods are networked.
type Config struct {
	// Root is the state root (default /var/lib/minipod): pod records, pod
	// directories, logs, CNI state, and the embedded containerd's state.
	// It must be new, empty or minipod's own already (see owned_dirs.go).
	Root string
	// ContainerdAddress is the containerd socket to use. When empty, the
	// system one (/run/containerd/containerd.sock) is used if it answers;
	// otherwise minipod starts its own containerd under Root.
	ContainerdAddress string
	// EmbeddedContainerd makes minipod use its own containerd under Root
	// even when the system one answers (tests use it to stay apart).
	EmbeddedContainerd bool
	// ContainerdNamespace is the containerd namespace of minipod's
	// containers and images (default "minipod").
	ContainerdNamespace string
	// NetworkName, Bridge and Subnet shape the default CNI network; ConfList
	// names a user's own conflist instead. PluginDirs are searched for the
	// CNI plugins.
	NetworkName string
	Bridge      string
	Subnet      string
	ConfList    string
	PluginDirs  []string
	// InsecureRegistries may be pulled from over plain HTTP, besides
	// localhost and 127.0.0.1.
	InsecureRegistries []string
	// LogBinary is the program containerd's shim runs to write a
	// container's output to its CRI log file: `LogBinary log-driver PATH
	// --max-size BYTES --max-files N` (the pairs in any order).
	// Default: this executable.
	LogBinary string
	// LogRotation bounds each container run's log files (default: the
	// kubelet's 10 MiB x 5 files).
	LogRotation LogRotation
	// PodPidsLimit caps the processes of each pod in its cgroup (the
	// kubelet's podPidsLimit); 0 or less is no limit.
	PodPidsLimit int64
	// ShimPerContainer gives each container a containerd shim of its own.
	// By default a pod's containers share one shim, as the CRI plugin's
	// sandboxes do: half the shim memory, but containerd 1.6's runc shim
	// creates its containers one at a time, so a pod starts slower.
	ShimPerContainer bool
	// SecretDir holds the daemon's Secrets, on a tmpfs the daemon mounts
	// on it (default /run/minipod/secrets/<root, as a name>). It must be
	// new, empty or minipod's own already (see owned_dirs.go). Tests give
	// each daemon its own.
	SecretDir string
	// NetNSDir is where pod network namespaces are pinned (default
	// /run/netns, where `ip netns` finds them). Tests give each daemon its
	// own.
	NetNSDir string
	// RestartBackOff is the first back-off before restarting a crashed
	// container (default 10s, as the kubelet); the longest is 30 times it.
	// Tests scale it down.
	RestartBackOff time.Duration
	// Network replaces the CNI network (tests inject failures with it).
	Network netns.Network
	// Fault, when set (tests only), is called at the end of each apply
	// step and each teardown step (ApplySteps, TeardownSteps) with its
	// name, after the step's own work; an error fails the step, so that
	// its undo is exercised too. The daemon sets it from FaultEnv.
	Fault func(step string) error
	// Logger receives the runtime's logs (default slog.Default()).
	Logger *slog.Logger
}

// SystemContainerdAddress is where a host's own containerd listens.
const SystemContainerdAddress = "/run/containerd/containerd.sock"

// Runtime runs pods on one host. It implements api.Backend, and
// daemon.Backend.
type Runtime struct {
	cfg     Config
	client  *containerd.Client
	network netns.Network
	records *recordStore
	objects *objectStore
	log     *slog.Logger
	// embedded is the pid file of the containerd minipod started, if any.
	embedded string
	// address is the socket of the containerd in use; its shims carry it.
	address string
	// hostIP and nodeName are the host's address and name, as a pod sees
	// them (status.hostIP, spec.nodeName), read once at start.
	hostIP, nodeName string
	// containerdDirs are where containerd keeps its data; no hostPath may
	// reach them.
	containerdDirs []string
	// life ends when the runtime is closed; stopSupervisor ends it (and
	// superviseEmbedded, and retried rollbacks).
	life context.Context
	// sweep asks shimSweeper for a sweep of orphaned shims.
	sweep          chan struct{}
	stopSupervisor context.CancelFunc

	mu   sync.Mutex
	pods map[string]*podState // by namespace/name

	// liveLeases are the IDs of the containerd leases that operations in
	// progress hold (see withLease).
	leaseMu    sync.Mutex
	liveLeases map[string]bool

	changes changes
	// pastEvents are the events of deleted pods, kept for eventTTL.
	pastEvents pastEvents
	// cgroupMu orders the writes to the pod and QoS cgroups.
	cgroupMu sync.Mutex
}

// New connects to (or starts) containerd, loads the CNI configuration once
// and reconciles the pod records found under cfg.Root.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// Every directory named by a flag is checked before any is created.
	if err := checkDirs(cfg); err != nil {
		return nil, err
	}
	undoRoot, err := prepareStateRoot(cfg.Root)
	if err != nil {
		return nil, err
	}
	// Secrets only ever on tmpfs, even where /run is not one.
	undoSecrets, err := prepareSecretDir(cfg.SecretDir)
	if err != nil {
		undoRoot()
		return nil, err
	}
	// A start that fails takes back the directories it made.
	fail := func(err error) (*Runtime, error) {
		undoSecrets()
		undoRoot()
		return nil, err
	}
	r := &Runtime{
		cfg:        cfg,
		records:    &recordStore{dir: filepath.Join(cfg.Root, "pods")},
		objects:    &objectStore{dir: filepath.Join(cfg.Root, "objects"), secretDir: cfg.SecretDir},
		log:        cfg.Logger,
		pods:       map[string]*podState{},
		hostIP:     HostIP(),
		nodeName:   nodeName(),
		liveLeases: map[string]bool{},
		sweep:      make(chan struct{}, 1),
	}
	r.network = cfg.Network
	if r.network == nil {
		r.network, err = netns.NewCNI(netns.CNIConfig{
			PluginDirs: cfg.PluginDirs,
			ConfList:   cfg.ConfList,
			Name:       cfg.NetworkName,
			Bridge:     cfg.Bridge,
			Subnet:     cfg.Subnet,
			DataDir:    filepath.Join(cfg.Root, "cni", "networks"),
			CacheDir:   filepath.Join(cfg.Root, "cni", "cache"),
			Firewall:   netns.ForwardPolicyDrops(),
		})
		if errors.Is(err, netns.ErrBridgeTaken) {
			return fail(fmt.Errorf("failed to load the CNI network: %w; another minipod daemon, or another network, uses this bridge: start this daemon with a bridge of its own (--bridge NAME, with its own --subnet)", err))
		}
		if err != nil {
			return fail(fmt.Errorf("failed to load the CNI network: %w", err))
		}
	}
	if err := r.connect(ctx); err != nil {
		return fail(err)
	}
	r.containerdDirs = r.containerdRoots(ctx)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.life, r.stopSupervisor = sctx, cancel
	if err := r.reconcile(ctx); err != nil {
		cancel()
		r.client.Close()
		return fail(err)
	}
	go r.watchOOM(r.nsctx(sctx))
	go r.shimSweeper()
	if r.embedded != "" {
		go r.superviseEmbedded(sctx)
	}
	return r, nil
}

// withDefaults fills in what cfg leaves empty and makes Root absolute.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultStateRoot
	}
	if cfg.ContainerdNamespace == "" {
		cfg.ContainerdNamespace = "minipod"
	}
	if cfg.NetworkName == "" {
		cfg.NetworkName = DefaultNetwork
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NetNSDir == "" {
		cfg.NetNSDir = netns.Dir()
	}
	if cfg.LogBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("failed to find the minipod executable for container logs: %w", err)
		}
		cfg.LogBinary = exe
	}
	if cfg.LogRotation == (LogRotation{}) {
		cfg.LogRotation = LogRotation{MaxSize: DefaultLogMaxSize, MaxFiles: DefaultLogMaxFiles}
	}
	if err := cfg.LogRotation.Validate(); err != nil {
		return cfg, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return cfg, fmt.Errorf("failed to resolve state root %q: %w", cfg.Root, err)
	}
	cfg.Root = root
	if cfg.SecretDir == "" {
		cfg.SecretDir = filepath.Join(secretRunDir, sanitizeForPath(cfg.Root))
	}
	if cfg.SecretDir, err = filepath.Abs(cfg.SecretDir); err != nil {
		return cfg, fmt.Errorf("failed to resolve --secret-dir %q: %w", cfg.SecretDir, err)
	}
	if cfg.NetNSDir, err = filepath.Abs(cfg.NetNSDir); err != nil {
		return cfg, fmt.Errorf("failed to resolve --netns-dir %q: %w", cfg.NetNSDir, err)
	}
	return cfg, nil
}

// CheckDirs checks, creating nothing, that minipod may take the
// directories cfg names (see owned_dirs.go). New checks them too; the
// daemon calls CheckDirs before it listens, so that a refused flag leaves
// nothing behind.
func CheckDirs(cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	return checkDirs(cfg)
}

func checkDirs(cfg Config) error {
	if within(cfg.Root, cfg.SecretDir) {
		return fmt.Errorf("--root %q lies in --secret-dir %q: give the secret directory a place of its own: %w", cfg.Root, cfg.SecretDir, errdefs.ErrInvalidArgument)
	}
	_, rerr := inspectStateRoot(cfg.Root)
	_, serr := inspectSecretDir(cfg.SecretDir)
	nerr := netns.CheckDir(cfg.NetNSDir)
	if nerr != nil {
		nerr = fmt.Errorf("--netns-dir %q: %w", cfg.NetNSDir, nerr)
	}
	return errors.Join(rerr, serr, nerr)
}

// connect picks the containerd to use: the configured address, the
// system's when it answers, or minipod's own under Root.
func (r *Runtime) connect(ctx context.Context) error {
	addr := r.cfg.ContainerdAddress
	if addr == "" && !r.cfg.EmbeddedContainerd {
		if c, err := dial(ctx, SystemContainerdAddress, r.cfg.ContainerdNamespace, 2*time.Second); err == nil {
			r.client, r.address = c, SystemContainerdAddress
			r.log.Info("using the system containerd", "address", SystemContainerdAddress)
			return nil
		}
	}
	if addr == "" {
		c, pidFile, err := startEmbeddedContainerd(ctx, r.cfg.Root, r.cfg.ContainerdNamespace)
		if err != nil {
			return err
		}
		r.client, r.embedded, r.address = c, pidFile, embeddedSocket(r.cfg.Root)
		r.log.Info("using minipod's own containerd", "address", embeddedSocket(r.cfg.Root), "pidfile", pidFile)
		return nil
	}
	c, err := dial(ctx, addr, r.cfg.ContainerdNamespace, 10*time.Second)
	if err != nil {
		return fmt.Errorf("failed to connect to containerd at %q: %w; is it running?", addr, err)
	}
	r.client, r.address = c, addr
	return nil
}

// Containerd tells which containerd the runtime uses and whether it
// answers now.
func (r *Runtime) Containerd(ctx context.Context) (api.ContainerdInfo, error) {
	info := api.ContainerdInfo{Address: r.address, Embedded: r.embedded != "", Namespace: r.cfg.ContainerdNamespace}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := r.client.Version(ctx)
	if err != nil {
		info.Error = err.Error()
	} else {
		info.Version = v.Version
	}
	return info, nil
}

func dial(ctx context.Context, addr, ns string, timeout time.Duration) (*containerd.Client, error) {
	if _, err := os.Stat(addr); err != nil {
		return nil, err
	}
	c, err := containerd.New(addr, containerd.WithDefaultNamespace(ns), containerd.WithTimeout(timeout))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if ok, err := c.IsServing(ctx); err != nil || !ok {
		c.Close()
		if err == nil {
			err = fmt.Errorf("containerd at %q is not serving", addr)
		}
		return nil, err
	}
	return c, nil
}

// ctx returns ctx carrying minipod's containerd namespace.
func (r *Runtime) nsctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.ContainerdNamespace)
}

// Close releases the runtime's connections. Pods keep running, and so does
// an embedded containerd.
func (r *Runtime) Close() error {
	if r.stopSupervisor != nil {
		r.stopSupervisor()
	}
	r.mu.Lock()
	for _, p := range r.pods {
		p.stopWatchers()
	}
	r.mu.Unlock()
	if r.client != nil {
		return r.client.Close()
	}
	return nil
}

// EmbeddedContainerdPIDFile returns the pid file of the containerd that
// minipod started, or "" when it uses another one.
func (r *Runtime) EmbeddedContainerdPIDFile() string { return r.embedded }
