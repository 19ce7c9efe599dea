package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/api"
)

// parseCRILine splits a CRI log line into time, stream, tag and text.
func parseCRILine(line string) (t time.Time, stream string, partial bool, text string, ok bool) {
	ts, rest, ok1 := strings.Cut(line, " ")
	stream, rest, ok2 := strings.Cut(rest, " ")
	tag, text, ok3 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, "", false, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", false, "", false
	}
	return t, stream, tag == "P", text, true
}

// Logs writes a container's log as plain text and, with Follow, keeps
// writing until the container exits or ctx ends. It reads the run's current
// file only, as the kubelet does: rotated files are not shown, and a follow
// goes on into the file that replaces a rotated one.
func (r *Runtime) Logs(ctx context.Context, namespace, name string, opts api.LogOptions, w io.Writer) error {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	plan := ps.rec.Plan
	ps.mu.Unlock()
	if plan == nil {
		return fmt.Errorf("pod %q has no containers yet: %w", name, errdefs.ErrFailedPrecondition)
	}
	var cp *ContainerPlan
	var names []string
	for _, list := range [][]ContainerPlan{plan.Containers, plan.Init} {
		for i := range list {
			names = append(names, list[i].Name)
			if list[i].Name == opts.Container || (opts.Container == "" && len(plan.Containers) == 1 && len(plan.Init) == 0) {
				cp = &list[i]
			}
		}
	}
	if cp == nil {
		if opts.Container == "" {
			return fmt.Errorf("a container name must be specified for pod %s, choose one of: %v: %w", name, names, errdefs.ErrInvalidArgument)
		}
		return fmt.Errorf("container %q is not valid for pod %q: %w", opts.Container, name, errdefs.ErrNotFound)
	}
	ps.mu.Lock()
	logPath, restarts := cp.LogPath, int32(0)
	if cs := ps.containers[cp.Name]; cs != nil {
		restarts = cs.Restarts
		if cs.LogPath != "" {
			logPath = cs.LogPath
		}
	}
	ps.mu.Unlock()
	if opts.Previous {
		if restarts == 0 {
			return fmt.Errorf("previous terminated container %q in pod %q not found: %w", cp.Name, name, errdefs.ErrNotFound)
		}
		logPath = logPathFor(cp.LogPath, restarts-1)
		opts.Follow = false
	}
	f, err := os.Open(logPath)
	if errors.Is(err, os.ErrNotExist) {
		if !opts.Follow {
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("failed to open log of %q: %w", cp.Name, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	// done tells whether following should end: the pod is going, or the
	// container exited for good. While a restart is due, following goes on
	// into the next run's file (next is its path when it has started).
	done := func() (bool, string) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		cs := ps.containers[cp.Name]
		if cs == nil || ps.rec.State == StateDeleting || ps.ctx.Err() != nil {
			return true, ""
		}
		if cs.LogPath != "" && cs.LogPath != logPath {
			return false, cs.LogPath
		}
		if cs.Running {
			return false, ""
		}
		restarting := !cs.BackOffUntil.IsZero() || shouldRestart(restartPolicyOf(ps.rec.Pod, cp.Name), cs.ExitCode)
		return !restarting, ""
	}
	var since time.Time
	if opts.Since > 0 {
		since = time.Now().Add(-opts.Since)
	}
	emit := func(line string) error {
		t, _, partial, text, ok := parseCRILine(line)
		if !ok || (!since.IsZero() && t.Before(since)) {
			return nil
		}
		if opts.Timestamps {
			text = t.Format(time.RFC3339Nano) + " " + text
		}
		if !partial {
			text += "\n"
		}
		_, err := io.WriteString(w, text)
		if fl, ok := w.(interface{ Flush() }); ok {
			fl.Flush()
		}
		return err
	}
	if f != nil && opts.TailLines != nil {
		lines, err := tail(f, int(*opts.TailLines))
		if err != nil {
			return err
		}
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
		if !opts.Follow {
			return nil
		}
	}
	// Follow by reading what the file has, then waiting for more: a log
	// file has no event stream, so this one wait is a short poll.
	var br *bufio.Reader
	if f != nil {
		br = bufio.NewReader(f)
	}
	pending := ""
	for {
		if br == nil {
			if f, err = os.Open(logPath); err == nil {
				br = bufio.NewReader(f)
			}
		}
		if br != nil {
			for {
				s, err := br.ReadString('\n')
				if err != nil {
					pending += s
					break
				}
				if err := emit(pending + strings.TrimSuffix(s, "\n")); err != nil {
					return err
				}
				pending = ""
			}
		}
		if !opts.Follow {
			return nil
		}
		if f != nil && rotatedAway(f, logPath) {
			// The log driver rotated the file: read what was written to
			// the old one before its rename, then go on with the new one,
			// as the kubelet does.
			for {
				s, err := br.ReadString('\n')
				if err != nil {
					break
				}
				if err := emit(pending + strings.TrimSuffix(s, "\n")); err != nil {
					return err
				}
				pending = ""
			}
			f.Close()
			br, f, pending = nil, nil, ""
			continue
		}
		finished, next := done()
		if finished {
			// One last read, for what was written before the exit.
			opts.Follow = false
			continue
		}
		if next != "" {
			// The container restarted: finish the old file, go on with
			// the new one.
			if f != nil {
				f.Close()
			}
			logPath, br, f, pending = next, nil, nil, ""
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rotatedAway tells whether the file at path is no longer f: the log
// driver renamed f and began a new file.
func rotatedAway(f *os.File, path string) bool {
	open, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && !os.SameFile(open, now)
}

func tail(f *os.File, n int) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines, sc.Err()
}
