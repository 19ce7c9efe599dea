package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/signal"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minipod/minipod/plan"
	"github.com/minipod/minipod/volumes"
)

// Labels on every containerd container of a pod: the daemon finds a pod's
// containers by them after a crash.
const (
	LabelPodNamespace = "minipod.dev/pod-namespace"
	LabelPodName      = "minipod.dev/pod-name"
	LabelPodUID       = "minipod.dev/pod-uid"
	LabelContainer    = "minipod.dev/container"
	// shimGroupAnnotation makes the runc v2 shim serve every container of a
	// pod from one shim process, as containerd's CRI plugin does for a sandbox.
	shimGroupAnnotation = "io.containerd.runc.v2.group"
)

// containerID names a pod's container in containerd (see plan.ContainerID).
func containerID(uid, name string) string { return plan.ContainerID(uid, name) }

// createContainer creates a containerd container for cp, from its image,
// joining the pod's namespaces, with the pod's mounts and a CRI log file.
func (r *Runtime) createContainer(ctx context.Context, a *podApply, cp *ContainerPlan) (containerd.Container, error) {
	p, img := a.plan, a.images[cp.Image]
	podIP, hostIP, nodeName := a.podIP, r.hostIP, r.nodeName
	ctx = r.nsctx(ctx)
	id := containerID(p.UID, cp.Name)
	var mounts []specs.Mount
	if tm := cp.TerminationMessageHostPath; tm != "" {
		// The container's last words: an empty file per run, bind-mounted
		// read-write at terminationMessagePath.
		if err := os.MkdirAll(filepath.Dir(tm), 0o755); err != nil {
			return nil, fmt.Errorf("failed to create the termination message file of %q: %w", cp.Name, err)
		}
		if err := os.WriteFile(tm, nil, 0o666); err != nil {
			return nil, fmt.Errorf("failed to create the termination message file of %q: %w", cp.Name, err)
		}
		mounts = append(mounts, specs.Mount{Destination: cp.TerminationMessagePath, Type: "bind", Source: tm, Options: []string{"rbind", "rprivate", "rw"}})
	}
	for i, m := range cp.Mounts {
		if m.Volume == "" {
			mounts = append(mounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: m.Options})
			continue
		}
		// The source is the container's own mount point, which pinMounts
		// fills at every start from what is on disk then.
		v := volumeOf(p, m.Volume)
		om, err := volumes.MountAt(v, volumes.Mount{Volume: m.Volume, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath}, pinTarget(p, cp.Name, i))
		if err != nil {
			return nil, fmt.Errorf("failed to mount volume %q into container %q: %w", m.Volume, cp.Name, err)
		}
		mounts = append(mounts, om)
	}
	// The plan's env and argv with the values known only now.
	cpus, mem := hostResources()
	env, argv := cp.Process(plan.Applied{PodIP: podIP, HostIP: hostIP, NodeName: nodeName, UID: p.UID, CPUs: cpus, Memory: mem})
	specOpts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(argv...),
		oci.WithEnv(env),
		oci.WithMounts(mounts),
		oci.WithCgroup(cp.CgroupPath),
	}
	if !r.cfg.ShimPerContainer {
		specOpts = append(specOpts, oci.WithAnnotations(map[string]string{shimGroupAnnotation: p.UID}))
	}
	if cp.WorkingDir != "" {
		specOpts = append(specOpts, oci.WithProcessCwd(cp.WorkingDir))
	}
	if cp.Hostname != "" {
		specOpts = append(specOpts, oci.WithHostname(cp.Hostname))
	}
	// The plan has the image's config: apply read it once, with the image.
	secOpts, err := securitySpecOpts(cp, filepath.Join(r.cfg.Root, "seccomp"))
	if err != nil {
		return nil, err
	}
	specOpts = append(specOpts, secOpts...)
	for _, n := range cp.Namespaces {
		if n.Path == "" {
			specOpts = append(specOpts, oci.WithHostNamespace(specs.LinuxNamespaceType(n.Type)))
			continue
		}
		specOpts = append(specOpts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.LinuxNamespaceType(n.Type), Path: n.Path}))
	}
	labels := map[string]string{
		LabelPodNamespace: p.Namespace,
		LabelPodName:      p.Name,
		LabelPodUID:       p.UID,
		LabelContainer:    cp.Name,
	}
	// The pod cgroup, with its limits, before runc creates the container's
	// cgroup in it.
	if err := r.ensurePodCgroup(p); err != nil {
		return nil, fmt.Errorf("failed to create the cgroup of pod %q: %w", p.Name, err)
	}
	c, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		// The label marks the snapshot as minipod's: gc removes no other.
		containerd.WithNewSnapshot(id, img, snapshots.WithLabels(map[string]string{LabelPodUID: p.UID})),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(specOpts...),
	)
	if err != nil {
		return nil, fmt.Errorf("failed to create container %q: %w", cp.Name, err)
	}
	return c, nil
}

func volumeOf(p *PodPlan, name string) volumes.Volume {
	for _, v := range p.Volumes {
		if v.Name == name {
			return toVolume(v)
		}
	}
	return volumes.Volume{Name: name}
}

func toVolume(v VolumePlan) volumes.Volume {
	kind := volumes.Kind(v.Kind)
	if v.Kind == "downwardAPI" || v.Kind == "projected" {
		// Files on a tmpfs, as the kubelet keeps them: what volumes
		// does for a secret.
		kind = volumes.Secret
	}
	out := volumes.Volume{
		Name:         v.Name,
		Kind:         kind,
		Path:         v.HostPath,
		Medium:       v.Medium,
		SizeLimit:    v.SizeLimit,
		HostPathType: v.HostPathType,
	}
	for _, f := range v.Files {
		data := f.Data
		if d := string(data); strings.HasPrefix(d, "node:") {
			cpus, mem := hostResources()
			data = []byte(plan.NodeResource(d, cpus, mem))
		}
		out.Files = append(out.Files, volumes.File{Path: f.Path, Data: data, Mode: os.FileMode(f.Mode)})
	}
	return out
}

// newTask creates the container's task with its output going to logPath
// through the log driver, which the shim runs; output keeps flowing when the
// daemon restarts. The container's volume mounts are pinned first, from
// what is on disk now, and released once runc has made the container's own
// mounts of them.
func (r *Runtime) newTask(ctx context.Context, p *PodPlan, cp *ContainerPlan, c containerd.Container, logPath string) (t containerd.Task, err error) {
	ctx = r.nsctx(ctx)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create log directory: %w", err)
	}
	defer func() {
		if uerr := volumes.Unpin(pinDir(p, cp.Name)); uerr != nil {
			err = errors.Join(err, fmt.Errorf("failed to release the volume mounts of container %q: %w", cp.Name, uerr))
		}
	}()
	if err := r.pinMounts(p, cp); err != nil {
		return nil, err
	}
	t, err = c.NewTask(ctx, cio.BinaryIO(r.cfg.LogBinary, logDriverArgs(logPath, r.cfg.LogRotation)))
	if err != nil {
		return nil, fmt.Errorf("failed to create task of container %q: %w", c.ID(), err)
	}
	return t, nil
}

// pinDir holds the mount points of a container's volume mounts, under the
// pod directory, which no container can write.
func pinDir(p *PodPlan, container string) string {
	return filepath.Join(p.PodDir, "mounts", container)
}

// pinTarget is the mount point of a container's i-th mount.
func pinTarget(p *PodPlan, container string, i int) string {
	return filepath.Join(pinDir(p, container), strconv.Itoa(i))
}

// pinMounts resolves each volume mount of cp as its volume is now (subPath
// beneath the volume, hostPath checked against the daemon's own state on
// the open descriptor) and binds it at its mount point.
func (r *Runtime) pinMounts(p *PodPlan, cp *ContainerPlan) error {
	deny := r.guardedPaths()
	for i, m := range cp.Mounts {
		if m.Volume == "" {
			continue
		}
		v := volumeOf(p, m.Volume)
		if err := volumes.Pin(v, volumes.Mount{Volume: m.Volume, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath}, pinTarget(p, cp.Name, i), deny); err != nil {
			return fmt.Errorf("failed to mount volume %q into container %q: %w", m.Volume, cp.Name, err)
		}
	}
	return nil
}

// stopContainer sends the stop signal, waits up to grace, then SIGKILLs,
// and deletes the task. A container without a task is fine.
func (r *Runtime) stopContainer(ctx context.Context, c containerd.Container, stopSignal string, grace time.Duration) error {
	ctx = r.nsctx(ctx)
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to load task of %q: %w", c.ID(), err)
	}
	st, err := t.Status(ctx)
	if err == nil && st.Status != containerd.Stopped {
		exitc, werr := t.Wait(ctx)
		sig := syscall.SIGTERM
		if stopSignal != "" {
			if s, perr := signal.ParseSignal(stopSignal); perr == nil {
				sig = s
			}
		}
		if grace > 0 && werr == nil {
			if err := t.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("failed to signal %q: %w", c.ID(), err)
			}
			select {
			case <-exitc:
				exitc = nil
			case <-time.After(grace):
			}
		}
		if exitc != nil || werr != nil {
			if err := t.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("failed to kill %q: %w", c.ID(), err)
			}
			if werr == nil {
				select {
				case <-exitc:
				case <-time.After(10 * time.Second):
					return fmt.Errorf("container %q did not exit after SIGKILL", c.ID())
				}
			}
		}
	}
	return deleteTask(ctx, c, t)
}

// deleteTask deletes a stopped task. The containers of a pod share one shim,
// which exits once its last task is gone; a delete racing that exit can see
// the connection close after the task was removed, so the outcome is checked
// against containerd before it counts as a failure.
func deleteTask(ctx context.Context, c containerd.Container, t containerd.Task) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = t.Delete(ctx, containerd.WithProcessKill); err == nil || errdefs.IsNotFound(err) {
			return nil
		}
		if _, terr := c.Task(ctx, nil); errdefs.IsNotFound(terr) {
			return nil
		}
	}
	return fmt.Errorf("failed to delete task of %q: %w", c.ID(), err)
}

// removeContainer stops and deletes a container and its snapshot by ID;
// absent is fine.
func (r *Runtime) removeContainer(ctx context.Context, id, stopSignal string, grace time.Duration) error {
	ctx = r.nsctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		// A creation cut short may have prepared the snapshot (named as
		// the container) and not made the container.
		if err := r.client.SnapshotService(defaults.DefaultSnapshotter).Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("failed to remove snapshot %q: %w", id, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to load container %q: %w", id, err)
	}
	if err := r.stopContainer(ctx, c, stopSignal, grace); err != nil {
		return err
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to delete container %q: %w", id, err)
	}
	return nil
}

// podContainerIDs finds a pod's containers by label, for a teardown that
// must work from a half-written record.
func (r *Runtime) podContainerIDs(ctx context.Context, uid string) ([]string, error) {
	ctx = r.nsctx(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q==%q", LabelPodUID, uid))
	if err != nil {
		return nil, fmt.Errorf("failed to list containers of pod %q: %w", uid, err)
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID())
	}
	return ids, nil
}
