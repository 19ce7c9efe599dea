package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"github.com/google/uuid"
)

// Leases keep containerd's garbage collector off what an operation is
// creating (pulled content, a container's snapshot before the container
// record exists). containerd's client makes one per call, with a 24-hour
// expiry, and deletes it with the caller's context: a caller cancelled (a
// client's Ctrl-C) or killed in between leaves it, and the snapshots it
// holds, for a day. minipod makes its own instead, one per pod creation or
// image operation, labelled with what it is for; the client's calls see it
// in the context and make none. It is deleted on a context no cancellation
// reaches, and at start-up the daemon deletes every lease of its own that
// is left (none can be in use then); gc deletes those of no operation in
// progress.
const (
	// LabelLease marks a lease as minipod's; its value says what for
	// (leaseCreate, leasePull, leaseLoad).
	LabelLease = "minipod.dev/lease"
	// leaseExpiry bounds a lease that a daemon which never starts again
	// leaves behind; containerd removes it then.
	leaseExpiry = time.Hour

	leaseCreate = "create"
	leasePull   = "pull"
	leaseLoad   = "load"
)

// withLease returns ctx carrying a new lease of minipod's, labelled with
// purpose and labels, and the function that deletes it. With collect, the
// deletion waits for containerd's garbage collector, so that what the lease
// alone held (a failed creation's snapshots) is gone when it returns. A
// context that already carries a lease is returned as it is.
func (r *Runtime) withLease(ctx context.Context, purpose string, labels map[string]string) (context.Context, func(collect bool) error, error) {
	if _, ok := leases.FromContext(ctx); ok {
		return ctx, func(bool) error { return nil }, nil
	}
	all := map[string]string{LabelLease: purpose}
	for k, v := range labels {
		all[k] = v
	}
	// Known as in use before it exists, so that gc never takes it for a
	// leftover.
	id := "minipod-" + purpose + "-" + uuid.NewString()
	r.leaseMu.Lock()
	r.liveLeases[id] = true
	r.leaseMu.Unlock()
	forget := func() {
		r.leaseMu.Lock()
		delete(r.liveLeases, id)
		r.leaseMu.Unlock()
	}
	ls := r.client.LeasesService()
	// Made whatever the caller's context says: a creation cut short by a
	// cancellation could exist in containerd without our knowing it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(r.nsctx(ctx)), time.Minute)
	l, err := ls.Create(cctx, leases.WithID(id), leases.WithExpiration(leaseExpiry), leases.WithLabels(all))
	cancel()
	if err != nil {
		forget()
		return ctx, func(bool) error { return nil }, fmt.Errorf("failed to create a containerd lease: %w", err)
	}
	done := func(collect bool) error {
		defer forget()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(r.nsctx(ctx)), time.Minute)
		defer cancel()
		var opts []leases.DeleteOpt
		if collect {
			opts = append(opts, leases.SynchronousDelete)
		}
		if err := ls.Delete(dctx, l, opts...); err != nil && !errdefs.IsNotFound(err) {
			// containerd is down, say: try again until it answers.
			go r.retryLeaseDelete(l)
			return fmt.Errorf("failed to delete containerd lease %q (retrying): %w", l.ID, err)
		}
		return nil
	}
	return leases.WithLease(ctx, l.ID), done, nil
}

// staleLeases lists minipod's leases that no operation of this daemon
// holds.
func (r *Runtime) staleLeases(ctx context.Context) ([]leases.Lease, error) {
	all, err := r.client.LeasesService().List(r.nsctx(ctx), fmt.Sprintf("labels.%q", LabelLease))
	if err != nil {
		return nil, fmt.Errorf("failed to list containerd leases: %w", err)
	}
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	var out []leases.Lease
	for _, l := range all {
		if !r.liveLeases[l.ID] {
			out = append(out, l)
		}
	}
	return out, nil
}

// removeStaleLeases deletes minipod's leases that no operation holds, and
// lets containerd collect what they alone held. At start-up that is every
// lease of minipod's in the namespace: a daemon killed mid-operation left
// them.
func (r *Runtime) removeStaleLeases(ctx context.Context) error {
	stale, err := r.staleLeases(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range stale {
		r.log.Info("removing a containerd lease left by an interrupted operation", "lease", l.ID, "for", l.Labels[LabelLease], "pod-uid", l.Labels[LabelPodUID])
		if err := r.client.LeasesService().Delete(r.nsctx(ctx), l, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("failed to delete containerd lease %q: %w", l.ID, err))
		}
	}
	return errors.Join(errs...)
}

// leasedSnapshots returns the keys of the snapshots that any lease of
// minipod's holds.
func (r *Runtime) leasedSnapshots(ctx context.Context) (map[string]bool, error) {
	ls := r.client.LeasesService()
	all, err := ls.List(r.nsctx(ctx), fmt.Sprintf("labels.%q", LabelLease))
	if err != nil {
		return nil, fmt.Errorf("failed to list containerd leases: %w", err)
	}
	held := map[string]bool{}
	for _, l := range all {
		res, err := ls.ListResources(r.nsctx(ctx), l)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("failed to list the resources of containerd lease %q: %w", l.ID, err)
		}
		for _, x := range res {
			if strings.HasPrefix(x.Type, "snapshots/") {
				held[x.ID] = true
			}
		}
	}
	return held, nil
}

// retryLeaseDelete deletes a lease whose deletion failed, with back-off,
// until it is gone or the daemon stops (a start-up removes it then).
func (r *Runtime) retryLeaseDelete(l leases.Lease) {
	wait := time.Second
	for {
		select {
		case <-r.life.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
		ctx, cancel := context.WithTimeout(r.nsctx(r.life), time.Minute)
		err := r.client.LeasesService().Delete(ctx, l, leases.SynchronousDelete)
		cancel()
		if err == nil || errdefs.IsNotFound(err) {
			return
		}
	}
}

// removePodLeases deletes the leases of a pod's creation that are left
// (their deletion failed) and lets containerd collect what they held.
func (r *Runtime) removePodLeases(ctx context.Context, uid string) error {
	ls := r.client.LeasesService()
	all, err := ls.List(r.nsctx(ctx), fmt.Sprintf("labels.%q==%q", LabelPodUID, uid))
	if err != nil {
		return fmt.Errorf("failed to list containerd leases: %w", err)
	}
	var errs []error
	for _, l := range all {
		if l.Labels[LabelLease] == "" {
			continue
		}
		if err := ls.Delete(r.nsctx(ctx), l, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("failed to delete containerd lease %q: %w", l.ID, err))
		}
	}
	return errors.Join(errs...)
}
