// Package fakebackend is an in-memory api.Backend for the unit tests of the
// daemon's API, its client and the CLI: pods, ConfigMaps, Secrets and images
// kept in maps, a tiny shell for exec, and the change signal the daemon's
// watches wait on. It runs no container; the end-to-end tests drive the real
// runtime.
package fakebackend

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minipod/minipod/api"
)

// Backend is an in-memory api.Backend that also reports its changes
// (Changed) and updates pod metadata, as the daemon needs of a backend
// (daemon.Backend).
//
// The exported fields are set before the backend is served or between
// calls; the methods are safe for concurrent use.
type Backend struct {
	// LogLines feeds a followed log: each string is written as it arrives,
	// until the channel is closed. An unfollowed log is "static line\n".
	LogLines chan string
	// PullProgress is reported by PullImage before it returns PullErr or
	// the image.
	PullProgress []api.PullProgress
	PullErr      error
	// ExecFunc, when set, runs instead of the tiny shell of Exec.
	ExecFunc func(ctx context.Context, namespace, name string, opts api.ExecOptions, stdio api.ExecIO) (int, error)
	// LogsFunc, when set, writes a log instead of Logs.
	LogsFunc func(ctx context.Context, namespace, name string, opts api.LogOptions, w io.Writer) error

	mu         sync.Mutex
	pods       map[string]*corev1.Pod
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	images     []api.Image
	events     []corev1.Event
	// createErr, when set, is what CreatePod returns.
	createErr error
	// createOpts are the options of the last CreatePod.
	createOpts api.CreateOptions
	// deleted are the names of the pods deleted, in order.
	deleted []string
	// changed is closed (and replaced) at each change, for watches.
	changed chan struct{}
}

var _ api.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend {
	return &Backend{
		pods:       map[string]*corev1.Pod{},
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
	}
}

func key(ns, name string) string { return ns + "/" + name }

// Changed returns a channel closed at the next change.
func (f *Backend) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// wakeLocked wakes the watches; f.mu is held.
func (f *Backend) wakeLocked() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// Wake reports a change without changing anything.
func (f *Backend) Wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wakeLocked()
}

// AddPod stores a copy of pod as it is (no UID or status is added).
func (f *Backend) AddPod(pod *corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[key(pod.Namespace, pod.Name)] = pod.DeepCopy()
	f.wakeLocked()
}

// UpdatePod changes a stored pod with fn and reports the change.
func (f *Backend) UpdatePod(namespace, name string, fn func(*corev1.Pod)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.pods[key(namespace, name)]; ok {
		fn(p)
	}
	f.wakeLocked()
}

// SetEvents replaces the events ListEvents returns and reports the change.
func (f *Backend) SetEvents(events []corev1.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append([]corev1.Event(nil), events...)
	f.wakeLocked()
}

// SetCreateErr makes CreatePod fail with err (nil: succeed again).
func (f *Backend) SetCreateErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createErr = err
}

// LastCreateOptions returns the options of the last CreatePod.
func (f *Backend) LastCreateOptions() api.CreateOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createOpts
}

// Deleted returns the names of the pods DeletePod removed, in order.
func (f *Backend) Deleted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

// CreatePod stores the pod as Running with a UID and an IP.
func (f *Backend) CreatePod(ctx context.Context, pod *corev1.Pod, opts api.CreateOptions) (*corev1.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createOpts = opts
	if f.createErr != nil {
		return nil, f.createErr
	}
	k := key(pod.Namespace, pod.Name)
	if _, ok := f.pods[k]; ok {
		return nil, fmt.Errorf("failed to create pod %q: %w", pod.Name, errdefs.ErrAlreadyExists)
	}
	p := pod.DeepCopy()
	p.UID = types.UID("uid-" + pod.Name)
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = "10.233.0.2"
	f.pods[k] = p
	f.wakeLocked()
	return p.DeepCopy(), nil
}

func (f *Backend) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[key(ns, name)]
	if !ok {
		return nil, fmt.Errorf("failed to get pod %q: %w", name, errdefs.ErrNotFound)
	}
	return p.DeepCopy(), nil
}

// ListPods lists pods by name.
func (f *Backend) ListPods(ctx context.Context, ns string) ([]corev1.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.Pod
	for _, p := range f.pods {
		if ns == "" || p.Namespace == ns {
			out = append(out, *p.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Backend) DeletePod(ctx context.Context, ns, name string, opts api.DeleteOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(ns, name)
	if _, ok := f.pods[k]; !ok {
		return fmt.Errorf("failed to delete pod %q: %w", name, errdefs.ErrNotFound)
	}
	delete(f.pods, k)
	f.deleted = append(f.deleted, name)
	f.wakeLocked()
	return nil
}

func (f *Backend) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(cm.Namespace, cm.Name)
	if _, ok := f.configMaps[k]; ok {
		return nil, fmt.Errorf("failed to create configmap %q: %w", cm.Name, errdefs.ErrAlreadyExists)
	}
	f.configMaps[k] = cm.DeepCopy()
	f.wakeLocked()
	return cm.DeepCopy(), nil
}

// PutConfigMap stores cm, replacing one of its name, and reports the
// change.
func (f *Backend) PutConfigMap(cm *corev1.ConfigMap) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configMaps[key(cm.Namespace, cm.Name)] = cm.DeepCopy()
	f.wakeLocked()
}

func (f *Backend) GetConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cm, ok := f.configMaps[key(ns, name)]
	if !ok {
		return nil, errdefs.ErrNotFound
	}
	return cm.DeepCopy(), nil
}

// ListConfigMaps lists ConfigMaps by name.
func (f *Backend) ListConfigMaps(ctx context.Context, ns string) ([]corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.ConfigMap
	for _, cm := range f.configMaps {
		if ns == "" || cm.Namespace == ns {
			out = append(out, *cm.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Backend) DeleteConfigMap(ctx context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.configMaps[key(ns, name)]; !ok {
		return errdefs.ErrNotFound
	}
	delete(f.configMaps, key(ns, name))
	f.wakeLocked()
	return nil
}

func (f *Backend) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[key(s.Namespace, s.Name)] = s.DeepCopy()
	f.wakeLocked()
	return s.DeepCopy(), nil
}

func (f *Backend) GetSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[key(ns, name)]
	if !ok {
		return nil, errdefs.ErrNotFound
	}
	return s.DeepCopy(), nil
}

// ListSecrets lists Secrets by name.
func (f *Backend) ListSecrets(ctx context.Context, ns string) ([]corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.Secret
	for _, s := range f.secrets {
		if ns == "" || s.Namespace == ns {
			out = append(out, *s.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Backend) DeleteSecret(ctx context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.secrets[key(ns, name)]; !ok {
		return errdefs.ErrNotFound
	}
	delete(f.secrets, key(ns, name))
	f.wakeLocked()
	return nil
}

// ListEvents returns the events SetEvents gave, whatever the namespace and
// pod.
func (f *Backend) ListEvents(ctx context.Context, ns, pod string) ([]corev1.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]corev1.Event(nil), f.events...), nil
}

// Logs writes "static line\n", or with opts.Follow each of LogLines until
// it is closed; the container "missing" is not found. LogsFunc, when set,
// runs instead.
func (f *Backend) Logs(ctx context.Context, ns, name string, opts api.LogOptions, w io.Writer) error {
	if f.LogsFunc != nil {
		return f.LogsFunc(ctx, ns, name, opts, w)
	}
	if _, err := f.GetPod(ctx, ns, name); err != nil {
		return err
	}
	if opts.Container == "missing" {
		return fmt.Errorf("container %q is not in pod %q: %w", opts.Container, name, errdefs.ErrNotFound)
	}
	if !opts.Follow {
		_, err := io.WriteString(w, "static line\n")
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case line, ok := <-f.LogLines:
			if !ok {
				return nil
			}
			if _, err := io.WriteString(w, line); err != nil {
				return err
			}
		}
	}
}

// Exec runs a tiny shell: "echo ARGS" prints ARGS, "warn ARGS" prints to
// stderr, "cat" copies stdin, "exit N" returns N, "fail" fails as a
// stopped container does; commands are joined by ";" as separate
// arguments. ExecFunc, when set, runs instead.
func (f *Backend) Exec(ctx context.Context, ns, name string, opts api.ExecOptions, stdio api.ExecIO) (int, error) {
	if f.ExecFunc != nil {
		return f.ExecFunc(ctx, ns, name, opts, stdio)
	}
	if _, err := f.GetPod(ctx, ns, name); err != nil {
		return -1, err
	}
	code := 0
	var cmd []string
	run := func() error {
		if len(cmd) == 0 {
			return nil
		}
		switch cmd[0] {
		case "echo":
			fmt.Fprintln(stdio.Stdout, strings.Join(cmd[1:], " "))
		case "warn":
			fmt.Fprintln(stdio.Stderr, strings.Join(cmd[1:], " "))
		case "cat":
			if stdio.Stdin != nil {
				if _, err := io.Copy(stdio.Stdout, stdio.Stdin); err != nil {
					return err
				}
			}
		case "exit":
			fmt.Sscan(cmd[1], &code)
		case "fail":
			return fmt.Errorf("container %q is not running: %w", opts.Container, errdefs.ErrFailedPrecondition)
		}
		cmd = nil
		return nil
	}
	for _, a := range opts.Command {
		if a == ";" {
			if err := run(); err != nil {
				return -1, err
			}
			continue
		}
		cmd = append(cmd, a)
	}
	if err := run(); err != nil {
		return -1, err
	}
	return code, nil
}

func (f *Backend) PullImage(ctx context.Context, ref string, fn func(api.PullProgress)) (api.Image, error) {
	for _, p := range f.PullProgress {
		if fn != nil {
			fn(p)
		}
	}
	if f.PullErr != nil {
		return api.Image{}, f.PullErr
	}
	img := api.Image{Name: ref, Digest: "sha256:abc", Size: 42}
	f.mu.Lock()
	f.images = append(f.images, img)
	f.mu.Unlock()
	return img, nil
}

// LoadImage "imports" an image named loaded/<the archive's content>.
func (f *Backend) LoadImage(ctx context.Context, archive io.Reader) ([]api.Image, error) {
	data, err := io.ReadAll(archive)
	if err != nil {
		return nil, err
	}
	img := api.Image{Name: "loaded/" + string(data), Digest: "sha256:def", Size: int64(len(data))}
	f.mu.Lock()
	f.images = append(f.images, img)
	f.mu.Unlock()
	return []api.Image{img}, nil
}

func (f *Backend) ListImages(ctx context.Context) ([]api.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Image(nil), f.images...), nil
}

// ImageConfigs gives each present image the entrypoint /NAME.
func (f *Backend) ImageConfigs(ctx context.Context, refs []string) (map[string]*api.ImageConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*api.ImageConfig{}
	for _, ref := range refs {
		for _, img := range f.images {
			if img.Name == ref {
				out[ref] = &api.ImageConfig{Entrypoint: []string{"/" + ref}}
			}
		}
	}
	return out, nil
}

func (f *Backend) RemoveImage(ctx context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, img := range f.images {
		if img.Name == ref {
			f.images = append(f.images[:i], f.images[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
}

func (f *Backend) Containerd(ctx context.Context) (api.ContainerdInfo, error) {
	return api.ContainerdInfo{Address: "/run/minipod/containerd/containerd.sock", Embedded: true, Namespace: "minipod", Version: "1.6.20"}, nil
}

// GC finds nothing.
func (f *Backend) GC(ctx context.Context, dryRun bool) (*api.GCReport, error) {
	return &api.GCReport{DryRun: dryRun, Items: []api.GCItem{}}, nil
}

// HostView shows what the pod's status says; the host has nothing more.
func (f *Backend) HostView(ctx context.Context, ns, name string) (*api.HostView, error) {
	p, err := f.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &api.HostView{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Phase: string(p.Status.Phase), PodIP: p.Status.PodIP}, nil
}

// UpdatePodMetadata replaces a stored pod's labels, annotations and managed
// fields.
func (f *Backend) UpdatePodMetadata(ctx context.Context, ns, name string, labels, annotations map[string]string, managedFields []metav1.ManagedFieldsEntry) (*corev1.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[key(ns, name)]
	if !ok {
		return nil, fmt.Errorf("failed to update pod %q: %w", name, errdefs.ErrNotFound)
	}
	p.Labels, p.Annotations, p.ManagedFields = maps.Clone(labels), maps.Clone(annotations), managedFields
	f.wakeLocked()
	return p.DeepCopy(), nil
}
