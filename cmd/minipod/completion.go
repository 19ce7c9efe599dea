package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Shell completion of what the daemon holds, as kubectl's completion
// does: pod names where a command takes a pod, container names for -c,
// ConfigMap and Secret names after their kind, and the output formats for
// -o. A daemon that does not answer completes nothing (and no error is
// printed into the user's prompt).

// outputFormats are the -o values of get, as kubectl lists them.
var outputFormats = []string{"json", "yaml", "name", "wide"}

// completionTimeout bounds how long a completion waits for the daemon.
const completionTimeout = 2 * time.Second

// completePod completes a command's first argument with pod names.
func completePod(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return namesOf(g, "pods", toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeKindThenNames completes the kind (pods, configmaps, secrets),
// then names of objects of that kind; a command that takes one name
// (describe) stops after it.
func completeKindThenNames(g *globalOptions, kinds []string, oneName bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return withPrefix(kinds, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		if oneName && len(args) > 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		kind, err := canonicalResource(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, n := range namesOf(g, kind, toComplete) {
			if !slices.Contains(args[1:], n) {
				names = append(names, n)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeContainer completes -c with the containers (init containers
// too) of the pod named by the first argument.
func completeContainer(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		pod, err := g.client().GetPod(ctx, g.namespace, args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := append(containerNames(pod.Spec.Containers), containerNames(pod.Spec.InitContainers)...)
		return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeOutput completes -o with the given formats.
func completeOutput(formats []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(formats, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// namesOf lists the names of a kind's objects in the command's namespace
// that start with prefix.
func namesOf(g *globalOptions, kind, prefix string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	c := g.client()
	var metas []string
	switch kind {
	case "pods":
		pods, err := c.ListPods(ctx, g.namespace)
		if err != nil {
			return nil
		}
		for _, p := range pods {
			metas = append(metas, p.Name)
		}
	case "configmaps":
		cms, err := c.ListConfigMaps(ctx, g.namespace)
		if err != nil {
			return nil
		}
		for _, cm := range cms {
			metas = append(metas, cm.Name)
		}
	case "secrets":
		ss, err := c.ListSecrets(ctx, g.namespace)
		if err != nil {
			return nil
		}
		for _, s := range ss {
			metas = append(metas, s.Name)
		}
	}
	return withPrefix(metas, prefix)
}

func withPrefix(all []string, prefix string) []string {
	var out []string
	for _, s := range all {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}
