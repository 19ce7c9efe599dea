// Command kube-apiserver is the Kubernetes API server of the release that
// go.mod requires, built from the Go module proxy. minipod's tests run it,
// with etcd, as the judge of which manifests a cluster accepts
// (scripts/kube.sh).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
