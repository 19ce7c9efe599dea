package main

import (
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time (scripts/build-minipod.sh sets
// commit):
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse HEAD)"
//
// Without -X, commit comes from Go's own VCS stamp, when the build had one.
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
		c = "unknown (build with scripts/build-minipod.sh to record it)"
		if info, ok := debug.ReadBuildInfo(); ok {
			rev, modified := "", false
			for _, setting := range info.Settings {
				switch setting.Key {
				case "vcs.revision":
					rev = setting.Value
				case "vcs.modified":
					modified = setting.Value == "true"
				}
			}
			if rev != "" {
				c = rev
				if modified {
					c += "-dirty"
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "minipod %s\ncommit: %s\ngo: %s %s/%s\n", version, c, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	return err
}
