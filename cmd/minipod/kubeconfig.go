package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/kubeconfig"
)

type kubeconfigOptions struct {
	merge bool
	path  string
}

func newKubeconfigCommand(s ioStreams, g *globalOptions) *cobra.Command {
	o := &kubeconfigOptions{}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig for kubectl to reach the daemon's Kubernetes API",
		Long: `Print a kubeconfig with a context named "minipod" that reaches the daemon's
Kubernetes API (minipod daemon --kube-api, https://127.0.0.1:6443 by default),
trusting the daemon's CA and carrying its bearer token. Anyone holding it
can run pods as root: keep it private (it is only given to those who may
use the daemon's socket).

With --merge, add the context to your kubeconfig ($KUBECONFIG's first file,
else ~/.kube/config; under sudo, the ~/.kube/config of the user who ran
sudo, left owned by that user) and make it the current one; your other
clusters, users and contexts are kept as they are.

  minipod kubeconfig > minipod.kubeconfig && kubectl --kubeconfig minipod.kubeconfig get pods
  sudo minipod kubeconfig --merge && kubectl get pods -o wide`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := g.client().Kubeconfig(cmd.Context())
			if err != nil {
				return err
			}
			if !o.merge {
				_, err := s.out.Write(data)
				return err
			}
			path := o.path
			var owner *kubeconfig.Owner
			if path == "" {
				if path, owner, err = kubeconfig.DefaultPath(); err != nil {
					return err
				}
			}
			if err := kubeconfig.MergeFile(path, data, owner); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.out, "added context %q to %s and made it the current context\n", kubeconfig.Name, path)
			return err
		},
	}
	cmd.Flags().BoolVar(&o.merge, "merge", false, "add the minipod context to your kubeconfig instead of printing it")
	cmd.Flags().StringVar(&o.path, "kubeconfig", "", "the kubeconfig file --merge writes (default: $KUBECONFIG's first file, else ~/.kube/config)")
	return cmd
}
