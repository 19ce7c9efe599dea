package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/client"
)

func newDescribeCommand(s ioStreams, g *globalOptions) *cobra.Command {
	var host bool
	var output string
	cmd := &cobra.Command{
		Use:   "describe pod NAME",
		Short: "Show a pod in detail: containers, states, volumes, conditions",
		Long: `Show a pod in detail, as kubectl describe does.

With --host, show instead what the pod is on this host: its network
namespace and IP, the veth and bridge that connect it, each container's id
and process, the shim, each volume's host path and mounts, and the pod's
cgroup with its limits.`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeKindThenNames(g, []string{"pod"}, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r, err := canonicalResource(args[0]); err != nil || r != "pods" {
				return fmt.Errorf("minipod describes pods: minipod describe pod NAME")
			}
			if host {
				v, err := g.client().HostView(cmd.Context(), g.namespace, args[1])
				if err != nil {
					return err
				}
				switch output {
				case "":
					return v.WriteText(s.out)
				case "json":
					enc := json.NewEncoder(s.out)
					enc.SetIndent("", "  ")
					return enc.Encode(v)
				}
				return fmt.Errorf("invalid --output %q: with --host, only json is known", output)
			}
			if output != "" {
				return fmt.Errorf("--output goes with --host: minipod describe pod NAME --host -o json")
			}
			return runDescribe(cmd.Context(), g.client(), g.namespace, args[1], s.out)
		},
	}
	cmd.Flags().BoolVar(&host, "host", false, "show the pod's anatomy on the host: namespaces, veth, bridge, processes, volumes' host paths, cgroup")
	cmd.Flags().StringVarP(&output, "output", "o", "", "with --host: json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeOutput([]string{"json"}))
	return cmd
}

func runDescribe(ctx context.Context, c *client.Client, namespace, name string, w io.Writer) error {
	pod, err := c.GetPod(ctx, namespace, name)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	if err := describePod(w, pod, host, time.Now()); err != nil {
		return err
	}
	events, err := c.ListEvents(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return err
	}
	return describeEvents(w, events, time.Now())
}
