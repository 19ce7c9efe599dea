package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/plan"
	"github.com/minipod/minipod/runtime"
)

type runOptions struct {
	file    string
	dryRun  bool
	output  string
	detach  bool
	timeout time.Duration
}

func newRunCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Create and start the pods of a manifest (and its ConfigMaps and Secrets)",
		Long: `Create the ConfigMaps and Secrets of FILE ("-" for stdin), pull the images
its pods need (per imagePullPolicy), create the pods and wait until they run.
A pod with a container that cannot start (an image that cannot be pulled, a
command that does not exist) is kept, as a kubelet keeps it, and retried with
back-off: run exits non-zero saying why and what to try.

With --dry-run, print what would be created on the host for each pod,
without a daemon and without root.`,
		Example: `  minipod run examples/sidecar/pod.yaml
  minipod run --dry-run pod.yaml
  cat pod.yaml | minipod run -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runFile(cmd.Context(), g, o, s)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan of each pod instead of running it")
	f.StringVarP(&o.output, "output", "o", "text", "format of --dry-run: text or json")
	f.BoolVarP(&o.detach, "detach", "d", false, "return once the daemon has the pods, without waiting for them to run")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

// runFile reads the manifest, then plans it (--dry-run) or runs it.
func runFile(ctx context.Context, g *globalOptions, o *runOptions, s ioStreams) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("unknown output format %q: want text or json", o.output)
	}
	existing := existingObjects(ctx, g)
	f, err := manifest.ReadFileWith(o.file, s.in, existing)
	if err != nil {
		return err
	}
	for _, w := range f.Warnings {
		fmt.Fprintln(s.errOut, "Warning: "+w)
	}
	if o.dryRun {
		return printPlans(s.out, f, o.output, runningPods(ctx, g.client()), existing, imageConfigs(ctx, g.client(), f))
	}
	for _, pod := range f.Pods {
		if pod.Namespace == "" {
			pod.Namespace = g.namespace
		}
	}
	for _, cm := range f.ConfigMaps {
		if cm.Namespace == "" {
			cm.Namespace = g.namespace
		}
	}
	for _, sec := range f.Secrets {
		if sec.Namespace == "" {
			sec.Namespace = g.namespace
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	results, err := runPods(ctx, g.client(), f, o.detach, newProgress(s.errOut, isTerminal(s.errOut)))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("gave up after --timeout %s: %w", o.timeout, err)
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted: the daemon finishes the step under way, then rolls the pod back (a pod already Running stays); see \"minipod get pods\": %w", err)
		}
		return err
	}
	if err := printRunResults(s.out, results); err != nil {
		return err
	}
	for _, r := range results {
		if r.err != nil {
			return silentExit(1)
		}
	}
	return nil
}

// existingObjects lists the ConfigMaps and Secrets the daemon holds, to
// which the file's pods may refer as pods on a cluster refer to objects
// created beforehand. When the daemon does not answer at once, the file's
// own objects are all there is, and a reference to another one says why.
func existingObjects(ctx context.Context, g *globalOptions) *manifest.Existing {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := g.client()
	cms, err := c.ListConfigMaps(ctx, "")
	var secrets []corev1.Secret
	if err == nil {
		secrets, err = c.ListSecrets(ctx, "")
	}
	if err != nil {
		where := "at " + g.socket
		if g.server != "" {
			where = "at " + g.server
		}
		return &manifest.Existing{Unasked: "no daemon answered " + where + " to look for it there"}
	}
	e := &manifest.Existing{}
	for i := range cms {
		e.ConfigMaps = append(e.ConfigMaps, &cms[i])
	}
	for i := range secrets {
		e.Secrets = append(e.Secrets, &secrets[i])
	}
	return e
}

// runningPods lists the daemon's running pods, for the /etc/hosts of a
// dry run; nil when the daemon does not answer at once (a dry run does not
// need it).
func runningPods(ctx context.Context, c *client.Client) []corev1.Pod {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pods, err := c.ListPods(ctx, "")
	if err != nil {
		return nil
	}
	if pods == nil {
		pods = []corev1.Pod{}
	}
	return pods
}

// imageConfigs asks the daemon for the configs of the images f's pods
// name, for a dry run; nil when the daemon does not answer at once.
func imageConfigs(ctx context.Context, c *client.Client, f *manifest.File) map[string]*plan.ImageConfig {
	var refs []string
	seen := map[string]bool{}
	for _, pod := range f.Pods {
		for _, ctr := range plan.AllContainers(pod) {
			if !seen[ctr.Image] {
				seen[ctr.Image] = true
				refs = append(refs, ctr.Image)
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	configs, err := c.ImageConfigs(ctx, refs)
	if err != nil {
		return nil
	}
	if configs == nil {
		configs = map[string]*plan.ImageConfig{}
	}
	return configs
}

// printPlans writes the plan of every pod of f, as text or as a JSON array.
// running are the daemon's pods (nil if it did not answer): the text shows
// the /etc/hosts lines they give each pod. The pods may read the existing
// ConfigMaps and Secrets, and the file's, which come first. images are the
// configs of the images the daemon has (nil if it did not answer).
func printPlans(w io.Writer, f *manifest.File, format string, running []corev1.Pod, existing *manifest.Existing, images map[string]*plan.ImageConfig) error {
	resolv, err := runtime.HostResolvConf()
	if err != nil {
		return err
	}
	opts := plan.Options{
		StateRoot:      plan.DefaultStateRoot,
		Network:        plan.DefaultNetwork,
		ConfigMaps:     append(slices.Clone(existing.ConfigMaps), f.ConfigMaps...),
		Secrets:        append(slices.Clone(existing.Secrets), f.Secrets...),
		HostResolvConf: resolv,
		Images:         images,
	}
	plans := make([]*plan.Plan, 0, len(f.Pods))
	for _, pod := range f.Pods {
		p, err := plan.Pod(pod, opts)
		if err != nil {
			return fmt.Errorf("failed to plan pod %q: %w", pod.Name, err)
		}
		plans = append(plans, p)
	}
	if format == "json" {
		if err := writeJSON(w, plans, "  "); err != nil {
			return fmt.Errorf("failed to print the plans as JSON: %w", err)
		}
		return nil
	}
	for i, pp := range plans {
		if i > 0 {
			fmt.Fprintln(w)
		}
		opts := plan.TextOptions{PeersKnown: running != nil, ImagesKnown: images != nil}
		for _, p := range running {
			if p.Namespace == pp.Namespace && p.Name != pp.Name && p.Status.PodIP != "" &&
				p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				opts.Peers = append(opts.Peers, plan.Peer{Name: p.Name, IP: p.Status.PodIP})
			}
		}
		if err := pp.WriteTextWith(w, opts); err != nil {
			return fmt.Errorf("failed to print the plan of pod %q: %w", f.Pods[i].Name, err)
		}
	}
	return nil
}

// runResult is how one pod of a run ended.
type runResult struct {
	name string
	pod  *corev1.Pod // as the daemon returned it
	err  error
}

// runPods creates f's ConfigMaps and Secrets, pulls the images its pods
// need, then creates the pods concurrently. An error is returned for what
// stops the whole run; a pod's own failure is in its result.
func runPods(ctx context.Context, c *client.Client, f *manifest.File, detach bool, p *progress) ([]runResult, error) {
	for _, cm := range f.ConfigMaps {
		if err := ensureConfigMap(ctx, c, cm); err != nil {
			return nil, err
		}
	}
	for _, sec := range f.Secrets {
		if err := ensureSecret(ctx, c, sec); err != nil {
			return nil, err
		}
	}

	results := make([]runResult, len(f.Pods))
	for i, pod := range f.Pods {
		results[i].name = pod.Name
	}
	var present []api.Image
	if needsImageList(f.Pods) {
		var err error
		if present, err = c.ListImages(ctx); err != nil {
			return nil, err
		}
	}
	// The pulls come first, to show their progress; the daemon is told
	// which images were pulled for each pod, so that it does not pull an
	// Always image a second time.
	var pulled []string
	for _, ref := range imagesToPull(f.Pods, present) {
		_, err := c.PullImage(ctx, ref, p.Pull)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The pods are created all the same: the daemon keeps them,
			// waiting for the image (ErrImagePull, ImagePullBackOff).
			p.Done(fmt.Sprintf("failed to pull %s: %v", ref, err))
			continue
		}
		pulled = append(pulled, ref)
		p.Done("pulled " + ref)
	}

	w := newWaiter(c, p)
	var wg sync.WaitGroup
	for i, pod := range f.Pods {
		if results[i].err != nil {
			continue
		}
		w.add(pod)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var created *corev1.Pod
			var err error
			opts := api.CreateOptions{PulledImages: podImages(pod, pulled)}
			if detach {
				created, err = c.SubmitPod(ctx, pod, opts)
			} else if created, err = c.CreatePod(ctx, pod, opts); err == nil {
				// Created, and kept: a container that cannot start is
				// retried by the daemon, and shown here with what to try.
				err = cannotStart(created)
			}
			results[i].pod, results[i].err = created, err
			w.done(pod.Name)
		}()
	}
	stop := w.start(ctx)
	wg.Wait()
	stop()
	p.Clear()
	return results, nil
}

// ensureConfigMap creates cm, or accepts a stored one with the same data.
func ensureConfigMap(ctx context.Context, c *client.Client, cm *corev1.ConfigMap) error {
	_, err := c.CreateConfigMap(ctx, cm)
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		return err
	}
	stored, gerr := c.GetConfigMap(ctx, cm.Namespace, cm.Name)
	if gerr == nil && maps.Equal(stored.Data, cm.Data) && len(stored.BinaryData) == len(cm.BinaryData) {
		return nil
	}
	return fmt.Errorf("configmap %q already exists with other data: delete it first (minipod delete configmap %s)", cm.Name, cm.Name)
}

// ensureSecret creates s, or accepts a stored one with the same data.
func ensureSecret(ctx context.Context, c *client.Client, s *corev1.Secret) error {
	_, err := c.CreateSecret(ctx, s)
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		return err
	}
	stored, gerr := c.GetSecret(ctx, s.Namespace, s.Name)
	if gerr == nil && secretDataEqual(stored, s) {
		return nil
	}
	return fmt.Errorf("secret %q already exists with other data: delete it first (minipod delete secret %s)", s.Name, s.Name)
}

func secretDataEqual(a, b *corev1.Secret) bool {
	flat := func(s *corev1.Secret) map[string]string {
		m := map[string]string{}
		for k, v := range s.Data {
			m[k] = string(v)
		}
		for k, v := range s.StringData {
			m[k] = v
		}
		return m
	}
	return maps.Equal(flat(a), flat(b))
}

// waiter shows, while pods are being created, what each one is at.
type waiter struct {
	c  *client.Client
	p  *progress
	mu sync.Mutex
	// status of each pod still waited for, by name; order is the pods' order.
	status map[string]string
	order  []string
	ns     map[string]string
}

func newWaiter(c *client.Client, p *progress) *waiter {
	return &waiter{c: c, p: p, status: map[string]string{}, ns: map[string]string{}}
}

func (w *waiter) add(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status[pod.Name] = "Pending"
	w.ns[pod.Name] = pod.Namespace
	w.order = append(w.order, pod.Name)
}

func (w *waiter) done(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.status, name)
}

func (w *waiter) line() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names, statuses []string
	for _, n := range w.order {
		if st, ok := w.status[n]; ok {
			names, statuses = append(names, n), append(statuses, st)
		}
	}
	return waitingLine(names, statuses)
}

// start turns the spinner and follows the pods' status through the
// daemon's watch (on a terminal only) until the returned stop is called.
func (w *waiter) start(ctx context.Context) (stop func()) {
	if !w.p.tty {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	w.mu.Lock()
	namespaces := map[string]bool{}
	for _, ns := range w.ns {
		namespaces[ns] = true
	}
	w.mu.Unlock()
	for ns := range namespaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The spinner goes on without the status if the watch fails.
			_ = w.c.WatchPods(ctx, ns, func(_ watch.EventType, pod *corev1.Pod) error {
				st := summarizePod(pod, time.Now()).Status
				w.mu.Lock()
				if _, ok := w.status[pod.Name]; ok && w.ns[pod.Name] == pod.Namespace {
					w.status[pod.Name] = st
				}
				w.mu.Unlock()
				return nil
			})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		spin := time.NewTicker(150 * time.Millisecond)
		defer spin.Stop()
		for {
			if l := w.line(); l != "" {
				w.p.Spin(l)
			}
			select {
			case <-ctx.Done():
				return
			case <-spin.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// waitingLine is the spinner's text: "waiting for pod web: ContainerCreating"
// or "waiting for pods web (ContainerCreating), db (Pending)".
func waitingLine(names, statuses []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("waiting for pod %s: %s", names[0], statuses[0])
	}
	parts := make([]string, len(names))
	for i := range names {
		parts[i] = fmt.Sprintf("%s (%s)", names[i], statuses[i])
	}
	return "waiting for pods " + strings.Join(parts, ", ")
}

// printRunResults writes NAME STATUS IP for each pod, then the error of
// each pod that failed.
func printRunResults(w io.Writer, results []runResult) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tIP")
	for _, r := range results {
		status, ip := "Failed", "<none>"
		if r.pod != nil {
			status = summarizePod(r.pod, time.Now()).Status
			ip = orNone(podIP(r.pod))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, status, ip)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		var sf *startFailure
		if errors.As(r.err, &sf) {
			// The pod is kept: its failures, then what to try.
			for _, line := range sf.lines {
				if !strings.HasPrefix(line, " ") {
					line = fmt.Sprintf("pod %q: %s", r.name, line)
				}
				fmt.Fprintln(w, line)
			}
			continue
		}
		if r.err != nil {
			for _, line := range errorLines(r.err) {
				fmt.Fprintf(w, "pod %q: %s\n", r.name, strings.TrimPrefix(line, "error: "))
			}
		}
	}
	return nil
}
