package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
)

// floorSystem is the least work that starts a pod's containers: a named
// network namespace with loopback up, a CNI bridge ADD (bridge with
// host-local IPAM, run by libcni from the plugin directory, no firewall or
// portmap), and one `ctr run -d` per container, in parallel, joining it.
type floorSystem struct {
	b      *bench
	ns     string
	cni    *libcni.CNIConfig
	list   *libcni.NetworkConfigList
	client *containerd.Client
}

func newFloor(ctx context.Context, b *bench) (*floorSystem, error) {
	f := &floorSystem{b: b, ns: b.floorNS()}
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "mpbench-%[1]s-floor",
  "plugins": [{
    "type": "bridge",
    "bridge": %[2]q,
    "isGateway": true,
    "ipMasq": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %[3]q}]], "dataDir": %[4]q}
  }]
}`, b.cfg.id, b.bridge("f"), b.subnet(4, 24), filepath.Join(b.work, "floor", "ipam"))
	list, err := libcni.ConfListFromBytes([]byte(conf))
	if err != nil {
		return nil, fmt.Errorf("failed to parse the floor's CNI conflist: %w", err)
	}
	f.list = list
	f.cni = libcni.NewCNIConfigWithCacheDir([]string{"/opt/cni/bin", "/usr/lib/cni"}, filepath.Join(b.work, "floor", "cache"), nil)
	b.onCleanup(f.cleanup)
	if f.client, err = containerd.New(b.containerdSock); err != nil {
		return nil, fmt.Errorf("failed to connect to containerd: %w", err)
	}
	if err := runCmd(ctx, nil, "ctr", "-a", b.containerdSock, "-n", f.ns, "images", "import",
		"--base-name", "docker.io/library/busybox", b.cfg.image); err != nil {
		return nil, fmt.Errorf("failed to import the image for the floor: %w", err)
	}
	return f, nil
}

func (f *floorSystem) netnsName(name string) string { return f.ns + "-" + name }

func (f *floorSystem) runtimeConf(name string, withNS bool) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: f.netnsName(name), IfName: "eth0"}
	if withNS {
		rt.NetNS = "/run/netns/" + f.netnsName(name)
	}
	return rt
}

// start is the floor of a pod start: netns, CNI ADD, n parallel ctr runs.
func (f *floorSystem) start(ctx context.Context, name string, n int) error {
	nsName := f.netnsName(name)
	if err := runCmd(ctx, nil, "ip", "netns", "add", nsName); err != nil {
		return err
	}
	if err := runCmd(ctx, nil, "ip", "-n", nsName, "link", "set", "lo", "up"); err != nil {
		return err
	}
	if _, err := f.cni.AddNetworkList(ctx, f.list, f.runtimeConf(name, true)); err != nil {
		return fmt.Errorf("failed to run CNI ADD for %q: %w", nsName, err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runCmd(ctx, nil, "ctr", "-a", f.b.containerdSock, "-n", f.ns, "run", "-d",
				"--with-ns", "network:/run/netns/"+nsName, benchImage, fmt.Sprintf("%s-c%d", name, i), "sleep", "3600")
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// remove kills the pod's containers and undoes its network (untimed).
func (f *floorSystem) remove(ctx context.Context, name string) error {
	var errs []error
	if err := removeContainers(ctx, f.client, f.ns, name+"-"); err != nil {
		errs = append(errs, err)
	}
	if err := f.cni.DelNetworkList(ctx, f.list, f.runtimeConf(name, true)); err != nil {
		errs = append(errs, fmt.Errorf("failed to run CNI DEL for %q: %w", f.netnsName(name), err))
	}
	if err := runCmd(ctx, nil, "ip", "netns", "delete", f.netnsName(name)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanup removes whatever floor pods are left (after a failure), their
// network and the floor's bridge.
func (f *floorSystem) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if f.client != nil {
		if err := removeContainers(ctx, f.client, f.ns, ""); err != nil {
			logf("failed to remove the floor's containers: %v", err)
		}
		f.client.Close()
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if name, ok := strings.CutPrefix(e.Name(), f.ns+"-"); ok {
			if err := f.cni.DelNetworkList(ctx, f.list, f.runtimeConf(name, true)); err != nil {
				logf("failed to run CNI DEL for %s: %v", e.Name(), err)
			}
			if err := runCmd(ctx, nil, "ip", "netns", "delete", e.Name()); err != nil {
				logf("%v", err)
			}
		}
	}
	deleteLink(f.b.bridge("f"))
}

// removeContainers kills and deletes the containers of namespace ns whose
// IDs start with prefix, with their snapshots.
func removeContainers(ctx context.Context, c *containerd.Client, ns, prefix string) error {
	ctx = namespaces.WithNamespace(ctx, ns)
	cs, err := c.Containers(ctx)
	if err != nil {
		return fmt.Errorf("failed to list containers in %q: %w", ns, err)
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ctr := range cs {
		if !strings.HasPrefix(ctr.ID(), prefix) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := removeContainer(ctx, ctr); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func removeContainer(ctx context.Context, ctr containerd.Container) error {
	task, err := ctr.Task(ctx, nil)
	if err == nil {
		exited, werr := task.Wait(ctx)
		if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("failed to kill task %q: %w", ctr.ID(), err)
		}
		if werr == nil {
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
			}
		}
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("failed to delete task %q: %w", ctr.ID(), err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to load task %q: %w", ctr.ID(), err)
	}
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to delete container %q: %w", ctr.ID(), err)
	}
	return nil
}

// purgeNamespace removes every container, task and image of a containerd
// namespace, then the namespace.
func purgeNamespace(address, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := containerd.New(address)
	if err != nil {
		return err
	}
	defer c.Close()
	errs := []error{removeContainers(ctx, c, ns, "")}
	nctx := namespaces.WithNamespace(ctx, ns)
	if imgs, err := c.ImageService().List(nctx); err == nil {
		for _, im := range imgs {
			if err := c.ImageService().Delete(nctx, im.Name, images.SynchronousDelete()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := c.NamespaceService().Delete(ctx, ns); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
