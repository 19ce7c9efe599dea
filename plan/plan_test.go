package plan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/minipod/minipod/internal/golden"
	"github.com/minipod/minipod/manifest"
)

// goldenUID replaces the UID a pod would get when created, so the goldens
// are stable.
const goldenUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

// goldenResolvConf is the host's resolv.conf of the goldens: its loopback
// nameserver must not reach the pod's.
const goldenResolvConf = "# a host's resolver\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\noptions edns0\n"

// Secret values of the configmap-secret case: they must never appear in a
// printed plan.
const (
	secretPassword = "hunter2-never-print-me"
	secretToken    = "tok-3f9a1c-never-print-me"
	secretTLSKey   = "-----BEGIN KEY----- never-print-me"
)

var planCases = []struct {
	name   string
	yaml   string
	file   string // read from here instead of yaml
	images map[string]*ImageConfig
}{
	{
		name: "shared-emptydir",
		yaml: `apiVersion: v1
kind: Pod
metadata:
  name: shared
  labels:
    app: shared
spec:
  containers:
  - name: writer
    image: busybox:1.36
    command: ["sh", "-c", "while true; do date >> /data/out.log; sleep 1; done"]
    ports:
    - containerPort: 8080
      hostPort: 18080
    volumeMounts:
    - name: data
      mountPath: /data
    - name: scratch
      mountPath: /scratch
  - name: reader
    image: busybox:1.36
    command: ["tail", "-F", "/data/out.log"]
    volumeMounts:
    - name: data
      mountPath: /data
      readOnly: true
  volumes:
  - name: data
    emptyDir: {}
  - name: scratch
    emptyDir:
      medium: Memory
      sizeLimit: 64Mi
`,
	},
	{
		name: "init-containers",
		yaml: `apiVersion: v1
kind: Pod
metadata:
  name: with-init
  namespace: team-a
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: fetch
    image: busybox:1.36
    command: ["sh", "-c", "echo hello > /work/index.html"]
    volumeMounts:
    - name: work
      mountPath: /work
  - name: check
    image: registry.local:5000/tools/check@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    args: ["--dir", "/work"]
    volumeMounts:
    - name: work
      mountPath: /work
      readOnly: true
  containers:
  - name: web
    image: registry.local:5000/web:2.0
    imagePullPolicy: Never
    workingDir: /srv
    ports:
    - containerPort: 80
    volumeMounts:
    - name: work
      mountPath: /srv/www
      subPath: site
  volumes:
  - name: work
`,
	},
	{
		name: "configmap-secret",
		yaml: `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  LOG_LEVEL: debug
  app.conf: |
    listen 8080
  extra.ini: "x=1"
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
data:
  password: ` + base64.StdEncoding.EncodeToString([]byte(secretPassword)) + `
stringData:
  token: ` + secretToken + `
  tls.key: "` + secretTLSKey + `"
---
apiVersion: v1
kind: Pod
metadata:
  name: configured
  labels:
    tier: backend
spec:
  containers:
  - name: app
    image: app:1.0
    env:
    - name: GREETING
      value: hello world
    - name: LOG_LEVEL
      valueFrom:
        configMapKeyRef:
          name: app-config
          key: LOG_LEVEL
    - name: PASSWORD
      valueFrom:
        secretKeyRef:
          name: app-secret
          key: password
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
        name: app-config
    - prefix: SEC_
      secretRef:
        name: app-secret
    volumeMounts:
    - name: config
      mountPath: /etc/app
      readOnly: true
    - name: tls
      mountPath: /etc/tls
      readOnly: true
  volumes:
  - name: config
    configMap:
      name: app-config
      items:
      - key: app.conf
        path: conf/app.conf
        mode: 0400
      - key: extra.ini
        path: extra.ini
  - name: tls
    secret:
      secretName: app-secret
      defaultMode: 0440
`,
	},
	{
		name: "simple-webapp",
		file: filepath.Join("..", "examples", "simple-webapp", "pod.yaml"),
	},
	{
		name: "image-config",
		yaml: `apiVersion: v1
kind: Pod
metadata:
  name: argv
spec:
  containers:
  - name: defaults
    image: srv:1
  - name: command-only
    image: srv:1
    command: ["/bin/other", "--flag"]
  - name: args-only
    image: srv:1
    args: ["--port", "9090"]
    env:
    - name: PATH
      value: /custom/bin
    - name: MODE
      value: pod
  - name: command-and-args
    image: srv:1
    command: ["/bin/sh", "-c"]
    args: ["echo $MODE && exec srv"]
    workingDir: /override
`,
		images: map[string]*ImageConfig{
			"srv:1": {
				Entrypoint: []string{"/usr/bin/srv"},
				Cmd:        []string{"--listen", ":8080"},
				Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "MODE=image", "HOME=/root"},
				WorkingDir: "/app",
				StopSignal: "SIGQUIT",
			},
		},
	},
}

// planOf parses a case's manifest as the CLI does and plans its one pod.
func planOf(tb testing.TB, name string, data []byte, images map[string]*ImageConfig) *Plan {
	tb.Helper()
	f, err := manifest.Parse(name, data)
	if err != nil {
		tb.Fatalf("manifest.Parse(%s): %v", name, err)
	}
	if len(f.Pods) != 1 {
		tb.Fatalf("manifest.Parse(%s): %d pods, want 1", name, len(f.Pods))
	}
	pod := f.Pods[0]
	pod.UID = types.UID(goldenUID)
	p, err := Pod(pod, Options{Images: images, ConfigMaps: f.ConfigMaps, Secrets: f.Secrets, HostResolvConf: []byte(goldenResolvConf)})
	if err != nil {
		tb.Fatalf("Plan(%s): %v", name, err)
	}
	return p
}

func TestPlanGolden(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.yaml)
			name := tc.name + ".yaml"
			if tc.file != "" {
				var err error
				if data, err = os.ReadFile(tc.file); err != nil {
					t.Fatal(err)
				}
				name = tc.file
			}
			p := planOf(t, name, data, tc.images)

			var text bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			js, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatalf("json.MarshalIndent: %v", err)
			}
			js = append(js, '\n')

			golden.Compare(t, filepath.Join("testdata", "plan-"+tc.name+".txt.golden"), text.Bytes())
			golden.Compare(t, filepath.Join("testdata", "plan-"+tc.name+".json.golden"), js)

			// Whatever the case, no secret value is ever printed, in clear
			// or as base64.
			for _, s := range []string{secretPassword, secretToken, secretTLSKey} {
				for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
					if bytes.Contains(text.Bytes(), []byte(form)) {
						t.Errorf("WriteText output contains secret value %q", form)
					}
					if bytes.Contains(js, []byte(form)) {
						t.Errorf("JSON of the plan contains secret value %q", form)
					}
				}
			}
		})
	}
}
