package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newUICommand(s ioStreams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "ui",
		Short: "Print the address of the live view of this host's pods",
		Long: `Print a one-time login link to the daemon's live view: a read-only web page
that draws what each pod is on this host (network namespace, veth, bridge,
containers, volumes, cgroup) and follows it as it changes.

The daemon serves it only when started with --ui 127.0.0.1:PORT. The link
works once and for 5 minutes; it leaves a cookie in the browser that lasts
until the daemon restarts. Nothing is opened for you: paste the link into a
browser on this host (or through an SSH tunnel to this port).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ui, err := g.client().UI(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s\n", ui.URL)
			fmt.Fprintf(s.errOut, "Open it in a browser on this host: the link works once, within 5 minutes. The view is at %s\n", ui.Address)
			return nil
		},
	}
}
