package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations containerd reads when importing an OCI archive: the full image
// name, and the OCI ref name (the tag alone, as the image-spec defines it).
const (
	annotationContainerdImageName = "io.containerd.image.name"
	annotationOCIRefName          = "org.opencontainers.image.ref.name"
)

func build(o *options) error {
	tags, err := parseTags(o.tags)
	if err != nil {
		return err
	}
	t := newTree(o.keepOwner, o.fixedMtime)
	if o.rootfs != "" {
		if err := t.addDir(o.rootfs); err != nil {
			return err
		}
	}
	for _, f := range o.files {
		if err := t.addFile(f); err != nil {
			return err
		}
	}
	t.addParents()

	img, err := buildImage(o, t)
	if err != nil {
		return err
	}
	switch o.format {
	case "docker":
		return writeDockerArchive(o.output, img, tags)
	default:
		return writeOCIArchive(o.output, img, tags, platform(o))
	}
}

func parseTags(refs []string) ([]name.Tag, error) {
	tags := make([]name.Tag, 0, len(refs))
	for _, r := range refs {
		t, err := name.NewTag(r, name.StrictValidation)
		if err != nil {
			// StrictValidation wants an explicit tag; accept "repo" as "repo:latest".
			t, err = name.NewTag(r)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to parse tag %q: %w", r, err)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// fullName is the reference as containerd names images: docker.io, not
// index.docker.io, and library/ spelled out.
func fullName(t name.Tag) string {
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}

func platform(o *options) v1.Platform {
	return v1.Platform{OS: o.os, Architecture: o.arch, Variant: o.variant}
}

// buildImage assembles the one-layer image; OCI media types for the oci
// format, Docker's for docker-archive.
func buildImage(o *options, t *tree) (v1.Image, error) {
	layerType := types.DockerLayer
	img := empty.Image
	if o.format == "oci" {
		layerType = types.OCILayer
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(t.writeTar(pw)) }()
		return pr, nil
	}
	layer, err := tarball.LayerFromOpener(opener, tarball.WithMediaType(layerType))
	if err != nil {
		return nil, fmt.Errorf("failed to build layer: %w", err)
	}
	created := o.created
	if created.IsZero() {
		created = time.Now().UTC().Truncate(time.Second)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "minipod mkimage", Comment: "root filesystem"},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("failed to read image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture, cf.Variant = o.os, o.arch, o.variant
	cf.Config.Entrypoint = o.entrypoint
	cf.Config.Cmd = o.cmd
	cf.Config.Env = o.env
	cf.Config.WorkingDir = o.workdir
	cf.Config.User = o.user
	cf.Config.StopSignal = o.stopSignal
	if len(o.labels) > 0 {
		cf.Config.Labels = o.labels
	}
	if len(o.expose) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range o.expose {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("failed to set image config: %w", err)
	}
	return img, nil
}

func writeDockerArchive(path string, img v1.Image, tags []name.Tag) error {
	refs := make(map[name.Reference]v1.Image, len(tags))
	for _, t := range tags {
		refs[t] = img
	}
	return writeAtomic(path, func(w io.Writer) error {
		if err := tarball.MultiRefWrite(refs, w); err != nil {
			return fmt.Errorf("failed to write docker archive %q: %w", path, err)
		}
		return nil
	})
}

// writeOCIArchive lays the image out with go-containerregistry's layout
// package (one index entry per tag) in a temporary directory, then packs
// that directory into a tar.
func writeOCIArchive(path string, img v1.Image, tags []name.Tag, p v1.Platform) error {
	dir, err := os.MkdirTemp("", "mkimage-layout-")
	if err != nil {
		return fmt.Errorf("failed to create layout directory: %w", err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("failed to create OCI layout: %w", err)
	}
	for _, t := range tags {
		err := lp.AppendImage(img,
			layout.WithPlatform(p),
			layout.WithAnnotations(map[string]string{
				annotationContainerdImageName: fullName(t),
				annotationOCIRefName:          t.TagStr(),
			}))
		if err != nil {
			return fmt.Errorf("failed to write image %q to OCI layout: %w", t.String(), err)
		}
	}
	packed := newTree(false, time.Unix(0, 0).UTC())
	if err := packed.addDir(dir); err != nil {
		return err
	}
	// The layout package writes blobs 0600 and index.json 0755; an archive
	// meant to be shared reads better with plain modes.
	for _, e := range packed.entries {
		if e.mode.IsDir() {
			e.mode = fs.ModeDir | 0o755
		} else {
			e.mode = 0o644
		}
	}
	return writeAtomic(path, packed.writeTar)
}
