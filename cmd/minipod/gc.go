package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/api"
)

type gcOptions struct {
	dryRun bool
}

func newGCCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &gcOptions{}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Find and remove host leftovers that belong to no pod",
		Long: `Ask the daemon to find what minipod left on the host that belongs to no pod
it knows: containerd containers and snapshots, network namespaces, IP
reservations, mounts, pod and log directories. Without --dry-run it removes
them. The daemon must be running (it does the work, as root).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := g.client().GC(cmd.Context(), o.dryRun)
			if err != nil {
				return err
			}
			return printGCReport(s.out, rep)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "only list the leftovers")
	return cmd
}

func printGCReport(w io.Writer, rep *api.GCReport) error {
	if len(rep.Items) == 0 {
		_, err := fmt.Fprintln(w, "no leftovers")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tRESULT")
	failed := 0
	for _, it := range rep.Items {
		res := "would remove"
		switch {
		case it.Error != "":
			res, failed = "failed: "+it.Error, failed+1
		case it.Removed:
			res = "removed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Kind, it.Name, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("failed to remove %d of %d leftovers; run \"minipod gc\" again, or see the daemon's log", failed, len(rep.Items))
	}
	return nil
}
