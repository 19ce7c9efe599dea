package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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

// Apply steps, named in errors, in the daemon's debug timings and by the
// fault-injection hook (Config.Fault).
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
	// StepRunning ends once the record says Running: a crash there leaves a
	// complete pod to adopt.
	StepRunning = "running"

	// Entries that only hold the undo of what later steps make.
	stepPodCgroup  = "pod cgroup"
	stepContainers = "containers"
)

// podSteps is a pod's creation, in order: the kubelet's SyncPod and
// containerd's RunPodSandbox, written as data. Each entry is a method of
// podApply; podApply.step names, times and fault-injects it, and registers
// its undo before it runs (a CNI ADD may allocate an IP and still fail: its
// DEL must run all the same).
//
// A step's undo is also its teardown: a delete runs the undos of the whole
// list backwards, as a rollback runs those of the steps it reached, so the
// two release things in one order. Every undo is idempotent, from the plan
// and the pod's UID: it works on what is half made, gone, or left by a
// daemon that was killed.
//
// An entry without do only registers an undo, for what the steps after it
// make: the pod cgroup appears with the first container (or the pause) and
// goes after all of them; the containers go before anything they run on.
// An entry whose only says false is skipped, in apply and in teardown (a
// hostNetwork pod has no network namespace and no CNI). A background step
// starts its work and returns; a later entry of the same name waits for it,
// and the step ends (is timed, checked for interruption, fault-injected)
// there.
var podSteps = []podStep{
	{name: StepImages, do: (*podApply).ensureImages},
	{name: StepRecord, do: (*podApply).saveRecord, undo: (*podApply).removeRecord, teardown: StepTeardownRecord, last: true},
	{name: stepPodCgroup, undo: (*podApply).removePodCgroup},
	{name: StepNetNS, only: podNetwork, do: (*podApply).createNetNS, undo: (*podApply).removeNetNS, teardown: StepTeardownNetNS},
	{name: StepPodNamespaces, do: (*podApply).pinNamespaces, undo: (*podApply).unpinNamespaces, teardown: StepTeardownPodNS},
	{name: StepCNI, only: podNetwork, do: (*podApply).startCNIAdd, undo: (*podApply).cniDel, teardown: StepTeardownCNI, background: true},
	{name: StepVolumes, do: (*podApply).setupVolumes, undo: (*podApply).teardownVolumes, teardown: StepTeardownVolumes},
	{name: StepPodFiles, do: (*podApply).podFiles},
	// Init containers may use the network at once, and a container's
	// environment may hold the pod IP: then the IP is needed now.
	{name: StepCNI, only: (*podApply).ipNeededEarly, do: (*podApply).awaitPodIP},
	{name: stepContainers, undo: (*podApply).removeContainers, teardown: StepTeardownContainers},
	{name: StepInitContainers, do: (*podApply).runInitContainers},
	{name: StepCreate, do: (*podApply).createContainers},
	// The IP, and the pod's /etc/hosts with it, before anything runs.
	{name: StepCNI, only: (*podApply).cniPending, do: (*podApply).awaitPodIP},
	{name: StepStart, do: (*podApply).startContainers},
	{name: StepRunning, do: (*podApply).markRunning},
}

// podApply is one pod's creation, or its teardown: what the steps read and
// what they make, so that each step is a method without a long parameter
// list.
type podApply struct {
	r    *Runtime
	ps   *podState // the pod being created; nil in a teardown
	rec  *Record
	plan *PodPlan
	// caller is the creation's caller's context. Its end (a client gone,
	// its Ctrl-C) stops the creation where a step ends and rolls it back,
	// but never cuts a step short: a CNI plugin or a containerd call killed
	// half way leaves what no undo knows of. The steps run on a context
	// without its cancellation; only the waiting (image pulls, init
	// containers, which may be long) ends with it.
	caller     context.Context
	cms        []*corev1.ConfigMap
	secrets    []*corev1.Secret
	justPulled map[string]bool // normalized names of the images the caller has just pulled

	images  map[string]containerd.Image
	podIP   string
	created []containerd.Container // the app containers, as plan.Containers

	// The CNI ADD in flight: cniDone is closed when it ends.
	cniDone    chan struct{}
	cniResult  *netns.Result
	cniErr     error
	cniAwaited bool

	// current is the step under way, named in the error of a failure.
	current string
	undo    undoStack

	// In a teardown: how long the containers get to stop, and the listed
	// pod whose preStop hooks run and whose Killing events are recorded
	// (nil in a rollback, and for a pod found at start-up).
	grace   time.Duration
	killing *podState
}

// apply runs podSteps for the pod; a failure undoes, in reverse, the steps
// it reached.
func (r *Runtime) apply(ctx context.Context, ps *podState, cms []*corev1.ConfigMap, secrets []*corev1.Secret, justPulled map[string]bool) error {
	a := &podApply{
		r: r, ps: ps, rec: ps.rec,
		caller: ctx, cms: cms, secrets: secrets, justPulled: justPulled,
		images: map[string]containerd.Image{},
	}
	ctx = context.WithoutCancel(ctx)
	for _, s := range podSteps {
		if err := a.step(ctx, s); err != nil {
			return a.rollback(ctx, err)
		}
	}
	return nil
}

// podNetwork tells whether the pod has a network of its own. With
// hostNetwork it is in the host's network namespace: no namespace of its
// own, no CNI, the host's address.
func podNetwork(a *podApply) bool { return !a.plan.Sandbox.HostNetwork }

// ensureImages makes the pod's images present (pulled as imagePullPolicy
// says) before anything is created, and plans the pod with their
// configurations.
func (a *podApply) ensureImages(ctx context.Context) error {
	r, ps, pod := a.r, a.ps, a.rec.Pod
	configs := map[string]*ImageConfig{}
	for _, c := range allContainers(pod) {
		if _, ok := a.images[c.Image]; ok {
			continue
		}
		// A pull may take long and is safe to cut short: what it fetched
		// so far is the lease's alone.
		img, pulled, err := r.ensureImage(a.caller, c.Image, c.ImagePullPolicy, a.justPulled)
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
		a.images[c.Image], configs[c.Image] = img, cfg
	}
	plan, err := r.plan(pod, configs, a.cms, a.secrets)
	if err != nil {
		return err
	}
	a.plan = plan
	return nil
}

// saveRecord saves the pod's record, with its plan, before any host
// resource exists.
func (a *podApply) saveRecord(ctx context.Context) error {
	a.ps.mu.Lock()
	a.rec.Plan = a.plan
	if !podNetwork(a) {
		a.podIP = a.r.hostIP
		a.rec.PodIP = a.podIP
	}
	a.ps.mu.Unlock()
	return a.r.records.save(a.rec)
}

// removeRecord removes the pod's logs, then its record and directory.
func (a *podApply) removeRecord(ctx context.Context) error {
	var logs error
	if a.plan != nil {
		logs = os.RemoveAll(a.plan.LogDir)
	}
	return errors.Join(logs, a.r.records.remove(string(a.rec.Pod.UID)))
}

// removePodCgroup removes the pod-level cgroup. It runs after every
// container's undo and the pause's: a shim that exits with the pod's last
// task can still touch it for a moment.
func (a *podApply) removePodCgroup(ctx context.Context) error {
	return removePodCgroup(string(a.rec.Pod.UID))
}

// createNetNS creates and pins the pod's network namespace, loopback up.
func (a *podApply) createNetNS(ctx context.Context) error {
	_, err := netns.NewIn(a.r.cfg.NetNSDir, a.plan.Sandbox.NetNSName)
	return err
}

// loadNetNS finds the pod's network namespace; NotFound when it is gone.
func (a *podApply) loadNetNS() (*netns.NetNS, error) {
	return netns.LoadIn(filepath.Dir(a.plan.Sandbox.NetNSPath), a.plan.Sandbox.NetNSName)
}

func (a *podApply) removeNetNS(ctx context.Context) error {
	ns, err := a.loadNetNS()
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return ns.Remove()
}

// pinNamespaces creates the pod's IPC and UTS namespaces, and with
// shareProcessNamespace its PID namespace, held by the pause.
func (a *podApply) pinNamespaces(ctx context.Context) error {
	plan := a.plan
	if err := pinPodNamespaces(plan.Sandbox.NamespaceDir, plan.Sandbox.Hostname); err != nil {
		return err
	}
	if plan.Sandbox.SharePID {
		// The pause lives in the pod's cgroup, in a child of its own as the
		// kubelet's pause container does (cgroup v2 keeps processes out of
		// a cgroup whose children have controllers).
		if err := a.r.ensurePodCgroup(plan); err != nil {
			return err
		}
		if err := startPause(plan.Sandbox.NamespaceDir, a.r.cfg.LogBinary, podCgroupDirs(plan.UID)); err != nil {
			return err
		}
	}
	return nil
}

// unpinNamespaces stops the pause, if any, and removes the pinned IPC, UTS
// and PID namespaces.
func (a *podApply) unpinNamespaces(ctx context.Context) error {
	return unpinPodNamespaces(a.plan.Sandbox.NamespaceDir)
}

// startCNIAdd starts the CNI ADD in the background: volumes and pod files
// are made and containers created meanwhile (they join the namespace,
// which exists; the interface arrives in it when ADD is done). awaitPodIP
// waits for it where the IP is needed.
func (a *podApply) startCNIAdd(ctx context.Context) error {
	att := attachment(a.plan, a.plan.Sandbox.NetNSPath)
	a.cniDone = make(chan struct{})
	go func() {
		defer close(a.cniDone)
		a.cniResult, a.cniErr = a.r.network.Setup(ctx, att)
	}()
	return nil
}

// cniDel runs CNI DEL once an ADD in flight has ended, with an empty
// namespace path when the namespace is gone, so that the IP is freed all
// the same.
func (a *podApply) cniDel(ctx context.Context) error {
	if a.cniDone != nil {
		<-a.cniDone
	}
	nsPath := a.plan.Sandbox.NetNSPath
	if _, err := a.loadNetNS(); errdefs.IsNotFound(err) {
		nsPath = ""
	}
	return a.r.network.Remove(ctx, attachment(a.plan, nsPath))
}

// ipNeededEarly tells whether the pod IP is needed before the init
// containers run.
func (a *podApply) ipNeededEarly() bool {
	return podNetwork(a) && (len(a.plan.Init) > 0 || needsPodIP(a.plan))
}

// cniPending tells whether the CNI ADD has not been waited for yet.
func (a *podApply) cniPending() bool { return podNetwork(a) && !a.cniAwaited }

// awaitPodIP waits for the CNI ADD, records the pod IP and writes the pod
// files again with it.
func (a *podApply) awaitPodIP(ctx context.Context) error {
	<-a.cniDone
	a.cniAwaited = true
	if a.cniErr != nil {
		return a.cniErr
	}
	a.podIP = a.cniResult.IP.String()
	a.ps.mu.Lock()
	a.rec.PodIP = a.podIP
	a.ps.mu.Unlock()
	if err := a.r.records.save(a.rec); err != nil {
		return err
	}
	return a.podFiles(ctx)
}

// setupVolumes materializes the pod's volumes.
func (a *podApply) setupVolumes(ctx context.Context) error {
	for _, vp := range a.plan.Volumes {
		v := toVolume(vp)
		if err := volumes.Setup(ctx, v); err != nil {
			return err
		}
		if a.plan.FSGroup != nil && vp.Kind != "hostPath" {
			if err := applyFSGroup(v.Path, *a.plan.FSGroup); err != nil {
				return err
			}
		}
	}
	return nil
}

// teardownVolumes tears the pod's volumes down, last first; one never set
// up is no error.
func (a *podApply) teardownVolumes(ctx context.Context) error {
	var errs []error
	for i := len(a.plan.Volumes) - 1; i >= 0; i-- {
		errs = append(errs, volumes.Teardown(ctx, toVolume(a.plan.Volumes[i])))
	}
	return errors.Join(errs...)
}

// podFiles writes the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, with the pod IP as far as it is known.
func (a *podApply) podFiles(ctx context.Context) error {
	return writePodFiles(a.plan, a.podIP, a.r.peerLines(a.rec.Pod.Namespace, a.plan.UID))
}

// removeContainers stops and removes every container of the pod (found by
// its UID: init and app containers, and any that a killed daemon left out
// of its record) in waves, as stopContainers does, and the snapshot of any
// container of the plan whose creation stopped short of the container.
// When the containers cannot be listed, some may still run: nothing they
// run on may go, and the undos end here.
func (a *podApply) removeContainers(ctx context.Context) error {
	uid := string(a.rec.Pod.UID)
	ids, err := a.r.podContainerIDs(ctx, uid)
	if err != nil {
		return haltError{err}
	}
	errs := []error{a.r.stopContainers(ctx, a.rec, ids, a.grace, a.killing)}
	if a.plan != nil {
		for _, list := range [][]ContainerPlan{a.plan.Init, a.plan.Containers} {
			for _, cp := range list {
				if id := containerID(uid, cp.Name); !slices.Contains(ids, id) {
					errs = append(errs, a.r.removeContainer(ctx, id, "", 0))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// runInitContainers runs the init containers one at a time, each to exit 0
// (a native sidecar until it has started).
func (a *podApply) runInitContainers(ctx context.Context) error {
	for i := range a.plan.Init {
		if err := a.runInit(a.caller, &a.plan.Init[i]); err != nil {
			return err
		}
	}
	return nil
}

// createContainers creates the app containers, all at once.
func (a *podApply) createContainers(ctx context.Context) error {
	r, ps, plan := a.r, a.ps, a.plan
	a.created = make([]containerd.Container, len(plan.Containers))
	errs := make([]error, len(plan.Containers))
	var wg sync.WaitGroup
	for i := range plan.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.created[i], errs[i] = r.createContainer(ctx, a, &plan.Containers[i])
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
		img := a.images[cp.Image]
		ps.rec.Containers[cp.Name] = a.created[i].ID()
		r.addContainer(ps, cp.Name, &containerState{ID: a.created[i].ID(), Image: img.Name(), ImageID: img.Target().Digest.String()})
	}
	ps.mu.Unlock()
	return r.records.save(ps.rec)
}

// startContainers starts the app containers. The first task brings up the
// pod's shared shim; the other tasks are created together once it is there
// (concurrent first creates of one shim group race over the shim's socket
// in containerd 1.6), then all start at once. With a shim per container,
// all tasks are created at once.
//
// A container whose task cannot be created or started does not undo the
// pod: as on a kubelet, the failure is the container's (StartError,
// RunContainerError), and it is started again as its restartPolicy says,
// with back-off, while the others run.
func (a *podApply) startContainers(ctx context.Context) error {
	r, ps, plan, created := a.r, a.ps, a.plan, a.created
	tasks := make([]containerd.Task, len(plan.Containers))
	exits := make([]<-chan containerd.ExitStatus, len(plan.Containers))
	errs := make([]error, len(plan.Containers))
	var wg sync.WaitGroup
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
	return nil
}

// markRunning saves the record as Running: from here the pod is adopted
// after a crash, not torn down.
func (a *podApply) markRunning(ctx context.Context) error {
	a.ps.mu.Lock()
	a.rec.State = StateRunning
	a.ps.mu.Unlock()
	return a.r.records.save(a.rec)
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
