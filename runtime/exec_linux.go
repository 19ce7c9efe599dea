package runtime

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minipod/minipod/api"
)

// Exec runs a command in a running container of the pod, with the
// container's environment, user and working directory, and returns its
// exit code.
func (r *Runtime) Exec(ctx context.Context, namespace, name string, opts api.ExecOptions, stdio api.ExecIO) (int, error) {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return -1, err
	}
	ps.mu.Lock()
	ctrName := opts.Container
	if ctrName == "" && len(ps.rec.Pod.Spec.Containers) > 0 {
		ctrName = ps.rec.Pod.Spec.Containers[0].Name
	}
	cs := ps.containers[ctrName]
	running := cs != nil && cs.Running
	id := ""
	if cs != nil {
		id = cs.ID
	}
	ps.mu.Unlock()
	if cs == nil {
		return -1, fmt.Errorf("container %q not found in pod %q: %w", ctrName, name, errdefs.ErrNotFound)
	}
	if !running {
		return -1, fmt.Errorf("container %q in pod %q is not running: %w", ctrName, name, errdefs.ErrFailedPrecondition)
	}
	if len(opts.Command) == 0 {
		return -1, fmt.Errorf("exec needs a command: %w", errdefs.ErrInvalidArgument)
	}
	ctx = r.nsctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return -1, fmt.Errorf("failed to load container %q: %w", ctrName, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return -1, fmt.Errorf("failed to read spec of %q: %w", ctrName, err)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("failed to load task of %q: %w", ctrName, err)
	}
	pspec := *spec.Process
	pspec.Args = opts.Command
	pspec.Terminal = opts.TTY
	if opts.TTY {
		pspec.Env = withTerm(pspec.Env)
	}
	if opts.TTY && stdio.Resize != nil {
		// The caller's terminal size comes first on Resize; the console is
		// made with it, so the command never sees a 0x0 terminal.
		select {
		case sz, ok := <-stdio.Resize:
			if ok {
				pspec.ConsoleSize = &specs.Box{Height: uint(sz.Height), Width: uint(sz.Width)}
			}
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	// containerd copies stdin into the process; when the caller's stdin
	// ends, the process must be told, or a command like cat never exits.
	var stdinDone chan struct{}
	stdin := stdio.Stdin
	exited := make(chan struct{})
	defer close(exited)
	switch {
	case stdin != nil && opts.TTY:
		// With a TTY, the end of input is the terminal's business (^D):
		// closing the console's input would take the terminal from the
		// command, so the caller's EOF is held until the command exits.
		stdin = &holdEOF{r: stdin, until: exited}
	case stdin != nil:
		stdinDone = make(chan struct{})
		stdin = &eofReader{r: stdin, done: stdinDone}
	}
	streams := []cio.Opt{cio.WithStreams(stdin, stdio.Stdout, stdio.Stderr)}
	if opts.TTY {
		streams = append(streams, cio.WithTerminal)
	}
	execID := "exec-" + uuid.NewString()[:8]
	p, err := t.Exec(ctx, execID, &pspec, cio.NewCreator(streams...))
	if err != nil {
		return -1, fmt.Errorf("failed to exec in %q: %w", ctrName, err)
	}
	defer p.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
	exitc, err := p.Wait(ctx)
	if err != nil {
		return -1, fmt.Errorf("failed to wait on exec in %q: %w", ctrName, err)
	}
	if err := p.Start(ctx); err != nil {
		return -1, fmt.Errorf("failed to start %v in %q: %w", opts.Command, ctrName, err)
	}
	if cs := pspec.ConsoleSize; cs != nil {
		// Not every runtime makes the console at ConsoleSize: say it again.
		_ = p.Resize(ctx, uint32(cs.Width), uint32(cs.Height))
	}
	if opts.TTY && stdio.Resize != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sz, ok := <-stdio.Resize:
					if !ok {
						return
					}
					_ = p.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
				}
			}
		}()
	}
	if stdinDone != nil {
		go func() {
			select {
			case <-stdinDone:
				_ = p.CloseIO(ctx, containerd.WithStdinCloser)
			case <-ctx.Done():
			}
		}()
	}
	select {
	case st := <-exitc:
		code, _, err := st.Result()
		if err != nil {
			return -1, err
		}
		if pio := p.IO(); pio != nil {
			pio.Wait()
		}
		return int(code), nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// eofReader closes done when r reaches its end.
type eofReader struct {
	r    io.Reader
	done chan struct{}
	once sync.Once
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil {
		e.once.Do(func() { close(e.done) })
	}
	return n, err
}

// holdEOF passes r through but keeps its end back until until is closed.
type holdEOF struct {
	r     io.Reader
	until <-chan struct{}
}

func (h *holdEOF) Read(b []byte) (int, error) {
	n, err := h.r.Read(b)
	if err == io.EOF && n == 0 {
		<-h.until
	}
	return n, err
}
