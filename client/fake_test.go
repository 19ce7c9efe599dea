package client_test

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minipod/minipod/daemon"
	"github.com/minipod/minipod/runtime"
)

// fakeBackend is an in-memory daemon.Backend.
type fakeBackend struct {
	mu         sync.Mutex
	pods       map[string]*corev1.Pod
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	images     []runtime.Image

	// createErr, when set, is what CreatePod returns.
	createErr error
	// createOpts are the options of the last CreatePod.
	createOpts runtime.CreateOptions
	// events are what ListEvents returns.
	events []corev1.Event
	// changed is closed (and replaced) at each change, for watches.
	changed chan struct{}
	// logLines feeds a followed log: each string is written as it arrives,
	// until the channel is closed.
	logLines chan string
	// pullProgress is reported by PullImage before it returns pullErr or
	// the image.
	pullProgress []runtime.PullProgress
	pullErr      error
}

var (
	_ daemon.Backend  = (*fakeBackend)(nil)
	_ daemon.Notifier = (*fakeBackend)(nil)
)

func (f *fakeBackend) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// change runs fn under the fake's lock and wakes the watches.
func (f *fakeBackend) change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	f.wakeLocked()
}

// wakeLocked wakes the watches; f.mu is held.
func (f *fakeBackend) wakeLocked() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		pods:       map[string]*corev1.Pod{},
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
	}
}

func key(ns, name string) string { return ns + "/" + name }

func (f *fakeBackend) CreatePod(ctx context.Context, pod *corev1.Pod, opts runtime.CreateOptions) (*corev1.Pod, error) {
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

func (f *fakeBackend) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[key(ns, name)]
	if !ok {
		return nil, fmt.Errorf("failed to get pod %q: %w", name, errdefs.ErrNotFound)
	}
	return p.DeepCopy(), nil
}

func (f *fakeBackend) ListPods(ctx context.Context, ns string) ([]corev1.Pod, error) {
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

func (f *fakeBackend) DeletePod(ctx context.Context, ns, name string, opts runtime.DeleteOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(ns, name)
	if _, ok := f.pods[k]; !ok {
		return fmt.Errorf("failed to delete pod %q: %w", name, errdefs.ErrNotFound)
	}
	delete(f.pods, k)
	f.wakeLocked()
	return nil
}

func (f *fakeBackend) CreateConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(cm.Namespace, cm.Name)
	if _, ok := f.configMaps[k]; ok {
		return nil, fmt.Errorf("failed to create configmap %q: %w", cm.Name, errdefs.ErrAlreadyExists)
	}
	f.configMaps[k] = cm.DeepCopy()
	return cm.DeepCopy(), nil
}

func (f *fakeBackend) GetConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cm, ok := f.configMaps[key(ns, name)]
	if !ok {
		return nil, errdefs.ErrNotFound
	}
	return cm.DeepCopy(), nil
}

func (f *fakeBackend) ListConfigMaps(ctx context.Context, ns string) ([]corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.ConfigMap
	for _, cm := range f.configMaps {
		if ns == "" || cm.Namespace == ns {
			out = append(out, *cm.DeepCopy())
		}
	}
	return out, nil
}

func (f *fakeBackend) DeleteConfigMap(ctx context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.configMaps[key(ns, name)]; !ok {
		return errdefs.ErrNotFound
	}
	delete(f.configMaps, key(ns, name))
	return nil
}

func (f *fakeBackend) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[key(s.Namespace, s.Name)] = s.DeepCopy()
	return s.DeepCopy(), nil
}

func (f *fakeBackend) GetSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[key(ns, name)]
	if !ok {
		return nil, errdefs.ErrNotFound
	}
	return s.DeepCopy(), nil
}

func (f *fakeBackend) ListSecrets(ctx context.Context, ns string) ([]corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.Secret
	for _, s := range f.secrets {
		if ns == "" || s.Namespace == ns {
			out = append(out, *s.DeepCopy())
		}
	}
	return out, nil
}

func (f *fakeBackend) DeleteSecret(ctx context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.secrets[key(ns, name)]; !ok {
		return errdefs.ErrNotFound
	}
	delete(f.secrets, key(ns, name))
	return nil
}

func (f *fakeBackend) Logs(ctx context.Context, ns, name string, opts runtime.LogOptions, w io.Writer) error {
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
		case line, ok := <-f.logLines:
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
// stderr, "cat" copies stdin, "exit N" returns N; commands are joined by
// ";" as separate arguments.
func (f *fakeBackend) Exec(ctx context.Context, ns, name string, opts runtime.ExecOptions, stdio runtime.ExecIO) (int, error) {
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

func (f *fakeBackend) PullImage(ctx context.Context, ref string, fn func(runtime.PullProgress)) (runtime.Image, error) {
	for _, p := range f.pullProgress {
		if fn != nil {
			fn(p)
		}
	}
	if f.pullErr != nil {
		return runtime.Image{}, f.pullErr
	}
	img := runtime.Image{Name: ref, Digest: "sha256:abc", Size: 42}
	f.mu.Lock()
	f.images = append(f.images, img)
	f.mu.Unlock()
	return img, nil
}

func (f *fakeBackend) LoadImage(ctx context.Context, archive io.Reader) ([]runtime.Image, error) {
	data, err := io.ReadAll(archive)
	if err != nil {
		return nil, err
	}
	img := runtime.Image{Name: "loaded/" + string(data), Digest: "sha256:def", Size: int64(len(data))}
	f.mu.Lock()
	f.images = append(f.images, img)
	f.mu.Unlock()
	return []runtime.Image{img}, nil
}

func (f *fakeBackend) ListImages(ctx context.Context) ([]runtime.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.Image(nil), f.images...), nil
}

// ImageConfigs gives each present image the entrypoint /NAME.
func (f *fakeBackend) ImageConfigs(ctx context.Context, refs []string) (map[string]*runtime.ImageConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*runtime.ImageConfig{}
	for _, ref := range refs {
		for _, img := range f.images {
			if img.Name == ref {
				out[ref] = &runtime.ImageConfig{Entrypoint: []string{"/" + ref}}
			}
		}
	}
	return out, nil
}

func (f *fakeBackend) RemoveImage(ctx context.Context, ref string) error {
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

func (f *fakeBackend) Containerd(ctx context.Context) (runtime.ContainerdInfo, error) {
	return runtime.ContainerdInfo{Address: "/run/minipod/containerd/containerd.sock", Embedded: true, Namespace: "minipod", Version: "1.6.20"}, nil
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36", Command: []string{"sleep", "3600"},
		}}},
	}
}

func (f *fakeBackend) ListEvents(ctx context.Context, ns, pod string) ([]corev1.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]corev1.Event(nil), f.events...), nil
}
