package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/minipod/minipod/client"
)

type getOptions struct {
	resource      string
	names         []string
	output        string
	allNamespaces bool
	watch         bool
}

func newGetCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get (pods|configmaps|secrets) [NAME...]",
		Short: "List pods, ConfigMaps or Secrets",
		Example: `  minipod get pods
  minipod get pods -o wide -A
  minipod get pod web -o yaml
  minipod get configmaps`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeKindThenNames(g, []string{"pods", "configmaps", "secrets"}, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			resource, err := canonicalResource(args[0])
			if err != nil {
				return err
			}
			o.resource, o.names = resource, args[1:]
			return runGet(cmd.Context(), g.client(), g.namespace, o, s.out, s.errOut)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the objects of every namespace")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print a pod's row again each time it changes (pods only)")
	_ = cmd.RegisterFlagCompletionFunc("output", completeOutput(outputFormats))
	return cmd
}

// canonicalResource turns the resource names kubectl accepts into ours.
func canonicalResource(arg string) (string, error) {
	switch arg {
	case "pods", "pod", "po":
		return "pods", nil
	case "configmaps", "configmap", "cm":
		return "configmaps", nil
	case "secrets", "secret":
		return "secrets", nil
	}
	return "", fmt.Errorf("unknown resource type %q: minipod knows pods, configmaps (cm) and secrets", arg)
}

// runGet fetches the objects and prints them.
func runGet(ctx context.Context, c *client.Client, namespace string, o *getOptions, w, errW io.Writer) error {
	ns := namespace
	if o.allNamespaces {
		ns = ""
	}
	now := time.Now()
	single := len(o.names) == 1
	if o.watch {
		if o.resource != "pods" || (o.output != "" && o.output != "wide") {
			return fmt.Errorf("--watch works with pods and the table output")
		}
		return watchPods(ctx, c, ns, o, w)
	}
	switch o.resource {
	case "pods":
		pods, err := getPods(ctx, c, ns, o.names)
		if err != nil {
			return err
		}
		if o.output == "" || o.output == "wide" {
			if len(pods) == 0 {
				return noResources(errW, o.allNamespaces, namespace)
			}
			host, _ := os.Hostname()
			return printPodTable(w, pods, podTableOptions{wide: o.output == "wide", allNamespaces: o.allNamespaces, hostname: host, now: now})
		}
		objs, names := make([]any, len(pods)), make([]string, len(pods))
		for i := range pods {
			pods[i].TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
			objs[i], names[i] = &pods[i], pods[i].Name
		}
		return printObjects(w, o.output, "pod", objs, names, single)
	case "configmaps":
		var items []corev1.ConfigMap
		if len(o.names) == 0 {
			var err error
			if items, err = c.ListConfigMaps(ctx, ns); err != nil {
				return err
			}
		}
		for _, n := range o.names {
			cm, err := c.GetConfigMap(ctx, namespace, n)
			if err != nil {
				return err
			}
			items = append(items, *cm)
		}
		if o.output == "" || o.output == "wide" {
			if len(items) == 0 {
				return noResources(errW, o.allNamespaces, namespace)
			}
			return printDataTable(w, configMapRows(items), o.allNamespaces, now)
		}
		objs, names := make([]any, len(items)), make([]string, len(items))
		for i := range items {
			items[i].TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
			objs[i], names[i] = &items[i], items[i].Name
		}
		return printObjects(w, o.output, "configmap", objs, names, single)
	case "secrets":
		var items []corev1.Secret
		if len(o.names) == 0 {
			var err error
			if items, err = c.ListSecrets(ctx, ns); err != nil {
				return err
			}
		}
		for _, n := range o.names {
			s, err := c.GetSecret(ctx, namespace, n)
			if err != nil {
				return err
			}
			items = append(items, *s)
		}
		if o.output == "" || o.output == "wide" {
			if len(items) == 0 {
				return noResources(errW, o.allNamespaces, namespace)
			}
			return printDataTable(w, secretRows(items), o.allNamespaces, now)
		}
		objs, names := make([]any, len(items)), make([]string, len(items))
		for i := range items {
			items[i].TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
			objs[i], names[i] = &items[i], items[i].Name
		}
		return printObjects(w, o.output, "secret", objs, names, single)
	}
	return fmt.Errorf("unknown resource type %q", o.resource)
}

func getPods(ctx context.Context, c *client.Client, ns string, names []string) ([]corev1.Pod, error) {
	if len(names) == 0 {
		return c.ListPods(ctx, ns)
	}
	if ns == "" {
		ns = "default"
	}
	var pods []corev1.Pod
	for _, n := range names {
		p, err := c.GetPod(ctx, ns, n)
		if err != nil {
			return nil, err
		}
		pods = append(pods, *p)
	}
	return pods, nil
}

// noResources says that nothing was found, as kubectl does, on stderr.
func noResources(w io.Writer, all bool, ns string) error {
	if all {
		_, err := fmt.Fprintln(w, "No resources found")
		return err
	}
	_, err := fmt.Fprintf(w, "No resources found in %s namespace.\n", ns)
	return err
}

// watchPods prints the pod table, then a pod's row again whenever its
// READY, STATUS, RESTARTS or IP change, until ctx ends. The daemon's watch
// sends a pod when something about it has changed.
func watchPods(ctx context.Context, c *client.Client, ns string, o *getOptions, w io.Writer) error {
	host, _ := os.Hostname()
	wanted := func(name string) bool { return len(o.names) == 0 || slices.Contains(o.names, name) }
	if len(o.names) > 0 && ns == "" {
		ns = "default"
	}
	// Named pods must exist, as kubectl has them.
	for _, n := range o.names {
		if _, err := c.GetPod(ctx, ns, n); err != nil {
			return err
		}
	}
	last := map[string]string{}
	header := true
	return c.WatchPods(ctx, ns, func(typ watch.EventType, p *corev1.Pod) error {
		key := p.Namespace + "/" + p.Name
		if !wanted(p.Name) {
			return nil
		}
		if typ == watch.Deleted {
			delete(last, key)
			return nil
		}
		// Compared without the age, which changes by itself.
		var cmp bytes.Buffer
		_ = printPodTable(&cmp, []corev1.Pod{*p}, podTableOptions{wide: true, allNamespaces: true, hostname: host, now: p.CreationTimestamp.Time})
		if last[key] == cmp.String() {
			return nil
		}
		last[key] = cmp.String()
		var b bytes.Buffer
		if err := printPodTable(&b, []corev1.Pod{*p}, podTableOptions{wide: o.output == "wide", allNamespaces: o.allNamespaces, hostname: host, now: time.Now()}); err != nil {
			return err
		}
		out := b.String()
		if !header {
			// The header only once.
			if i := strings.IndexByte(out, '\n'); i >= 0 {
				out = out[i+1:]
			}
		}
		header = false
		_, err := fmt.Fprint(w, out)
		return err
	})
}
