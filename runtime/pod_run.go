package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/volumes"
)

var (
	errNotFound      = errdefs.ErrNotFound
	errAlreadyExists = errdefs.ErrAlreadyExists
)

// Apply steps, named in errors and by the fault-injection hook.
const (
	StepImages         = "images"
	StepRecord         = "pod record"
	StepNetNS          = "network namespace"
	StepPodNamespaces  = "ipc and uts namespaces"
	StepCNI            = "CNI ADD"
	StepVolumes        = "volumes"
	StepPodFiles       = "pod files"
	StepInitContainers = "init containers"
	StepCreate         = "create containers"
	StepStart          = "start containers"
)

// FailAt, when set (tests only), makes apply fail at the named step, after
// the step's own work, so that its undo is exercised too.
var FailAt func(step string) error

func failAt(step string) error {
	if FailAt == nil {
		return nil
	}
	return FailAt(step)
}

// CreatePod creates the pod, and returns when all of its containers run, or
// when its creation failed and was rolled back. The pod is one the API
// admitted: defaulted (manifest.DefaultPod) and validated
// (manifest.ValidatePod) against the namespace's ConfigMaps and Secrets;
// CreatePod checks only what depends on the host (hostPaths, resources).
func (r *Runtime) CreatePod(ctx context.Context, in *corev1.Pod, opts api.CreateOptions) (*corev1.Pod, error) {
	pod := in.DeepCopy()
	cms, secrets, err := r.refs(ctx, pod.Namespace)
	if err != nil {
		return nil, err
	}
	if err := r.checkHostPaths(pod); err != nil {
		return nil, err
	}
	if err := checkResourceValues(pod); err != nil {
		return nil, err
	}
	justPulled := map[string]bool{}
	for _, ref := range opts.PulledImages {
		name, err := NormalizeImage(ref)
		if err != nil {
			return nil, err
		}
		justPulled[name] = true
	}
	pod.UID = types.UID(uuid.NewString())
	pod.CreationTimestamp = metav1.NewTime(time.Now())
	pod.ResourceVersion = "1"

	// Claim the name before anything else: racing creates of one name get
	// AlreadyExists, and nothing of theirs is created.
	key := podKey(pod.Namespace, pod.Name)
	rec := &Record{Pod: pod, State: StateCreating, Created: pod.CreationTimestamp.Time, Containers: map[string]string{}}
	ps := newPodState(rec)
	r.mu.Lock()
	if _, ok := r.pods[key]; ok {
		r.mu.Unlock()
		return nil, fmt.Errorf("pods %q already exists: %w", pod.Name, errAlreadyExists)
	}
	// Admission, one pod at a time as the kubelet admits them: its
	// requests must fit beside those of the pods the host holds.
	var others []*corev1.Pod
	for _, o := range r.pods {
		o.mu.Lock()
		others = append(others, o.rec.Pod)
		o.mu.Unlock()
	}
	cpus, mem := hostResources()
	if err := admitRequests(pod, others, int64(cpus)*1000, mem); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	r.pods[key] = ps
	r.mu.Unlock()
	r.changes.notify()

	// An image that cannot be pulled keeps the pod, waiting for it; the
	// pod is created once it is there.
	if failed := r.pullImages(ctx, ps, justPulled); len(failed) > 0 {
		r.log.Info("pod waits for its images", "pod", key, "images", len(failed))
		go r.createWhenPulled(ps, failed, cms, secrets, justPulled)
		return r.podObject(ps), nil
	}
	defer close(ps.created)
	// Running, or failed (and gone, or listed as Failed): watchers read again.
	defer r.changes.notify()
	if err := r.create(ctx, ps, cms, secrets, justPulled); err != nil {
		return nil, err
	}
	return r.podObject(ps), nil
}

// create applies the pod's plan. A failure undoes it, and the pod is
// forgotten, unless the undo failed too (it is then listed, for delete to
// retry).
func (r *Runtime) create(ctx context.Context, ps *podState, cms []*corev1.ConfigMap, secrets []*corev1.Secret, justPulled map[string]bool) error {
	pod := ps.rec.Pod
	key := podKey(pod.Namespace, pod.Name)
	log := r.log.With("pod", key)
	start := time.Now()
	// Everything the creation makes in containerd is held by a lease of
	// its own, labelled with the pod's UID, until the pod's records in
	// containerd hold it; the lease goes at the end, whatever the outcome
	// (see leases.go).
	lctx, dropLease, err := r.withLease(ctx, leaseCreate, map[string]string{LabelPodUID: string(pod.UID)})
	if err == nil {
		err = r.apply(lctx, ps, cms, secrets, justPulled)
		if lerr := dropLease(err != nil); lerr != nil {
			log.Warn("failed to delete the creation's lease; the daemon deletes it at its next start, or gc does", "err", lerr)
		}
	}
	if err != nil {
		r.mu.Lock()
		ps.mu.Lock()
		failed := ps.rec.State == StateRollbackIncomplete
		ps.mu.Unlock()
		if !failed {
			delete(r.pods, key)
		}
		r.mu.Unlock()
		if failed {
			// The rollback is incomplete: try it again until it is done.
			go r.retryTeardown(ps)
		}
		log.Info("pod creation failed", "err", err)
		return err
	}
	log.Info("pod running", "ip", ps.rec.PodIP, "took", time.Since(start))
	r.refreshHosts(pod.Namespace)
	return nil
}

// refs are the ConfigMaps and Secrets of a namespace, which the pod's
// volumes and env read.
func (r *Runtime) refs(ctx context.Context, ns string) ([]*corev1.ConfigMap, []*corev1.Secret, error) {
	cmList, err := r.ListConfigMaps(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	sList, err := r.ListSecrets(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	var cms []*corev1.ConfigMap
	var secrets []*corev1.Secret
	for i := range cmList {
		cms = append(cms, &cmList[i])
	}
	for i := range sList {
		secrets = append(secrets, &sList[i])
	}
	return cms, secrets, nil
}

// apply runs the pod's plan step by step; each step registers its undo
// before the next runs, and a failure undoes everything in reverse. justPulled
// holds the normalized names of the images the caller has just pulled.
//
// ctx is the caller's; its end (a client gone, its Ctrl-C) stops the
// creation where a step ends and rolls it back, but never cuts a step
// short: a CNI plugin or a containerd call killed half way leaves what no
// undo knows of. The steps run on a context without its cancellation
// (init containers excepted: they wait on ctx, which may be long).
func (r *Runtime) apply(ctx context.Context, ps *podState, cms []*corev1.ConfigMap, secrets []*corev1.Secret, justPulled map[string]bool) (retErr error) {
	pod := ps.rec.Pod
	caller := ctx
	ctx = context.WithoutCancel(ctx)
	stepDone := func(step string) error {
		if caller.Err() != nil {
			return fmt.Errorf("creation interrupted: %w", context.Cause(caller))
		}
		return failAt(step)
	}
	var undo undoStack
	step := ""
	// Each step's duration goes to the debug log: where a pod's start time
	// goes, for profiling and the benchmark.
	stepStart, stepName := time.Now(), ""
	mark := func(next string) {
		if stepName != "" {
			r.log.Debug("apply step done", "pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "step", stepName, "took", time.Since(stepStart))
		}
		stepStart, stepName = time.Now(), next
	}
	defer mark("")
	defer func() {
		if retErr == nil {
			return
		}
		serr := &StepError{Step: step, Err: retErr}
		// The rollback kills the containers: they must not be restarted
		// behind its back.
		ps.stop()
		if rbErr := undo.rollback(ctx); rbErr != nil {
			serr.Rollback = rbErr
			ps.mu.Lock()
			ps.rec.State = StateRollbackIncomplete
			ps.rec.TeardownError = rbErr.Error()
			ps.mu.Unlock()
			_ = r.records.save(ps.rec)
		}
		retErr = serr
	}()

	// 1. Images present, before anything is created.
	step = StepImages
	mark(step)
	images := map[string]containerd.Image{}
	configs := map[string]*ImageConfig{}
	for _, c := range allContainers(pod) {
		if _, ok := images[c.Image]; ok {
			continue
		}
		// A pull may take long and is safe to cut short: what it fetched
		// so far is the lease's alone.
		img, pulled, err := r.ensureImage(caller, c.Image, c.ImagePullPolicy, justPulled)
		if err != nil {
			r.event(ps, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", c.Image, err), c.Name)
			return err
		}
		if pulled {
			r.event(ps, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q", c.Image), c.Name)
		} else {
			r.event(ps, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image), c.Name)
		}
		cfg, err := imageConfig(r.nsctx(ctx), img)
		if err != nil {
			return err
		}
		images[c.Image], configs[c.Image] = img, cfg
	}
	if err := stepDone(step); err != nil {
		return err
	}
	plan, err := r.plan(pod, configs, cms, secrets)
	if err != nil {
		return err
	}

	// 2. The record, before any host resource; deleted last.
	step = StepRecord
	mark(step)
	ps.mu.Lock()
	ps.rec.Plan = plan
	ps.mu.Unlock()
	undo.push(step, func(context.Context) error {
		return errors.Join(r.records.remove(plan.UID), os.RemoveAll(plan.LogDir))
	})
	// The pod-level cgroup appears with the first container. Its undo runs
	// last but one, well after every container's: a shim that exits with
	// the pod's last task can still touch it for a moment.
	undo.push("pod cgroup", func(context.Context) error { return removePodCgroup(plan.UID) })
	if err := r.records.save(ps.rec); err != nil {
		return err
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// 3. The pod's namespaces: network (pinned, loopback up), IPC and UTS.
	var nsPath string
	// With hostNetwork the pod is in the host's network namespace: no
	// namespace of its own, no CNI, the host's address.
	podIP := r.hostIP
	if !plan.Sandbox.HostNetwork {
		step = StepNetNS
		mark(step)
		ns, err := netns.NewIn(r.cfg.NetNSDir, plan.Sandbox.NetNSName)
		if err != nil {
			return err
		}
		undo.push(step, func(context.Context) error { return ns.Remove() })
		if err := stepDone(step); err != nil {
			return err
		}
		nsPath = ns.Path()
	}
	step = StepPodNamespaces
	mark(step)
	undo.push(step, func(context.Context) error { return unpinPodNamespaces(plan.Sandbox.NamespaceDir) })
	if err := pinPodNamespaces(plan.Sandbox.NamespaceDir, plan.Sandbox.Hostname); err != nil {
		return err
	}
	if plan.Sandbox.SharePID {
		// The pause lives in the pod's cgroup, in a child of its own as the
		// kubelet's pause container does (cgroup v2 keeps processes out of
		// a cgroup whose children have controllers).
		if err := r.ensurePodCgroup(plan); err != nil {
			return err
		}
		if err := startPause(plan.Sandbox.NamespaceDir, r.cfg.LogBinary, podCgroupDirs(plan.UID)); err != nil {
			return err
		}
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// 4. CNI ADD; its DEL is registered first, since ADD may allocate an IP
	// and still fail. ADD runs in the background while the volumes and pod
	// files are made and the containers created (they join the namespace,
	// which exists; the interface arrives in it when ADD is done); cni()
	// waits for it where the IP is needed.
	cni := func() error { return nil }
	if !plan.Sandbox.HostNetwork {
		step = StepCNI
		mark(step)
		att := attachment(plan, nsPath)
		done := make(chan struct{})
		var res *netns.Result
		var cniErr error
		undo.push(step, func(ctx context.Context) error {
			<-done
			return r.network.Remove(ctx, att)
		})
		go func() {
			defer close(done)
			res, cniErr = r.network.Setup(ctx, att)
		}()
		waited := false
		cni = func() error {
			if waited {
				return nil
			}
			waited = true
			<-done
			step = StepCNI
			if cniErr != nil {
				return cniErr
			}
			podIP = res.IP.String()
			ps.mu.Lock()
			ps.rec.PodIP = podIP
			ps.mu.Unlock()
			if err := r.records.save(ps.rec); err != nil {
				return err
			}
			return stepDone(StepCNI)
		}
		podIP = ""
	} else {
		ps.mu.Lock()
		ps.rec.PodIP = podIP
		ps.mu.Unlock()
		if err := r.records.save(ps.rec); err != nil {
			return err
		}
	}

	// 5. Volumes.
	step = StepVolumes
	mark(step)
	for _, vp := range plan.Volumes {
		v := toVolume(vp)
		undo.push(step+" "+v.Name, func(ctx context.Context) error { return volumes.Teardown(ctx, v) })
		if err := volumes.Setup(ctx, v); err != nil {
			return err
		}
		if plan.FSGroup != nil && vp.Kind != "hostPath" {
			if err := applyFSGroup(v.Path, *plan.FSGroup); err != nil {
				return err
			}
		}
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// 6. /etc/hosts, /etc/hostname, /etc/resolv.conf of the pod.
	step = StepPodFiles
	mark(step)
	if err := writePodFiles(plan, podIP, r.peerLines(pod.Namespace, plan.UID)); err != nil {
		return err
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// Init containers may use the network at once, and a container's
	// environment may hold the pod IP: then the IP is needed now.
	if len(plan.Init) > 0 || needsPodIP(plan) {
		if err := cni(); err != nil {
			return err
		}
		if err := writePodFiles(plan, podIP, r.peerLines(pod.Namespace, plan.UID)); err != nil {
			return err
		}
	}

	hostIP, nodeName := r.hostIP, r.nodeName
	// 7. Init containers, one at a time, each to exit 0.
	step = StepInitContainers
	mark(step)
	for i := range plan.Init {
		cp := &plan.Init[i]
		if err := r.runInit(caller, ps, &undo, plan, cp, images[cp.Image], podIP, hostIP, nodeName); err != nil {
			return err
		}
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// 8. App containers: all created, then all started at once.
	step = StepCreate
	mark(step)
	created := make([]containerd.Container, len(plan.Containers))
	errs := make([]error, len(plan.Containers))
	var wg sync.WaitGroup
	for i := range plan.Containers {
		cp := &plan.Containers[i]
		id := containerID(plan.UID, cp.Name)
		undo.push("container "+cp.Name, func(ctx context.Context) error { return r.removeContainer(ctx, id, "", 0) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i], errs[i] = r.createContainer(ctx, plan, cp, images[cp.Image], podIP, hostIP, nodeName)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, cp := range plan.Containers {
		r.event(ps, corev1.EventTypeNormal, "Created", "Created container "+cp.Name, cp.Name)
	}
	ps.mu.Lock()
	for i, cp := range plan.Containers {
		ps.rec.Containers[cp.Name] = created[i].ID()
		r.addContainer(ps, cp.Name, &containerState{ID: created[i].ID(), Image: images[cp.Image].Name(), ImageID: images[cp.Image].Target().Digest.String()})
	}
	ps.mu.Unlock()
	if err := r.records.save(ps.rec); err != nil {
		return err
	}
	if err := stepDone(step); err != nil {
		return err
	}

	// The IP, and the pod's /etc/hosts with it, before anything runs.
	if err := cni(); err != nil {
		return err
	}
	if err := writePodFiles(plan, podIP, r.peerLines(pod.Namespace, plan.UID)); err != nil {
		return err
	}

	step = StepStart
	mark(step)
	// The first task brings up the pod's shared shim; the other tasks are
	// created together once it is there (concurrent first creates of one
	// shim group race over the shim's socket in containerd 1.6), then all
	// start at once. With a shim per container, all tasks are created at
	// once.
	// A container whose task cannot be created or started does not undo
	// the pod: as on a kubelet, the failure is the container's (StartError,
	// RunContainerError), and it is started again as its restartPolicy
	// says, with back-off, while the others run.
	tasks := make([]containerd.Task, len(plan.Containers))
	exits := make([]<-chan containerd.ExitStatus, len(plan.Containers))
	first := 0
	if !r.cfg.ShimPerContainer {
		// Until one task is there to hold the shim up.
		for first < len(plan.Containers) {
			tasks[first], exits[first], errs[first] = r.createTask(ctx, plan, created[first], &plan.Containers[first])
			first++
			if errs[first-1] == nil {
				break
			}
		}
	}
	for i := first; i < len(plan.Containers); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tasks[i], exits[i], errs[i] = r.createTask(ctx, plan, created[i], &plan.Containers[i])
		}()
	}
	wg.Wait()
	for i := range plan.Containers {
		if errs[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.startTask(ctx, ps, tasks[i], exits[i], &plan.Containers[i])
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// The creation was called off (the client went away): undone.
		return errors.Join(errs...)
	}
	for i := range plan.Containers {
		if errs[i] != nil && refusedStart(errs[i]) {
			return errs[i]
		}
	}
	for i := range plan.Containers {
		if errs[i] == nil {
			continue
		}
		cp := &plan.Containers[i]
		if tasks[i] != nil {
			if err := deleteTask(r.nsctx(ctx), created[i], tasks[i]); err != nil {
				return err
			}
		}
		if wait, ok := r.startFailed(ps, cp.Name, 0, cp.LogPath, errs[i]); ok {
			r.retryStart(ps, cp.Name, wait)
		}
	}
	if err := stepDone(step); err != nil {
		return err
	}

	ps.mu.Lock()
	ps.rec.State = StateRunning
	ps.mu.Unlock()
	step = StepRunning
	mark(step)
	if err := r.records.save(ps.rec); err != nil {
		return err
	}
	// Running: an interruption now has nothing left to stop.
	return failAt(step)
}

func attachment(plan *PodPlan, nsPath string) netns.Attachment {
	a := netns.Attachment{ID: plan.UID, NetNSPath: nsPath, IfName: plan.Sandbox.Interface, Args: plan.Sandbox.CNIArgs}
	for _, pm := range plan.Sandbox.PortMappings {
		a.PortMappings = append(a.PortMappings, netns.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP})
	}
	return a
}

// startContainer creates the task, waits on it before starting it (so no
// exit is missed) and starts it.
func (r *Runtime) startContainer(ctx context.Context, ps *podState, plan *PodPlan, c containerd.Container, cp *ContainerPlan) error {
	t, exitc, err := r.createTask(ctx, plan, c, cp)
	if err != nil {
		return err
	}
	return r.startTask(ctx, ps, t, exitc, cp)
}

// createTask creates the container's task (runc create, and the log
// driver) and waits on it before it starts, so that no exit is missed.
func (r *Runtime) createTask(ctx context.Context, plan *PodPlan, c containerd.Container, cp *ContainerPlan) (containerd.Task, <-chan containerd.ExitStatus, error) {
	t, err := r.newTask(ctx, plan, cp, c, cp.LogPath)
	if err != nil {
		return nil, nil, err
	}
	exitc, err := t.Wait(r.nsctx(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to wait on container %q: %w", cp.Name, err)
	}
	return t, exitc, nil
}

// startTask starts a created task and follows it: exits, hooks, probes.
func (r *Runtime) startTask(ctx context.Context, ps *podState, t containerd.Task, exitc <-chan containerd.ExitStatus, cp *ContainerPlan) error {
	if err := t.Start(r.nsctx(ctx)); err != nil {
		return fmt.Errorf("failed to start container %q: %w", cp.Name, err)
	}
	r.updateContainer(ps, cp.Name, func(cs *containerState) { cs.beginRun(0, cp.LogPath) })
	r.event(ps, corev1.EventTypeNormal, "Started", "Started container "+cp.Name, cp.Name)
	r.watch(ps, cp.Name, exitc)
	r.postStart(ps, cp.Name)
	r.startProbes(ps, cp.Name)
	return nil
}

// HostIP is the host's address the pod would see as status.hostIP (and
// the Node's InternalIP): the first non-loopback IPv4 address of the host.
// Runtime reads it once.
func HostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func nodeName() string {
	h, _ := os.Hostname()
	return h
}

// needsPodIP tells whether a container's environment holds the pod IP,
// which must then be known when the container is created.
func needsPodIP(plan *PodPlan) bool {
	for _, list := range [][]ContainerPlan{plan.Init, plan.Containers} {
		for _, c := range list {
			for _, e := range c.Env {
				if e.Deferred == "status.podIP" {
					return true
				}
			}
		}
	}
	return false
}
