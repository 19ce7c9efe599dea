package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
)

type execOptions struct {
	pod       string
	container string
	command   []string
	stdin     bool
	tty       bool
}

func newExecCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a container of a pod",
		Long: `Run a command in a running container of a pod. minipod exits with the
command's exit code.`,
		Example: `  minipod exec web -- cat /etc/hostname
  minipod exec -it web -c app -- sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return fmt.Errorf("put the command after --: minipod exec POD -- COMMAND [ARG...]")
			}
			o.pod, o.command = args[0], args[1:]
			return runExec(cmd.Context(), g.client(), g.namespace, o, s)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (default: the pod's default or first one)")
	f.BoolVarP(&o.stdin, "stdin", "i", false, "pass stdin to the command")
	f.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal (put this one in raw mode)")
	cmd.ValidArgsFunction = completePod(g)
	_ = cmd.RegisterFlagCompletionFunc("container", completeContainer(g))
	return cmd
}

func runExec(ctx context.Context, c *client.Client, namespace string, o *execOptions, s ioStreams) error {
	container := o.container
	if container == "" {
		pod, err := c.GetPod(ctx, namespace, o.pod)
		if err != nil {
			return err
		}
		var note string
		container, note = execContainer(pod)
		if note != "" {
			fmt.Fprintln(s.errOut, note)
		}
	}
	stdio := api.ExecIO{Stdout: s.out, Stderr: s.errOut}
	if o.stdin {
		stdio.Stdin = s.in
	}
	if o.tty {
		if f, ok := s.in.(*os.File); ok && o.stdin && term.IsTerminal(int(f.Fd())) {
			state, err := term.MakeRaw(int(f.Fd()))
			if err != nil {
				return fmt.Errorf("failed to put the terminal in raw mode: %w", err)
			}
			defer term.Restore(int(f.Fd()), state)
			stdio.Resize = watchTermSize(ctx, s.out)
		} else if o.stdin {
			fmt.Fprintln(s.errOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
	}
	code, err := c.Exec(ctx, namespace, o.pod, api.ExecOptions{
		Container: container, Command: o.command, Stdin: o.stdin, TTY: o.tty,
	}, stdio)
	if err != nil {
		return err
	}
	if code != 0 {
		return silentExit(code)
	}
	return nil
}

// defaultContainerAnnotation names the container kubectl exec and logs
// pick when none is given.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// execContainer picks the container for exec when none is given: the
// pod's default-container annotation, else its first container; the note
// says so when there was a choice.
func execContainer(pod *corev1.Pod) (name, note string) {
	if n := pod.Annotations[defaultContainerAnnotation]; n != "" {
		return n, ""
	}
	if len(pod.Spec.Containers) == 0 {
		return "", ""
	}
	name = pod.Spec.Containers[0].Name
	if len(pod.Spec.Containers) > 1 {
		note = fmt.Sprintf("Defaulted container %q out of: %s", name, strings.Join(containerNames(pod.Spec.Containers), ", "))
	}
	return name, note
}

// watchTermSize sends the terminal's size now and on every SIGWINCH, until
// ctx ends.
func watchTermSize(ctx context.Context, out io.Writer) <-chan api.TermSize {
	ch := make(chan api.TermSize, 4)
	f, ok := out.(*os.File)
	if !ok {
		close(ch)
		return ch
	}
	send := func() {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			select {
			case ch <- api.TermSize{Width: uint16(w), Height: uint16(h)}:
			default:
			}
		}
	}
	send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		defer close(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				send()
			}
		}
	}()
	return ch
}
