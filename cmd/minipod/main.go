// Command minipod runs Kubernetes Pod manifests on one Linux host: the
// daemon (minipod daemon) and the CLI that talks to it.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], ioStreams{in: os.Stdin, out: os.Stdout, errOut: os.Stderr})
	stop()
	os.Exit(code)
}

// execute runs the command line args and returns the process's exit code.
func execute(ctx context.Context, args []string, s ioStreams) int {
	cmd := newRootCommand(s)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return reportError(s.errOut, err)
}

// newRootCommand builds the command tree.
func newRootCommand(s ioStreams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "minipod",
		Short: "Run Kubernetes Pod manifests on this host, on containerd",
		Long: `minipod runs Kubernetes v1 Pod manifests on one Linux host, for real: one
network namespace per pod, shared volumes, every container started by
containerd. Start the daemon with "sudo minipod daemon", then:

  minipod run pod.yaml
  minipod get pods -o wide
  minipod logs web -c app -f
  minipod exec -it web -- sh
  minipod delete -f pod.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.errOut)
	g.addFlags(root)

	root.AddCommand(
		newVersionCommand(s),
		newDaemonCommand(s, g),
		newRunCommand(s, g),
		newGetCommand(s, g),
		newDescribeCommand(s, g),
		newEventsCommand(s, g),
		newDeleteCommand(s, g),
		newLogsCommand(s, g),
		newExecCommand(s, g),
		newImageCommand(s, g),
		newGCCommand(s, g),
		newKubeconfigCommand(s, g),
		newDoctorCommand(s, g),
		newUICommand(s, g),
		newLogDriverCommand(),
		newPauseCommand(),
	)
	return root
}

// ioStreams are the command's standard streams.
type ioStreams struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}
