package runtime

import (
	"context"
	"fmt"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/typeurl/v2"
	corev1 "k8s.io/api/core/v1"
)

// watchOOM follows containerd's event stream for out-of-memory kills in
// minipod's namespace and marks the container, so that its termination
// reads OOMKilled as on a node. It re-subscribes with back-off when the
// stream breaks, until ctx ends.
func (r *Runtime) watchOOM(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ch, errs := r.client.Subscribe(ctx, `topic=="/tasks/oom"`, fmt.Sprintf(`namespace==%q`, r.cfg.ContainerdNamespace))
	recv:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if err != nil {
					r.log.Debug("containerd event stream ended", "err", err)
				}
				break recv
			case env := <-ch:
				if env == nil {
					break recv
				}
				backoff = 100 * time.Millisecond
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if oom, ok := v.(*apievents.TaskOOM); ok {
					r.markOOM(oom.ContainerID)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// markOOM records that a container's run was ended by the OOM killer.
func (r *Runtime) markOOM(id string) {
	states := r.podStates()
	for _, ps := range states {
		ps.mu.Lock()
		for name, cs := range ps.containers {
			if cs.ID != id {
				continue
			}
			r.setContainer(ps, name, func(cs *containerState) {
				cs.OOMKilled = true
				if cs.Exited && cs.ExitCode == 137 {
					cs.Reason = "OOMKilled"
				}
			})
			go r.event(ps, corev1.EventTypeWarning, "OOMKilling", "Memory cgroup out of memory: killed a process of container "+name, name)
			r.log.Info("container killed by the OOM killer", "pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "container", name)
		}
		ps.mu.Unlock()
	}
}
