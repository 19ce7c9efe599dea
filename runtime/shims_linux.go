package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"golang.org/x/sys/unix"
)

// A task create cut short (the daemon killed while containerd starts the
// pod's shim) can leave a shim that containerd no longer knows: it serves
// no task and never exits. Such a shim is found by its command line
// (`containerd-shim-runc-v2 -namespace NS -id ID -address ADDR`): one of
// this daemon's containerd and namespace whose pod has no task in
// containerd is an orphan. It is stopped with whatever it still runs
// (a container's init, a log driver).

// shimProc is a containerd shim process.
type shimProc struct {
	pid int
	id  string // the ID of the container that started it
}

// shimArgs returns the -namespace, -id and -address of a shim's command
// line, ok false when it is not a containerd shim.
func shimArgs(cmdline []byte) (namespace, id, address string, ok bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
		return "", "", "", false
	}
	for i := 1; i+1 < len(args); i++ {
		switch args[i] {
		case "-namespace":
			namespace = args[i+1]
		case "-id":
			id = args[i+1]
		case "-address":
			address = args[i+1]
		}
	}
	return namespace, id, address, id != ""
}

// shims lists the shim processes of this daemon's containerd and
// namespace.
func (r *Runtime) shims() []shimProc {
	var out []shimProc
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		ns, id, addr, ok := shimArgs(b)
		if !ok || ns != r.cfg.ContainerdNamespace || addr != r.address {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			out = append(out, shimProc{pid: pid, id: id})
		}
	}
	return out
}

// podPrefix is the part of a container ID that names its pod (see
// containerID).
func podPrefix(id string) string {
	p, _, _ := strings.Cut(id, "-")
	return p
}

// orphanShims returns the shims of this daemon whose pod has no task in
// containerd and is not one of keep (pod UIDs).
func (r *Runtime) orphanShims(ctx context.Context, keep map[string]bool) ([]shimProc, error) {
	return r.orphanShimsOf(ctx, func() map[string]bool { return keep })
}

// orphanShimsOf is orphanShims with the pods kept read after the shims and
// tasks are listed: a pod whose shim is listed was claimed before it.
func (r *Runtime) orphanShimsOf(ctx context.Context, keepFn func() map[string]bool) ([]shimProc, error) {
	shims := r.shims()
	resp, err := r.client.TaskService().List(r.nsctx(ctx), &tasks.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("failed to list tasks: %w", err)
	}
	// A pod's containers share the shim that its first task started
	// (named after that container), unless each has its own.
	served := map[string]bool{}
	for _, t := range resp.Tasks {
		served[t.ID] = true
		if !r.cfg.ShimPerContainer {
			served[podPrefix(t.ID)] = true
		}
	}
	kept := map[string]bool{}
	for uid := range keepFn() {
		kept[podPrefix(containerID(uid, ""))] = true
	}
	var out []shimProc
	for _, sh := range shims {
		if !served[sh.id] && !served[podPrefix(sh.id)] && !kept[podPrefix(sh.id)] {
			out = append(out, sh)
		}
	}
	return out, nil
}

// stopShim kills an orphaned shim and what it still runs (its children: a
// container's init, log drivers). Each process is held by a pidfd and
// checked again before it is signalled, so that a reused pid is never hit.
func (r *Runtime) stopShim(sh shimProc) error {
	fd, err := unix.PidfdOpen(sh.pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to open shim %d: %w", sh.pid, err)
	}
	defer unix.Close(fd)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sh.pid))
	if err != nil {
		return nil // gone
	}
	if ns, id, addr, ok := shimArgs(b); !ok || ns != r.cfg.ContainerdNamespace || id != sh.id || addr != r.address {
		return nil // another process now
	}
	var errs []error
	for _, child := range childrenOf(sh.pid) {
		cfd, err := unix.PidfdOpen(child, 0)
		if err != nil {
			continue
		}
		if ppidOf(child) == sh.pid {
			if err := unix.PidfdSendSignal(cfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("failed to kill process %d of shim %d: %w", child, sh.pid, err))
			}
		}
		unix.Close(cfd)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		errs = append(errs, fmt.Errorf("failed to kill shim %d: %w", sh.pid, err))
	}
	return errors.Join(errs...)
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		c, err := strconv.Atoi(filepath.Base(p))
		if err == nil && ppidOf(c) == pid {
			out = append(out, c)
		}
	}
	return out
}

// ppidOf reads a process's parent pid from /proc/<pid>/stat; 0 when gone.
func ppidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// removeOrphanShims stops the shims of pods that have no task and are not
// in keep.
func (r *Runtime) removeOrphanShims(ctx context.Context, keep map[string]bool) error {
	return r.removeOrphanShimsOf(ctx, func() map[string]bool { return keep })
}

func (r *Runtime) removeOrphanShimsOf(ctx context.Context, keepFn func() map[string]bool) error {
	orphans, err := r.orphanShimsOf(ctx, keepFn)
	if err != nil {
		return err
	}
	// A shim whose last task was deleted a moment ago (by the teardown of
	// a half-deleted pod, say) exits on its own, and cleans up after
	// itself: give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for len(orphans) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		var alive []shimProc
		for _, sh := range orphans {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", sh.pid)); err == nil {
				alive = append(alive, sh)
			}
		}
		orphans = alive
	}
	var errs []error
	for _, sh := range orphans {
		r.log.Info("stopping a shim that serves no task (a task create was cut short)", "pid", sh.pid, "id", sh.id)
		errs = append(errs, r.stopShim(sh))
	}
	return errors.Join(errs...)
}

// sweepShims asks for a sweep of orphaned shims once deletes have been
// quiet for a second: a task create cut short (containerd killed) leaves a
// shim that a later delete of its pod does not end. One scan per burst of
// deletes, not one per pod.
func (r *Runtime) sweepShims() {
	select {
	case r.sweep <- struct{}{}:
	default:
	}
}

// shimSweeper runs the sweeps sweepShims asks for, until the daemon stops.
func (r *Runtime) shimSweeper() {
	for {
		select {
		case <-r.life.Done():
			return
		case <-r.sweep:
		}
		// Debounce: wait for a second without another request.
		for quiet := false; !quiet; {
			select {
			case <-r.life.Done():
				return
			case <-r.sweep:
			case <-time.After(time.Second):
				quiet = true
			}
		}
		keep := func() map[string]bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			m := map[string]bool{}
			for _, ps := range r.pods {
				m[string(ps.rec.Pod.UID)] = true
			}
			return m
		}
		if err := r.removeOrphanShimsOf(r.life, keep); err != nil {
			r.log.Warn("failed to stop orphaned shims; gc retries", "err", err)
		}
	}
}
