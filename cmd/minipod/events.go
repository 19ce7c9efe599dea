package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/minipod/minipod/client"
)

type eventsOptions struct {
	watch bool
	all   bool
}

func newEventsCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &eventsOptions{}
	cmd := &cobra.Command{
		Use:   "events [POD]",
		Short: "List events (Pulled, Started, Killing, BackOff, Unhealthy, ...) of pods",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod := ""
			if len(args) == 1 {
				pod = args[0]
			}
			ns := g.namespace
			if o.all {
				ns = ""
			}
			return runEvents(cmd.Context(), g.client(), ns, pod, o.watch, s.out)
		},
	}
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "keep printing new events")
	cmd.Flags().BoolVarP(&o.all, "all-namespaces", "A", false, "events of every namespace")
	cmd.ValidArgsFunction = completePod(g)
	return cmd
}

// runEvents prints the events, and with watch keeps printing new ones (and
// those counted again) as the daemon's watch sends them.
func runEvents(ctx context.Context, c *client.Client, ns, pod string, watch bool, w io.Writer) error {
	if !watch {
		events, err := c.ListEvents(ctx, ns, pod)
		if err != nil {
			return err
		}
		writeEventTable(w, events, true, time.Now())
		return nil
	}
	header := true
	return c.WatchEvents(ctx, ns, pod, func(e corev1.Event) error {
		writeEventTable(w, []corev1.Event{e}, header, time.Now())
		header = false
		return nil
	})
}

func writeEventTable(w io.Writer, events []corev1.Event, header bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if header {
		fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")
	}
	for _, e := range events {
		obj := "pod/" + e.InvolvedObject.Name
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", duration.HumanDuration(now.Sub(e.LastTimestamp.Time)), e.Type, e.Reason, obj, e.Message)
	}
	tw.Flush()
}

// describeEvents writes the Events section of describe, as kubectl does.
func describeEvents(w io.Writer, events []corev1.Event, now time.Time) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "Events:  <none>")
		return err
	}
	fmt.Fprintln(w, "Events:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
	for _, e := range events {
		age := duration.HumanDuration(now.Sub(e.LastTimestamp.Time))
		if e.Count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, duration.HumanDuration(now.Sub(e.FirstTimestamp.Time)))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, age, e.Source.Component, strings.TrimSpace(e.Message))
	}
	return tw.Flush()
}
