// Command etcd is the etcd server that the Kubernetes release of
// ../apiserver uses, built from the Go module proxy (scripts/kube.sh).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
