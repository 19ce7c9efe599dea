package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/netns"
	"github.com/minipod/minipod/volumes"
)

// DeletePod stops the pod's containers (SIGTERM, the grace period, then
// SIGKILL) and removes everything it created, the record last. It waits
// for a creation in progress to finish first.
func (r *Runtime) DeletePod(ctx context.Context, namespace, name string, opts DeleteOptions) error {
	ps, err := r.lookup(namespace, name)
	if err != nil {
		return err
	}
	select {
	case <-ps.created:
	case <-ctx.Done():
		return ctx.Err()
	}
	ps.mu.Lock()
	if ps.rec.State == StateDeleting {
		ps.mu.Unlock()
		return fmt.Errorf("pod %q is already being deleted: %w", name, errdefs.ErrConflict)
	}
	prev := ps.rec.State
	ps.rec.State = StateDeleting
	rec := ps.rec
	ps.mu.Unlock()
	grace := time.Duration(30) * time.Second
	if rec.Plan != nil {
		grace = time.Duration(rec.Plan.GracePeriod) * time.Second
	}
	if opts.GracePeriodSeconds != nil {
		grace = time.Duration(*opts.GracePeriodSeconds) * time.Second
	}
	_ = r.records.save(rec)
	// No restarts from here on.
	ps.stopWatchers()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+2*time.Minute)
	defer cancel()
	if err := r.teardown(ctx, rec, grace); err != nil {
		ps.mu.Lock()
		ps.rec.State = prev
		ps.rec.TeardownError = err.Error()
		ps.mu.Unlock()
		_ = r.records.save(rec)
		return fmt.Errorf("failed to delete pod %q (run delete again to retry): %w", name, err)
	}
	r.mu.Lock()
	delete(r.pods, podKey(namespace, name))
	r.mu.Unlock()
	r.refreshHosts(namespace)
	r.log.Info("pod deleted", "pod", podKey(namespace, name))
	return nil
}

// teardown is apply backwards, and idempotent: it works on a pod that is
// half created, already gone, or left by a daemon that was killed. Every
// resource is found from the pod's UID.
func (r *Runtime) teardown(ctx context.Context, rec *Record, grace time.Duration) error {
	uid := string(rec.Pod.UID)
	plan := rec.Plan
	var errs []error

	// Containers: app containers stop together, then init containers.
	ids, err := r.podContainerIDs(ctx, uid)
	if err != nil {
		return err
	}
	stopSignals := map[string]string{}
	if plan != nil {
		for _, c := range append(append([]ContainerPlan{}, plan.Containers...), plan.Init...) {
			stopSignals[containerID(uid, c.Name)] = c.StopSignal
		}
	}
	var wg sync.WaitGroup
	cerrs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cerrs[i] = r.removeContainer(ctx, id, stopSignals[id], grace)
		}()
	}
	wg.Wait()
	errs = append(errs, cerrs...)
	errs = append(errs, failAt(StepTeardownContainers))
	if plan == nil {
		// The record was saved before any plan: nothing else was created.
		errs = append(errs, r.records.remove(uid))
		return errors.Join(errs...)
	}

	// Network: CNI DEL (also without the namespace, so the IP is freed),
	// then the namespace itself.
	nsPath := plan.Sandbox.NetNSPath
	ns, err := netns.LoadIn(filepath.Dir(plan.Sandbox.NetNSPath), plan.Sandbox.NetNSName)
	if errdefs.IsNotFound(err) {
		nsPath = ""
	} else if err != nil {
		errs = append(errs, err)
	}
	if err := r.network.Remove(ctx, attachment(plan, nsPath)); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, failAt(StepTeardownCNI))
	if ns != nil {
		if err := ns.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, failAt(StepTeardownNetNS))
	if err := unpinPodNamespaces(plan.Sandbox.NamespaceDir); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, failAt(StepTeardownPodNS))
	for _, vp := range plan.Volumes {
		if err := volumes.Teardown(ctx, toVolume(vp)); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, failAt(StepTeardownVolumes))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The record and pod directory go last, with the pod's logs.
	if err := errors.Join(os.RemoveAll(plan.LogDir), r.records.remove(uid)); err != nil {
		return err
	}
	return failAt(StepTeardownRecord)
}
