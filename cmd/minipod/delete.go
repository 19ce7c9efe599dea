package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
	"github.com/minipod/minipod/manifest"
)

type deleteOptions struct {
	file           string
	gracePeriod    int64
	now            bool
	ignoreNotFound bool
}

func newDeleteCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete (pod|configmap|secret) NAME... | -f FILE",
		Short: "Delete pods (stopping their containers), ConfigMaps or Secrets",
		Example: `  minipod delete pod web
  minipod delete -f pod.yaml        # its pods, then its ConfigMaps and Secrets
  minipod delete pod web --now
  minipod delete -f pod.yaml --ignore-not-found   # some of its pods are gone already`,
		ValidArgsFunction: completeKindThenNames(g, []string{"pod", "configmap", "secret"}, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := deleteTargets(o.file, s.in, args, g.namespace)
			if err != nil {
				return err
			}
			return runDelete(cmd.Context(), g.client(), targets, o.options(), o.ignoreNotFound, s.out, s.errOut)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "filename", "f", "", "delete the objects of this manifest (\"-\" for stdin)")
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "seconds a pod's containers get to stop after SIGTERM (default: the pod's terminationGracePeriodSeconds; 0 kills at once)")
	f.BoolVar(&o.now, "now", false, "stop at once (same as --grace-period=1)")
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "an object that does not exist is no error (as with kubectl)")
	return cmd
}

func (o *deleteOptions) options() api.DeleteOptions {
	var opts api.DeleteOptions
	switch {
	case o.now:
		one := int64(1)
		opts.GracePeriodSeconds = &one
	case o.gracePeriod >= 0:
		g := o.gracePeriod
		opts.GracePeriodSeconds = &g
	}
	return opts
}

// deleteTarget is one object to delete.
type deleteTarget struct {
	resource  string // "pods", "configmaps", "secrets"
	namespace string
	name      string
}

// deleteTargets lists what to delete: the pods, then ConfigMaps, then
// Secrets of a file, or the named objects of one resource.
func deleteTargets(file string, stdin io.Reader, args []string, namespace string) ([]deleteTarget, error) {
	if file != "" {
		if len(args) > 0 {
			return nil, fmt.Errorf("give either -f FILE or a resource and names, not both")
		}
		f, err := manifest.ReadFileWith(file, stdin, &manifest.Existing{Unresolved: true})
		if err != nil {
			return nil, err
		}
		var ts []deleteTarget
		ns := func(s string) string {
			if s == "" {
				return namespace
			}
			return s
		}
		for _, p := range f.Pods {
			ts = append(ts, deleteTarget{"pods", ns(p.Namespace), p.Name})
		}
		for _, cm := range f.ConfigMaps {
			ts = append(ts, deleteTarget{"configmaps", ns(cm.Namespace), cm.Name})
		}
		for _, sec := range f.Secrets {
			ts = append(ts, deleteTarget{"secrets", ns(sec.Namespace), sec.Name})
		}
		return ts, nil
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("say what to delete: minipod delete pod NAME... or minipod delete -f FILE")
	}
	resource, err := canonicalResource(args[0])
	if err != nil {
		return nil, err
	}
	var ts []deleteTarget
	for _, name := range args[1:] {
		ts = append(ts, deleteTarget{resource, namespace, name})
	}
	return ts, nil
}

// singular is kubectl's word for one object of a resource.
func singular(resource string) string {
	switch resource {
	case "pods":
		return "pod"
	case "configmaps":
		return "configmap"
	case "secrets":
		return "secret"
	}
	return resource
}

// runDelete deletes every target, going on after a failure; it prints
// `pod "web" deleted` for each, and fails (exit 1) if any failed. With
// ignoreNotFound, a target that does not exist is skipped silently.
func runDelete(ctx context.Context, c *client.Client, targets []deleteTarget, opts api.DeleteOptions, ignoreNotFound bool, out, errOut io.Writer) error {
	failed := false
	for _, t := range targets {
		var err error
		switch t.resource {
		case "pods":
			err = c.DeletePod(ctx, t.namespace, t.name, opts)
		case "configmaps":
			err = c.DeleteConfigMap(ctx, t.namespace, t.name)
		case "secrets":
			err = c.DeleteSecret(ctx, t.namespace, t.name)
		}
		if ignoreNotFound && errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			failed = true
			for _, line := range errorLines(err) {
				fmt.Fprintln(errOut, line)
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(out, "%s %q deleted\n", singular(t.resource), t.name)
	}
	if failed {
		return silentExit(1)
	}
	return nil
}
