// Command kubectl is kubectl of the newest release the Go module proxy
// serves, so that minipod's tests drive the daemon with it beside the
// host's bundled versions (scripts/kube.sh).
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		// Pretty-print the error and exit with an error, as kubectl does.
		util.CheckErr(err)
	}
}
