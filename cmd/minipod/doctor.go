package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/doctor"
)

type doctorOptions struct {
	containerdAddress string
	cniPluginDirs     []string
}

func newDoctorCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this host has what minipod needs, and say what to fix",
		Long: `Check that this host can run minipod: the daemon (at --socket) and the
containerd it uses, or, with no daemon running, containerd (running, or on
PATH so that the daemon can start its own); runc, the CNI plugins, IP forwarding, cgroups,
bridge and veth support in the kernel, and iptables. Each problem comes with
what to do about it; the exit code is non-zero when something is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			daemon := func(ctx context.Context) (doctor.DaemonContainerd, error) {
				info, err := c.Containerd(ctx)
				return doctor.DaemonContainerd{Address: info.Address, Embedded: info.Embedded, Version: info.Version, Error: info.Error}, err
			}
			results := doctor.Run(cmd.Context(), doctor.Config{ContainerdAddress: o.containerdAddress, PluginDirs: o.cniPluginDirs,
				Daemon: daemon, Socket: g.socket})
			if n := doctor.Print(s.out, results); n > 0 {
				return silentExit(1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.containerdAddress, "containerd-address", "", "the containerd socket the daemon will use (default: the system's, else one it starts)")
	f.StringSliceVar(&o.cniPluginDirs, "cni-plugin-dir", []string{"/opt/cni/bin", "/usr/lib/cni"}, "directory of CNI plugins (repeatable)")
	return cmd
}
