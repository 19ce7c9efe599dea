package main

import (
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse HEAD)"
var (
	version = "dev"
	commit  = ""
)

func newVersionCommand(s ioStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print minipod's version, git commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printVersion(s.out)
		},
	}
}

func printVersion(w io.Writer) error {
	c := commit
	if c == "" {
		c = "unknown"
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, setting := range info.Settings {
				if setting.Key == "vcs.revision" {
					c = setting.Value
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "minipod %s\ncommit: %s\ngo: %s %s/%s\n", version, c, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	return err
}
