package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/client"
)

func newDescribeCommand(s ioStreams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "describe pod NAME",
		Short: "Show a pod in detail: containers, states, volumes, conditions",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r, err := canonicalResource(args[0]); err != nil || r != "pods" {
				return fmt.Errorf("minipod describes pods: minipod describe pod NAME")
			}
			return runDescribe(cmd.Context(), g.client(), g.namespace, args[1], s.out)
		},
	}
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
