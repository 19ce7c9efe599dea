package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
)

type logsOptions struct {
	pod        string
	container  string
	follow     bool
	previous   bool
	timestamps bool
	tail       int64
	since      time.Duration
}

func newLogsCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD",
		Short: "Print the log of a container of a pod",
		Example: `  minipod logs web
  minipod logs web -c log-shipper -f
  minipod logs web --previous --tail 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.pod = args[0]
			return runLogs(cmd.Context(), g.client(), g.namespace, o, s.out)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (default: the pod's only one)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing as the container writes")
	f.BoolVarP(&o.previous, "previous", "p", false, "the log of the previous run of the container")
	f.BoolVar(&o.timestamps, "timestamps", false, "start each line with its RFC3339 timestamp")
	f.Int64Var(&o.tail, "tail", -1, "only the last N lines (-1: all)")
	f.DurationVar(&o.since, "since", 0, "only lines newer than this, such as 5s, 2m or 3h")
	cmd.ValidArgsFunction = completePod(g)
	_ = cmd.RegisterFlagCompletionFunc("container", completeContainer(g))
	return cmd
}

func runLogs(ctx context.Context, c *client.Client, namespace string, o *logsOptions, w io.Writer) error {
	pod, err := c.GetPod(ctx, namespace, o.pod)
	if err != nil {
		return err
	}
	container, err := logContainer(pod, o.container)
	if err != nil {
		return err
	}
	opts := api.LogOptions{Container: container, Follow: o.follow, Previous: o.previous, Timestamps: o.timestamps, Since: o.since}
	if o.tail >= 0 {
		tail := o.tail
		opts.TailLines = &tail
	}
	err = c.Logs(ctx, namespace, o.pod, opts, w)
	if err != nil && o.follow && ctx.Err() != nil {
		return nil // Ctrl-C ends a follow
	}
	return err
}

// logContainer picks the container whose log to show: the one asked for,
// or the pod's only container; else it says which there are, as kubectl
// does.
func logContainer(pod *corev1.Pod, requested string) (string, error) {
	if requested != "" {
		return requested, nil
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	names := containerNames(pod.Spec.Containers)
	msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
	if len(pod.Spec.InitContainers) > 0 {
		msg += fmt.Sprintf(" or one of the init containers: %v", containerNames(pod.Spec.InitContainers))
	}
	return "", fmt.Errorf("%s", msg)
}

func containerNames(cs []corev1.Container) []string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names
}
