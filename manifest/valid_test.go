package manifest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func mustParse(t *testing.T, name, data string) *File {
	t.Helper()
	f, err := Parse(name, []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParseMultiDocument(t *testing.T) {
	data := cfgDoc + secretDoc + "---\n" + pod(`env:
- name: GREETING
  valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}
- name: PASSWORD
  valueFrom: {secretKeyRef: {name: sec, key: password}}
- name: MISSING
  valueFrom: {configMapKeyRef: {name: absent, key: k, optional: true}}
- name: APP
  valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
envFrom:
- configMapRef: {name: cfg}
  prefix: CFG_
- secretRef: {name: sec}
volumeMounts:
- {name: config, mountPath: /etc/config, readOnly: true}
- {name: secret, mountPath: /etc/secret}
- {name: scratch, mountPath: /scratch, subPath: app}`, `volumes:
- name: config
  configMap:
    name: cfg
    items: [{key: greeting, path: greeting.txt, mode: 0400}]
- name: secret
  secret: {secretName: sec}
- name: scratch
  emptyDir: {medium: Memory, sizeLimit: 64Mi}
- name: logs
  hostPath: {path: /var/log, type: Directory}`)
	f := mustParse(t, "app.yaml", data)
	if f.Name != "app.yaml" || len(f.Pods) != 1 || len(f.ConfigMaps) != 1 || len(f.Secrets) != 1 {
		t.Fatalf("got %d pods, %d configmaps, %d secrets", len(f.Pods), len(f.ConfigMaps), len(f.Secrets))
	}
	if len(f.Warnings) != 0 {
		t.Errorf("unexpected warnings: %q", f.Warnings)
	}
	p := f.Pods[0]
	if p.Kind != "Pod" || p.APIVersion != "v1" || p.Name != "web" {
		t.Errorf("pod type/name: %s %s %s", p.APIVersion, p.Kind, p.Name)
	}
	if got := len(p.Spec.Containers[0].Env); got != 4 {
		t.Errorf("env count %d", got)
	}
	if s := f.Secrets[0]; string(s.Data["password"]) != "hunter2" || s.StringData != nil || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret not defaulted: data %q stringData %v type %q", s.Data, s.StringData, s.Type)
	}
	if cm := f.ConfigMaps[0]; cm.Namespace != "default" || cm.Data["greeting"] != "hello" {
		t.Errorf("configmap: %+v", cm)
	}
	if m := p.Spec.Volumes[0].ConfigMap.Items[0].Mode; m == nil || *m != 0o400 {
		t.Errorf("item mode %v", m)
	}
}

func TestParseJSON(t *testing.T) {
	one := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx:1.25","ports":[{"containerPort":80}]}]}}`
	f := mustParse(t, "pod.json", one)
	if len(f.Pods) != 1 || f.Pods[0].Spec.Containers[0].Ports[0].ContainerPort != 80 {
		t.Fatalf("pods %+v", f.Pods)
	}
	// A stream of JSON objects, as `kubectl get -o json` of several objects writes.
	stream := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"b"}}` + "\n" + one
	f = mustParse(t, "all.json", stream)
	if len(f.Pods) != 1 || len(f.ConfigMaps) != 1 {
		t.Fatalf("stream: %d pods %d configmaps", len(f.Pods), len(f.ConfigMaps))
	}
}

func TestParseList(t *testing.T) {
	data := `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg}
  data: {greeting: hello}
- apiVersion: v1
  kind: Pod
  metadata: {name: web}
  spec:
    containers:
    - name: app
      image: nginx
      env: [{name: G, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}]
`
	f := mustParse(t, "list.yaml", data)
	if len(f.Pods) != 1 || len(f.ConfigMaps) != 1 {
		t.Fatalf("%d pods %d configmaps", len(f.Pods), len(f.ConfigMaps))
	}
}

// What `kubectl run web --image=nginx --dry-run=client -o yaml` writes.
func TestParseKubectlOutput(t *testing.T) {
	data := `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: web
  name: web
spec:
  containers:
  - image: nginx
    name: web
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
`
	f := mustParse(t, "web.yaml", data)
	if len(f.Pods) != 1 || len(f.Warnings) != 0 {
		t.Fatalf("pods %d warnings %q", len(f.Pods), f.Warnings)
	}
}

func TestParseWarnings(t *testing.T) {
	data := pod("", `nodeName: node1
nodeSelector: {disk: ssd}
affinity:
  nodeAffinity: {}
tolerations: [{key: k, operator: Exists}]
priorityClassName: high
priority: 1000
schedulerName: my-scheduler
serviceAccountName: builder
serviceAccount: builder
automountServiceAccountToken: true
topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
preemptionPolicy: Never
enableServiceLinks: true
readinessGates: [{conditionType: Ready}]`)
	f := mustParse(t, "pod.yaml", data)
	want := []string{
		"spec.nodeName", "spec.nodeSelector", "spec.affinity", "spec.tolerations", "spec.priorityClassName",
		"spec.priority", "spec.schedulerName", "spec.serviceAccountName", "spec.serviceAccount",
		"spec.automountServiceAccountToken", "spec.topologySpreadConstraints", "spec.preemptionPolicy",
		"spec.enableServiceLinks", "spec.readinessGates",
	}
	if len(f.Warnings) != len(want) {
		t.Fatalf("got %d warnings, want %d: %q", len(f.Warnings), len(want), f.Warnings)
	}
	for i, field := range want {
		if !strings.HasPrefix(f.Warnings[i], w1+field+": ignored by minipod (") {
			t.Errorf("warning %d = %q, want it to name %s", i, f.Warnings[i], field)
		}
	}
	if f.Warnings[0] != `pod.yaml: document 1 (Pod "web"): spec.nodeName: ignored by minipod (one host, no scheduler)` {
		t.Errorf("warning text: %q", f.Warnings[0])
	}
}

func TestDefaults(t *testing.T) {
	data := pod("ports:\n- containerPort: 80\nenv:\n- name: POD\n  valueFrom: {fieldRef: {fieldPath: metadata.name}}", `initContainers:
- name: init
  image: registry.local:5000/tools:1.0
- name: digest
  image: busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
- name: latest
  image: busybox:latest
- name: pinned
  image: busybox:1.36
  imagePullPolicy: Never
volumes:
- name: cfg
  configMap: {name: cfg, optional: true}
- name: sec
  secret: {secretName: sec, optional: true, defaultMode: 0600}
- name: logs
  hostPath: {path: /var/log}
- name: scratch`)
	p := mustParse(t, "pod.yaml", data).Pods[0]
	if p.Namespace != "default" {
		t.Errorf("namespace %q", p.Namespace)
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("restartPolicy %q", p.Spec.RestartPolicy)
	}
	if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("terminationGracePeriodSeconds %v", g)
	}
	if p.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("dnsPolicy %q", p.Spec.DNSPolicy)
	}
	if p.Spec.SchedulerName != "" {
		t.Errorf("schedulerName %q, want unset", p.Spec.SchedulerName)
	}
	pull := map[string]corev1.PullPolicy{}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		pull[c.Name] = c.ImagePullPolicy
		if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			t.Errorf("%s: termination message %q %q", c.Name, c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
	}
	wantPull := map[string]corev1.PullPolicy{
		"app": corev1.PullAlways, "init": corev1.PullIfNotPresent, "digest": corev1.PullIfNotPresent,
		"latest": corev1.PullAlways, "pinned": corev1.PullNever,
	}
	if !reflect.DeepEqual(pull, wantPull) {
		t.Errorf("imagePullPolicy %v, want %v", pull, wantPull)
	}
	app := p.Spec.Containers[0]
	if app.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol %q", app.Ports[0].Protocol)
	}
	if app.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion %q", app.Env[0].ValueFrom.FieldRef.APIVersion)
	}
	vols := p.Spec.Volumes
	if m := vols[0].ConfigMap.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("configMap defaultMode %v", m)
	}
	if m := vols[1].Secret.DefaultMode; m == nil || *m != 0o600 {
		t.Errorf("secret defaultMode %v, want the given 0600", m)
	}
	if ty := vols[2].HostPath.Type; ty == nil || *ty != "" {
		t.Errorf("hostPath type %v", ty)
	}
	if vols[3].EmptyDir == nil || vols[3].EmptyDir.Medium != "" {
		t.Errorf("a volume with no source should become an emptyDir: %+v", vols[3].VolumeSource)
	}
}

func TestSplitImage(t *testing.T) {
	for _, tc := range []struct{ image, name, tag, digest string }{
		{"nginx", "nginx", "", ""},
		{"nginx:1.25", "nginx", "1.25", ""},
		{"localhost:5000/app", "localhost:5000/app", "", ""},
		{"localhost:5000/app:v1", "localhost:5000/app", "v1", ""},
		{"app@sha256:abc", "app", "", "sha256:abc"},
		{"app:v1@sha256:abc", "app", "v1", "sha256:abc"},
	} {
		name, tag, digest := splitImage(tc.image)
		if name != tc.name || tag != tc.tag || digest != tc.digest {
			t.Errorf("splitImage(%q) = %q %q %q", tc.image, name, tag, digest)
		}
	}
}

func TestDocumentNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		docs []int // numbers of documents with content
	}{
		{"no marker", "a: 1\n", []int{1}},
		{"leading marker", "---\na: 1\n", []int{1}},
		{"comment before marker", "# hi\n%YAML 1.1\n---\na: 1\n---\nb: 2\n", []int{1, 2}},
		{"empty document counts", "a: 1\n---\n---\nb: 2\n", []int{1, 3}},
		{"content on the marker line", "--- {a: 1}\n", []int{1}},
		{"end marker", "a: 1\n...\n---\nb: 2\n", []int{1, 2}},
		{"bare document after end marker", "a: 1\n...\nb: 2\n", []int{1, 2}},
		{"not a marker", "a: |\n  ---x\n----\n", []int{1}},
	} {
		var got []int
		for _, d := range splitYAML([]byte(tc.data)) {
			if d.content {
				got = append(got, d.num)
			}
		}
		if !reflect.DeepEqual(got, tc.docs) {
			t.Errorf("%s: documents %v, want %v", tc.name, got, tc.docs)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(path, []byte(pod("", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path, nil)
	if err != nil || len(f.Pods) != 1 {
		t.Fatalf("ReadFile: %v", err)
	}

	_, err = ReadFile("-", strings.NewReader(pod("bogus: 1", "")))
	if err == nil || !strings.HasPrefix(err.Error(), `<stdin>: document 1 (Pod "web"): spec.containers[0]: unknown field "bogus"`) {
		t.Errorf("stdin error: %v", err)
	}

	_, err = ReadFile("-", bytes.NewReader(make([]byte, MaxSize+10)))
	var e *Error
	if !errors.As(err, &e) || e.Source.File != "-" || !strings.HasPrefix(err.Error(), "<stdin>: too large") {
		t.Errorf("oversized stdin: %v", err)
	}

	_, err = ReadFile(filepath.Join(dir, "missing.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSimpleWebappExample(t *testing.T) {
	f, err := ReadFile(filepath.Join("..", "examples", "simple-webapp", "pod.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pods) != 1 || len(f.Warnings) != 0 {
		t.Fatalf("pods %d warnings %q", len(f.Pods), f.Warnings)
	}
	p := f.Pods[0]
	if p.Name != "simple-webapp" || p.Labels["name"] != "simple-webapp" || len(p.Spec.Containers) != 2 {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
	web, agent := p.Spec.Containers[0], p.Spec.Containers[1]
	// The seed's images, tagged so that the demo images load and run offline.
	if web.Name != "simple-webapp" || web.Image != "simple-webapp:1.0" || web.Ports[0].ContainerPort != 8080 {
		t.Errorf("simple-webapp container %+v", web)
	}
	if agent.Name != "log-agent" || agent.Image != "log-agent:1.0" {
		t.Errorf("log-agent container %+v", agent)
	}
}

func TestDecodePod(t *testing.T) {
	src := Source{File: "request"}
	p, warnings, err := DecodePod(src, []byte(`{"metadata":{"name":"web"},"spec":{"nodeName":"n","containers":[{"name":"app","image":"nginx"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != "Pod" || p.Namespace != "default" || p.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("not typed or defaulted: %s %s %s", p.Kind, p.Namespace, p.Spec.Containers[0].ImagePullPolicy)
	}
	if len(warnings) != 1 || warnings[0] != `request (Pod "web"): spec.nodeName: ignored by minipod (one host, no scheduler)` {
		t.Errorf("warnings %q", warnings)
	}
	// References are left to ValidatePod.
	p, _, err = DecodePod(src, []byte(`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx","envFrom":[{"configMapRef":{"name":"cfg"}}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	err = ValidatePod(src, p, Refs{})
	if err == nil || err.Error() != `request (Pod "web"): spec.containers[0].envFrom[0].configMapRef.name: not found: configMap "cfg" in namespace "default" (define it in the same file or create it first, or set optional: true)` {
		t.Errorf("ValidatePod: %v", err)
	}
	if err := ValidatePod(src, p, Refs{ConfigMaps: map[string]*corev1.ConfigMap{"cfg": {}}}); err != nil {
		t.Errorf("ValidatePod with the ConfigMap: %v", err)
	}

	for _, tc := range []struct{ data, want string }{
		{`{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx","imagePullPolice":"x"}]}}`,
			`request (Pod "web"): spec.containers[0]: unknown field "imagePullPolice"`},
		{`{"kind":"ConfigMap","metadata":{"name":"web"}}`,
			`request (ConfigMap "web"): kind: expected apiVersion "v1" kind "Pod", got apiVersion "v1" kind "ConfigMap"`},
		{`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx","livenessProbe":{"exec":{},"grpc":{"port":1}}}]}}`,
			"request (Pod \"web\"): spec.containers[0].livenessProbe: forbidden: may not specify more than 1 handler type (one of exec, httpGet, tcpSocket, grpc)\n" +
				`request (Pod "web"): spec.containers[0].livenessProbe.grpc: not supported by minipod`},
		{`{"metadata":{"name":"web"}} {}`, `request (Pod): invalid JSON: unexpected data after the top-level value`},
		{`metadata: {name: web}\nspec: {containers: [{name: app, image: nginx}]}`, ""},
		{``, `request (Pod): empty: expected a v1 Pod`},
	} {
		_, _, err := DecodePod(src, []byte(strings.ReplaceAll(tc.data, `\n`, "\n")))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("DecodePod(%s):\n got %s\nwant %s", tc.data, got, tc.want)
		}
	}
}

func TestDecodeConfigMapAndSecret(t *testing.T) {
	src := Source{File: "request"}
	cm, _, err := DecodeConfigMap(src, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"b"},"binaryData":{"c":"AAE="}}`))
	if err != nil || cm.Data["a"] != "b" || !bytes.Equal(cm.BinaryData["c"], []byte{0, 1}) || cm.Namespace != "default" {
		t.Fatalf("DecodeConfigMap: %v %+v", err, cm)
	}
	_, _, err = DecodeConfigMap(src, []byte(`{"metadata":{"name":"cfg"},"data":{"a b":"x"}}`))
	if err == nil || err.Error() != `request (ConfigMap "cfg"): data["a b"]: invalid key "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')` {
		t.Errorf("DecodeConfigMap bad key: %v", err)
	}
	s, _, err := DecodeSecret(src, []byte(`{"metadata":{"name":"s"},"data":{"a":"eA=="},"stringData":{"a":"y","b":"z"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["a"]) != "y" || string(s.Data["b"]) != "z" || s.StringData != nil || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("stringData not merged: %q %v %q", s.Data, s.StringData, s.Type)
	}
}

var update = flag.Bool("update", false, "rewrite FIELDS.md from the support table")

func TestFieldsDoc(t *testing.T) {
	var buf bytes.Buffer
	WriteMarkdownTable(&buf)
	if *update {
		if err := os.WriteFile("FIELDS.md", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile("FIELDS.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Errorf("FIELDS.md is out of date; run: go test ./manifest -run TestFieldsDoc -update")
	}
}

// Every path in the support table names a real field of the v1 types, so a
// typo in fields.go cannot silently refuse a field.
func TestFieldTablePathsExist(t *testing.T) {
	types := map[string]reflect.Type{"Pod": reflect.TypeFor[corev1.Pod](), "ConfigMap": reflect.TypeFor[corev1.ConfigMap](), "Secret": reflect.TypeFor[corev1.Secret]()}
	for _, r := range FieldTable() {
		ty := types[r.Kind]
		for _, part := range strings.Split(r.Path, ".") {
			name := strings.TrimSuffix(part, "[]")
			for ty.Kind() == reflect.Pointer {
				ty = ty.Elem()
			}
			ft, ok := jsonFields(ty)[name]
			if !ok {
				t.Errorf("%s %s: no field %q", r.Kind, r.Path, name)
				break
			}
			ty = ft
			if strings.HasSuffix(part, "[]") {
				for ty.Kind() == reflect.Pointer {
					ty = ty.Elem()
				}
				ty = ty.Elem()
			}
		}
		if r.Status != Supported && r.Status != Warning && r.Status != NeedsCluster {
			t.Errorf("%s %s: status %q", r.Kind, r.Path, r.Status)
		}
	}
}
