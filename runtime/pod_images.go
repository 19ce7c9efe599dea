package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A pod whose image cannot be pulled is kept, as on a kubelet: its
// containers wait with ErrImagePull, then ImagePullBackOff, and the pull is
// tried again with the kubelet's back-off (10 s doubling to 5 min, scaled by
// --restart-backoff) until it succeeds, or the image is loaded meanwhile
// (minipod image load), or the pod is deleted. Nothing is created on the
// host while it waits; once every image is there the pod is created as any
// other. An image that may not be pulled (imagePullPolicy Never) or a
// reference that cannot be parsed still undoes the pod at once.

// pullImages tries to make every image of the pod present (pulling as the
// policies say, with a Pulling event) and returns the references whose
// pull failed, with each error; the containers that use them wait. Other
// failures are left to apply's images step, which undoes the pod.
func (r *Runtime) pullImages(ctx context.Context, ps *podState, justPulled map[string]bool) map[string]error {
	failed := map[string]error{}
	seen := map[string]bool{}
	for _, c := range allContainers(ps.rec.Pod) {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		if err := r.pullImage(ctx, ps, c, justPulled); errors.Is(err, errImagePull) {
			failed[c.Image] = err
		}
	}
	if ctx.Err() != nil {
		// The caller went away: apply's images step undoes the pod.
		return nil
	}
	if len(failed) > 0 {
		ps.mu.Lock()
		ps.pulling = true
		ps.mu.Unlock()
		r.imagesFailed(ps, failed)
	}
	return failed
}

// pullImage makes one container's image present as its policy says; an
// image it pulled is noted in justPulled, so that apply neither pulls it
// again nor calls it already present.
func (r *Runtime) pullImage(ctx context.Context, ps *podState, c corev1.Container, justPulled map[string]bool) error {
	name, err := NormalizeImage(c.Image)
	if err != nil {
		return err
	}
	if justPulled[name] {
		return nil
	}
	_, err = r.client.GetImage(r.nsctx(ctx), name)
	present := err == nil
	if present && c.ImagePullPolicy != corev1.PullAlways || !present && c.ImagePullPolicy == corev1.PullNever {
		return nil
	}
	r.event(ps, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image), c.Name)
	_, pulled, err := r.ensureImage(ctx, c.Image, c.ImagePullPolicy, justPulled)
	if err != nil {
		return err
	}
	if pulled {
		justPulled[name] = true
	}
	return nil
}

// imagesFailed shows the failed pulls: each container of a failed image
// waits with ErrImagePull, and Failed events say why.
func (r *Runtime) imagesFailed(ps *podState, failed map[string]error) {
	defer r.changes.notify()
	for ref, err := range failed {
		cause := strings.TrimPrefix(err.Error(), errImagePull.Error()+": ")
		cause = strings.TrimPrefix(cause, fmt.Sprintf("failed to pull image %q: ", ref))
		for _, c := range allContainers(ps.rec.Pod) {
			if c.Image != ref {
				continue
			}
			r.event(ps, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", ref, cause), c.Name)
			r.event(ps, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull", c.Name)
			ps.mu.Lock()
			ps.imageWait[c.Name] = corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: fmt.Sprintf("failed to pull image %q: %s", ref, cause)}
			ps.mu.Unlock()
		}
	}
}

// createWhenPulled waits for the failed images of a kept pod, pulling them
// again with back-off, then creates the pod. It ends the creation (closes
// ps.created) either way; a pod deleted meanwhile is not created.
func (r *Runtime) createWhenPulled(ps *podState, failed map[string]error, cms []*corev1.ConfigMap, secrets []*corev1.Secret, justPulled map[string]bool) {
	defer close(ps.created)
	defer r.changes.notify()
	ok := r.awaitImages(ps, failed, justPulled)
	ps.mu.Lock()
	ps.pulling = false
	ps.mu.Unlock()
	if !ok || ps.ctx.Err() != nil {
		return
	}
	// Nobody waits on this creation: it must not end with a caller.
	_ = r.create(context.Background(), ps, cms, secrets, justPulled)
}

// awaitImages pulls the failed images again with back-off until they are
// all present; false when the pod is deleted (or the daemon closes) first.
func (r *Runtime) awaitImages(ps *podState, failed map[string]error, justPulled map[string]bool) bool {
	var backOff time.Duration
	for len(failed) > 0 {
		if backOff == 0 {
			backOff = r.backOffBase()
		} else if backOff = 2 * backOff; backOff > r.backOffMax() {
			backOff = r.backOffMax()
		}
		// ErrImagePull shows until the back-off begins, as until a
		// kubelet's next sync of the pod (see syncDelay).
		d := min(syncDelay, backOff/2)
		select {
		case <-ps.ctx.Done():
			return false
		case <-time.After(d):
		}
		for ref := range failed {
			for _, c := range allContainers(ps.rec.Pod) {
				if c.Image != ref {
					continue
				}
				r.event(ps, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", ref), c.Name)
				r.event(ps, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff", c.Name)
				ps.mu.Lock()
				ps.imageWait[c.Name] = corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", ref)}
				ps.mu.Unlock()
			}
		}
		r.changes.notify()
		select {
		case <-ps.ctx.Done():
			return false
		case <-time.After(backOff - d):
		}
		// The pull may not outlast the pod.
		ctx := ps.ctx
		still := map[string]error{}
		for ref := range failed {
			for _, c := range allContainers(ps.rec.Pod) {
				if c.Image != ref {
					continue
				}
				if err := r.pullImage(ctx, ps, c, justPulled); err != nil {
					if ctx.Err() != nil {
						return false
					}
					if !errors.Is(err, errImagePull) {
						// Not a pull that failed (the store did not answer):
						// tried again as one.
						err = fmt.Errorf("%w: %w", errImagePull, err)
					}
					still[ref] = err
				}
				break
			}
		}
		if len(still) > 0 {
			r.imagesFailed(ps, still)
		}
		failed = still
	}
	ps.mu.Lock()
	clear(ps.imageWait)
	ps.mu.Unlock()
	return true
}
