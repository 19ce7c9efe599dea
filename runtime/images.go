package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
)

// NormalizeImage turns a pod's image field into the full reference
// containerd stores it under: "busybox" -> "docker.io/library/busybox:latest".
func NormalizeImage(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("failed to parse image reference %q: %w", ref, errdefs.ErrInvalidArgument)
	}
	return named.String(), nil
}

// resolver pulls over HTTPS, and over plain HTTP from localhost, 127.0.0.1
// and the registries named as insecure.
func (r *Runtime) resolver() remotes.Resolver {
	plain := func(host string) (bool, error) {
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		if h == "localhost" || net.ParseIP(h).IsLoopback() {
			return true, nil
		}
		return slices.Contains(r.cfg.InsecureRegistries, host) || slices.Contains(r.cfg.InsecureRegistries, h), nil
	}
	hosts := docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(plain))
	return docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
}

// PullImage pulls and unpacks ref, reporting progress to fn.
func (r *Runtime) PullImage(ctx context.Context, ref string, fn func(api.PullProgress)) (api.Image, error) {
	name, err := NormalizeImage(ref)
	if err != nil {
		return api.Image{}, err
	}
	ctx = r.nsctx(ctx)
	ctx, done, err := r.withLease(ctx, leasePull, nil)
	if err != nil {
		return api.Image{}, err
	}
	report := func(p api.PullProgress) {
		if fn != nil {
			p.Ref = name
			fn(p)
		}
	}
	report(api.PullProgress{Status: "resolving"})
	stop := make(chan struct{})
	go func() {
		// Progress comes from the content store's ingest statuses, as ctr
		// shows it: there is no event for bytes received.
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sts, err := r.client.ContentStore().ListStatuses(ctx)
				if err != nil || len(sts) == 0 {
					continue
				}
				var cur, total int64
				for _, s := range sts {
					cur += s.Offset
					total += s.Total
				}
				report(api.PullProgress{Status: "downloading", Current: cur, Total: total})
			}
		}
	}()
	img, err := r.client.Pull(ctx, name, containerd.WithPullUnpack, containerd.WithResolver(r.resolver()))
	close(stop)
	if derr := done(err != nil); err == nil && derr != nil {
		return api.Image{}, fmt.Errorf("failed to pull image %q: %w", name, derr)
	}
	if err != nil {
		return api.Image{}, fmt.Errorf("failed to pull image %q: %w", name, err)
	}
	out := imageOf(ctx, img)
	report(api.PullProgress{Status: "done", Current: out.Size, Total: out.Size})
	return out, nil
}

func imageOf(ctx context.Context, img containerd.Image) api.Image {
	size, _ := img.Size(ctx)
	return api.Image{Name: img.Name(), Digest: img.Target().Digest.String(), Size: size, Created: img.Metadata().CreatedAt}
}

// LoadImage imports an OCI or Docker archive and unpacks its images.
func (r *Runtime) LoadImage(ctx context.Context, rd io.Reader) (_ []api.Image, retErr error) {
	ctx = r.nsctx(ctx)
	ctx, done, err := r.withLease(ctx, leaseLoad, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := done(retErr != nil); err != nil && retErr == nil {
			retErr = err
		}
	}()
	imgs, err := r.client.Import(ctx, rd,
		containerd.WithImportPlatform(platforms.Default()),
		containerd.WithImageRefTranslator(archive.AddRefPrefix("docker.io/library")),
		containerd.WithSkipDigestRef(func(name string) bool { return name != "" }),
	)
	if err != nil {
		return nil, fmt.Errorf("failed to import image archive: %w", err)
	}
	var out []api.Image
	for _, im := range imgs {
		img := containerd.NewImage(r.client, im)
		if err := img.Unpack(ctx, ""); err != nil {
			return nil, fmt.Errorf("failed to unpack image %q: %w", im.Name, err)
		}
		out = append(out, imageOf(ctx, img))
	}
	return out, nil
}

// ListImages lists the images in minipod's containerd namespace.
func (r *Runtime) ListImages(ctx context.Context) ([]api.Image, error) {
	ctx = r.nsctx(ctx)
	imgs, err := r.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list images: %w", err)
	}
	out := make([]api.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, imageOf(ctx, img))
	}
	return out, nil
}

// RemoveImage removes an image by reference.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	name, err := NormalizeImage(ref)
	if err != nil {
		return err
	}
	ctx = r.nsctx(ctx)
	if err := r.client.ImageService().Delete(ctx, name); err != nil {
		return fmt.Errorf("failed to remove image %q: %w", name, err)
	}
	return nil
}

// errImagePull classes the errors of a pull that failed (ErrImagePull):
// the registry did not answer, or has no such image, or refused. A pod
// waits for such an image, with back-off; other image errors undo it.
var errImagePull = errors.New("ErrImagePull")

// ensureImage makes an image present as its pull policy says and returns it,
// and whether it was pulled. justPulled holds the normalized names of images
// the caller pulled for this pod a moment ago: Always does not pull them
// again.
func (r *Runtime) ensureImage(ctx context.Context, ref string, policy corev1.PullPolicy, justPulled map[string]bool) (containerd.Image, bool, error) {
	name, err := NormalizeImage(ref)
	if err != nil {
		return nil, false, err
	}
	ctx = r.nsctx(ctx)
	pulled := false
	img, err := r.client.GetImage(ctx, name)
	present := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return nil, false, fmt.Errorf("failed to look up image %q: %w", name, err)
	}
	switch {
	case present && justPulled[name]:
		pulled = true
	case policy == corev1.PullNever && !present:
		return nil, false, fmt.Errorf("ErrImageNeverPull: image %q is not present and imagePullPolicy is Never; load it with \"minipod image load\": %w", name, errdefs.ErrFailedPrecondition)
	case policy == corev1.PullAlways || !present:
		pulled = true
		if _, err := r.PullImage(ctx, ref, nil); err != nil {
			return nil, false, fmt.Errorf("%w: %w", errImagePull, err)
		}
		img, err = r.client.GetImage(ctx, name)
		if err != nil {
			return nil, false, fmt.Errorf("failed to look up image %q: %w", name, err)
		}
	}
	if ok, err := img.IsUnpacked(ctx, ""); err == nil && !ok {
		uctx, done, err := r.withLease(ctx, leasePull, nil)
		if err != nil {
			return nil, false, err
		}
		err = img.Unpack(uctx, "")
		if derr := done(err != nil); err == nil && derr != nil {
			err = derr
		}
		if err != nil {
			return nil, false, fmt.Errorf("failed to unpack image %q: %w", name, err)
		}
	}
	return img, pulled, nil
}

// ImageConfigs reads the configs of those of refs that are present, by ref
// as given; an image that is not present has no entry (a dry run says so).
func (r *Runtime) ImageConfigs(ctx context.Context, refs []string) (map[string]*api.ImageConfig, error) {
	ctx = r.nsctx(ctx)
	out := map[string]*api.ImageConfig{}
	for _, ref := range refs {
		name, err := NormalizeImage(ref)
		if err != nil {
			return nil, err
		}
		img, err := r.client.GetImage(ctx, name)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("failed to look up image %q: %w", name, err)
		}
		cfg, err := imageConfig(ctx, img)
		if err != nil {
			return nil, err
		}
		out[ref] = cfg
	}
	return out, nil
}

// imageConfig reads the parts of an image's config that shape a container.
func imageConfig(ctx context.Context, img containerd.Image) (*ImageConfig, error) {
	desc, err := img.Config(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to read config of image %q: %w", img.Name(), err)
	}
	b, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return nil, fmt.Errorf("failed to read config of image %q: %w", img.Name(), err)
	}
	var oc ocispec.Image
	if err := json.Unmarshal(b, &oc); err != nil {
		return nil, fmt.Errorf("failed to decode config of image %q: %w", img.Name(), err)
	}
	return &ImageConfig{
		Entrypoint: oc.Config.Entrypoint,
		Cmd:        oc.Config.Cmd,
		Env:        oc.Config.Env,
		WorkingDir: oc.Config.WorkingDir,
		User:       oc.Config.User,
		StopSignal: oc.Config.StopSignal,
	}, nil
}
