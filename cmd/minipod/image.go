package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
)

func newImageCommand(s ioStreams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Pull, load, list and remove images",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "pull REF",
			Short: "Pull an image from a registry",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return pullImage(cmd.Context(), g.client(), args[0], newProgress(s.errOut, isTerminal(s.errOut)), s.out)
			},
		},
		&cobra.Command{
			Use:   "load FILE",
			Short: "Load the images of an OCI or Docker archive (\"-\" for stdin)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return loadImage(cmd.Context(), g.client(), args[0], s.in, s.out)
			},
		},
		&cobra.Command{
			Use:     "ls",
			Aliases: []string{"list"},
			Short:   "List images",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				images, err := g.client().ListImages(cmd.Context())
				if err != nil {
					return err
				}
				return printImageTable(s.out, images)
			},
		},
		&cobra.Command{
			Use:     "rm REF...",
			Aliases: []string{"remove"},
			Short:   "Remove images",
			Args:    cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c := g.client()
				for _, ref := range args {
					if err := c.RemoveImage(cmd.Context(), ref); err != nil {
						return err
					}
					fmt.Fprintf(s.out, "removed %s\n", ref)
				}
				return nil
			},
		},
	)
	return cmd
}

func pullImage(ctx context.Context, c *client.Client, ref string, p *progress, w io.Writer) error {
	img, err := c.PullImage(ctx, ref, p.Pull)
	p.Clear()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s %s\n", img.Name, img.Digest)
	return err
}

func loadImage(ctx context.Context, c *client.Client, file string, stdin io.Reader, w io.Writer) error {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("failed to open image archive %q: %w", file, err)
		}
		defer f.Close()
		r = f
	}
	images, err := c.LoadImage(ctx, r)
	if err != nil {
		return err
	}
	for _, img := range images {
		fmt.Fprintf(w, "loaded %s %s\n", img.Name, img.Digest)
	}
	return nil
}

// printImageTable writes REF DIGEST SIZE.
func printImageTable(w io.Writer, images []api.Image) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "REF\tDIGEST\tSIZE")
	for _, img := range images {
		digest := img.Digest
		if d, ok := strings.CutPrefix(digest, "sha256:"); ok && len(d) > 12 {
			digest = "sha256:" + d[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", img.Name, digest, humanSize(img.Size))
	}
	return tw.Flush()
}
