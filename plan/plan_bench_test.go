package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/plan"
)

// tenContainerPod is a ConfigMap, a Secret and a pod of ten containers that
// share volumes and take env from all the sources Plan resolves.
func tenContainerPod() []byte {
	var b strings.Builder
	b.WriteString(`apiVersion: v1
kind: ConfigMap
metadata:
  name: bench-config
data:
  LOG_LEVEL: info
  app.conf: "listen 8080"
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-secret
stringData:
  token: not-a-real-token
---
apiVersion: v1
kind: Pod
metadata:
  name: bench
  labels:
    app: bench
spec:
  volumes:
  - name: shared
    emptyDir: {}
  - name: scratch
    emptyDir:
      medium: Memory
      sizeLimit: 32Mi
  - name: config
    configMap:
      name: bench-config
  - name: secret
    secret:
      secretName: bench-secret
  containers:
`)
	for i := range 10 {
		fmt.Fprintf(&b, `  - name: c%d
    image: registry.local:5000/bench/app:1.%d
    command: ["/bin/app"]
    args: ["--id", "%d"]
    ports:
    - containerPort: %d
    env:
    - name: INDEX
      value: "%d"
    - name: LOG_LEVEL
      valueFrom:
        configMapKeyRef:
          name: bench-config
          key: LOG_LEVEL
    - name: TOKEN
      valueFrom:
        secretKeyRef:
          name: bench-secret
          key: token
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    envFrom:
    - prefix: CFG_
      configMapRef:
        name: bench-config
    volumeMounts:
    - name: shared
      mountPath: /shared
    - name: scratch
      mountPath: /scratch
    - name: config
      mountPath: /etc/app
      readOnly: true
    - name: secret
      mountPath: /etc/secret
      readOnly: true
`, i, i, i, 8000+i, i)
	}
	return []byte(b.String())
}

// BenchmarkReadValidatePlan10 is what `minipod run --dry-run` costs before
// any host work: parse, default and validate the manifest, then plan.
func BenchmarkReadValidatePlan10(b *testing.B) {
	data := tenContainerPod()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := manifest.Parse("bench.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Pod(f.Pods[0], plan.Options{ConfigMaps: f.ConfigMaps, Secrets: f.Secrets})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Containers) != 10 {
			b.Fatalf("plan has %d containers, want 10", len(p.Containers))
		}
	}
}

// BenchmarkPlan10 is Plan alone, for the same pod, to tell its cost from
// the manifest reader's.
func BenchmarkPlan10(b *testing.B) {
	f, err := manifest.Parse("bench.yaml", tenContainerPod())
	if err != nil {
		b.Fatal(err)
	}
	opts := plan.Options{ConfigMaps: f.ConfigMaps, Secrets: f.Secrets}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan.Pod(f.Pods[0], opts); err != nil {
			b.Fatal(err)
		}
	}
}
