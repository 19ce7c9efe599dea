package manifest

import (
	"errors"
	"strings"
	"testing"
)

// pod builds a Pod "web" manifest: c is added to its first container
// (named app, image nginx), s to its spec, both without indentation.
func pod(c, s string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: nginx\n" +
		indent(c, "    ") + indent(s, "  ")
}

func indent(text, prefix string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

const (
	cfgDoc    = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  greeting: hello\n"
	secretDoc = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: sec\nstringData:\n  password: hunter2\n"
	w1        = `pod.yaml: document 1 (Pod "web"): `
)

// invalidCases are manifests that must be refused. want is the start of
// one line of the error: file, document, object and field path, and
// usually the message.
var invalidCases = []struct {
	name string
	file string // default pod.yaml
	data string
	want string
}{
	// Unknown fields, at every depth.
	{name: "unknown top-level field", data: pod("", "") + "foo: 1\n", want: w1 + `unknown field "foo"`},
	{name: "unknown container field", data: pod("imagePullPolice: Always", ""), want: w1 + `spec.containers[0]: unknown field "imagePullPolice"`},
	{name: "unknown field in list item", data: pod("ports:\n- containerPort: 80\n  hostPorts: 8080", ""), want: w1 + `spec.containers[0].ports[0]: unknown field "hostPorts"`},
	{name: "unknown metadata field", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  labelz: {a: b}\n", 1), want: w1 + `metadata: unknown field "labelz"`},
	{name: "field names are case sensitive", data: pod("Image: nginx", ""), want: w1 + `spec.containers[0]: unknown field "Image"`},
	{name: "unknown field inside refused field", data: pod("resources:\n  limitz: {cpu: 1}", ""), want: w1 + `spec.containers[0].resources: unknown field "limitz"`},
	{name: "unknown field in volume item", data: pod("", "volumes:\n- name: c\n  configMap:\n    name: cfg\n    itemz: []"), want: w1 + `spec.volumes[0].configMap: unknown field "itemz"`},
	{name: "unknown ConfigMap field", data: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndatas: {a: b}\n", want: `pod.yaml: document 1 (ConfigMap "cfg"): unknown field "datas"`},
	{name: "unknown field in init container", data: pod("", "initContainers:\n- name: init\n  image: busybox\n  cmd: [true]"), want: w1 + `spec.initContainers[0]: unknown field "cmd"`},

	// Wrong types.
	{name: "string where integer expected", data: pod("ports:\n- containerPort: \"80\"", ""), want: w1 + `spec.containers[0].ports[0].containerPort: expected an integer, got string "80"`},
	{name: "string where list expected", data: pod("command: sleep 10", ""), want: w1 + `spec.containers[0].command: expected a list`},
	{name: "number where string expected", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  labels:\n    app: 1\n", 1), want: w1 + `metadata.labels[app]: expected a string, got number 1`},
	{name: "secret data not base64", data: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  k: '%%%'\n", want: `pod.yaml: document 1 (Secret "s"): data[k]: invalid base64 data`},
	{name: "invalid resource quantity", data: pod("resources:\n  limits:\n    cpu: lots", ""), want: w1 + `spec.containers[0].resources.limits[cpu]: invalid quantity "lots"`},
	{name: "integer out of range", data: pod("ports:\n- containerPort: 99999999999", ""), want: w1 + `spec.containers[0].ports[0].containerPort: expected an integer that fits in 32 bits`},

	// Kinds and documents.
	{name: "unknown kind", data: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n", want: `pod.yaml: document 1 (Deployment "web"): kind: apiVersion "apps/v1" kind "Deployment" is not supported by minipod (supported: v1 Pod, v1 ConfigMap, v1 Secret, v1 List)`},
	{name: "unknown apiVersion", data: strings.Replace(pod("", ""), "apiVersion: v1", "apiVersion: v2", 1), want: w1 + `apiVersion: apiVersion "v2" kind "Pod" is not supported by minipod (supported: v1 Pod, v1 ConfigMap, v1 Secret, v1 List)`},
	{name: "missing kind", data: "apiVersion: v1\nmetadata: {name: web}\n", want: `pod.yaml: document 1: kind: required value (supported: v1 Pod, v1 ConfigMap, v1 Secret, v1 List)`},
	{name: "missing apiVersion", data: "kind: Pod\nmetadata: {name: web}\n", want: w1 + `apiVersion: required value`},
	{name: "document is not an object", data: "- a\n- b\n", want: `pod.yaml: document 1: expected an object (a v1 Pod, ConfigMap or Secret), got a list`},
	{name: "malformed YAML names the file line", data: cfgDoc + "---\napiVersion: v1\nkind: Pod\n  metadata: x\n", want: `pod.yaml: document 2: invalid YAML: yaml: line 11: mapping values are not allowed in this context`},
	{name: "duplicate key in YAML", data: pod("", "") + "kind: Pod\n", want: `pod.yaml: document 1: invalid YAML: yaml: unmarshal errors: line 9: key "kind" already set in map`},
	{name: "malformed JSON", file: "pod.json", data: "{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",,\n}", want: `pod.json: document 1: invalid JSON: line 2, column 16: invalid character ','`},
	{name: "duplicate key in JSON", file: "pod.json", data: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"}}`, want: `pod.json: document 1: invalid JSON: metadata: duplicate field "name"`},
	{name: "error in second JSON object", file: "pod.json", data: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}} {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"date":{}}`, want: `pod.json: document 2 (ConfigMap "b"): unknown field "date"`},
	{name: "oversized input", file: "big.yaml", data: strings.Repeat("#", MaxSize+1), want: `big.yaml: too large`},
	{name: "no objects", data: "# nothing\n---\n", want: `pod.yaml: no objects found`},
	{name: "empty documents are counted", data: "# leading comment\n---\n---\n# empty\n---\n" + pod("bogus: 1", ""), want: `pod.yaml: document 3 (Pod "web"): spec.containers[0]: unknown field "bogus"`},
	{name: "unknown field in a List", data: "apiVersion: v1\nkind: List\nfoo: 1\nitems: []\n", want: `pod.yaml: document 1 (List): unknown field "foo"`},
	{name: "List item of unknown kind", data: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n", want: `pod.yaml: document 1 (Service): items[0].kind: apiVersion "v1" kind "Service" is not supported`},
	{name: "unknown field in a List item", data: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: web}\n  spec: {containerz: []}\n", want: w1 + `spec: unknown field "containerz"`},

	// Refused: valid in Kubernetes, not honoured by minipod.
	{name: "resource other than cpu and memory refused", data: pod("resources:\n  limits: {ephemeral-storage: 1Gi}", ""), want: w1 + `spec.containers[0].resources.limits[ephemeral-storage]: not supported by minipod (supported: cpu, memory)`},
	{name: "memory limit below what runc enforces", data: pod("resources:\n  limits: {memory: 1Mi}", ""), want: w1 + `spec.containers[0].resources.limits[memory]: invalid value "1Mi": must be at least 6Mi, the least runc can enforce`},
	{name: "restartPolicy on an app container", data: pod("restartPolicy: Always", ""), want: w1 + `spec.containers[0].restartPolicy: forbidden: may only be set for init containers`},
	{name: "grpc probe refused", data: pod("livenessProbe:\n  grpc: {port: 9000}", ""), want: w1 + `spec.containers[0].livenessProbe.grpc: not supported by minipod`},
	{name: "schedulingGates need a cluster", data: pod("", "schedulingGates: [{name: example.com/wait}]"), want: w1 + `spec.schedulingGates: needs a cluster: scheduling gates are removed by a cluster's controllers`},
	{name: "extended resource needs a cluster", data: pod("resources: {limits: {example.com/gpu: 1}}", ""), want: w1 + `spec.containers[0].resources.limits[example.com/gpu]: needs a cluster: extended resources`},
	{name: "AppArmor annotation refused", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  annotations: {container.apparmor.security.beta.kubernetes.io/app: runtime/default}\n", 1), want: w1 + `metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: not supported by minipod`},
	{name: "appArmorProfile refused", data: pod("securityContext: {appArmorProfile: {type: Unconfined}}", ""), want: w1 + `spec.containers[0].securityContext.appArmorProfile: not supported by minipod`},
	{name: "seccomp Localhost without a profile", data: pod("securityContext: {seccompProfile: {type: Localhost}}", ""), want: w1 + `spec.containers[0].securityContext.seccompProfile.localhostProfile: required value`},
	{name: "seccomp profile escapes", data: pod("", "securityContext: {seccompProfile: {type: Localhost, localhostProfile: ../x.json}}"), want: w1 + `spec.securityContext.seccompProfile.localhostProfile: invalid value "../x.json": must not contain '..'`},
	{name: "runtimeClassName refused", data: pod("", "runtimeClassName: kata"), want: w1 + `spec.runtimeClassName: not supported by minipod`},
	{name: "hostUsers false refused", data: pod("", "hostUsers: false"), want: w1 + `spec.hostUsers: not supported by minipod`},
	{name: "metadata uid refused", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  uid: 1234\n", 1), want: w1 + `metadata.uid: not supported by minipod`},
	{name: "generateName without a name", data: strings.Replace(pod("", ""), "  name: web\n", "  generateName: web-\n", 1), want: `pod.yaml: document 1 (Pod): metadata.name: required value`},
	{name: "non-empty status refused", data: pod("", "") + "status: {phase: Running}\n", want: w1 + `status: not supported by minipod`},
	{name: "dnsPolicy None without nameservers", data: pod("", "dnsPolicy: None"), want: w1 + `spec.dnsConfig: required value: must provide at least one DNS nameserver when dnsPolicy is None`},
	{name: "hostAliases IP invalid", data: pod("", "hostAliases: [{ip: not-an-ip, hostnames: [db]}]"), want: w1 + `spec.hostAliases[0].ip: invalid value "not-an-ip": must be a valid IP address`},
	{name: "Windows pod needs a cluster", data: pod("", "os: {name: windows}"), want: w1 + `spec.os.name: needs a cluster: a windows pod runs on a windows node`},
	{name: "volume source refused", data: pod("", "volumes:\n- name: data\n  persistentVolumeClaim: {claimName: data}"), want: w1 + `spec.volumes[0].persistentVolumeClaim: not supported by minipod`},
	{name: "init container field refused", data: pod("", "initContainers:\n- name: init\n  image: busybox\n  tty: true"), want: w1 + `spec.initContainers[0].tty: not supported by minipod`},
	{name: "hugepages medium refused", data: pod("", "volumes:\n- name: hp\n  emptyDir: {medium: HugePages}"), want: w1 + `spec.volumes[0].emptyDir.medium: "HugePages" is not supported by minipod`},
	{name: "imagePullSecrets refused", data: pod("", "imagePullSecrets: [{name: reg}]"), want: w1 + `spec.imagePullSecrets: not supported by minipod`},

	// Validation, as the API server.
	{name: "pod name not a DNS subdomain", data: strings.Replace(pod("", ""), "name: web", "name: Web_1", 1), want: `pod.yaml: document 1 (Pod "Web_1"): metadata.name: invalid value "Web_1"`},
	{name: "pod name missing", data: strings.Replace(pod("", ""), "  name: web\n", "  labels: {a: b}\n", 1), want: `pod.yaml: document 1 (Pod): metadata.name: required value`},
	{name: "namespace not a DNS label", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  namespace: my.ns\n", 1), want: w1 + `metadata.namespace: invalid value "my.ns"`},
	{name: "container name not a DNS label", data: strings.Replace(pod("", ""), "name: app", "name: App", 1), want: w1 + `spec.containers[0].name: invalid value "App"`},
	{name: "container names unique across init and app", data: pod("", "initContainers:\n- name: app\n  image: busybox"), want: w1 + `spec.containers[0].name: duplicate value "app"`},
	{name: "at least one container", data: "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: []\n", want: w1 + `spec.containers: required value`},
	{name: "image required", data: strings.Replace(pod("", ""), "    image: nginx\n", "", 1), want: w1 + `spec.containers[0].image: required value`},
	{name: "imagePullPolicy value", data: pod("imagePullPolicy: Sometimes", ""), want: w1 + `spec.containers[0].imagePullPolicy: unsupported value "Sometimes"`},
	{name: "volume names unique", data: pod("", "volumes:\n- name: a\n  emptyDir: {}\n- name: a\n  emptyDir: {}"), want: w1 + `spec.volumes[1].name: duplicate value "a"`},
	{name: "volume name not a DNS label", data: pod("", "volumes:\n- name: A_b\n  emptyDir: {}"), want: w1 + `spec.volumes[0].name: invalid value "A_b"`},
	{name: "volume with two sources", data: pod("", "volumes:\n- name: a\n  emptyDir: {}\n  hostPath: {path: /tmp}"), want: w1 + `spec.volumes[0]: forbidden: may not specify more than 1 volume type`},
	{name: "volumeMount names an undeclared volume", data: pod("volumeMounts:\n- {name: data, mountPath: /data}", ""), want: w1 + `spec.containers[0].volumeMounts[0].name: not found: no volume named "data"`},
	{name: "mountPath missing", data: pod("volumeMounts:\n- {name: d}", "volumes:\n- {name: d, emptyDir: {}}"), want: w1 + `spec.containers[0].volumeMounts[0].mountPath: required value`},
	{name: "hostPath relative", data: pod("", "volumes:\n- {name: d, hostPath: {path: tmp}}"), want: w1 + `spec.volumes[0].hostPath.path: invalid value "tmp": must be an absolute path (the API server accepts it, but no kubelet can mount it reliably`},
	{name: "mountPath unique", data: pod("volumeMounts:\n- {name: d, mountPath: /data}\n- {name: d, mountPath: /data/}", "volumes:\n- {name: d, emptyDir: {}}"), want: w1 + `spec.containers[0].volumeMounts[1].mountPath: duplicate value "/data/"`},
	{name: "subPath with ..", data: pod("volumeMounts:\n- {name: d, mountPath: /data, subPath: a/../../b}", "volumes:\n- {name: d, emptyDir: {}}"), want: w1 + `spec.containers[0].volumeMounts[0].subPath: invalid value "a/../../b": must not contain '..'`},
	{name: "subPath absolute", data: pod("volumeMounts:\n- {name: d, mountPath: /data, subPath: /etc}", "volumes:\n- {name: d, emptyDir: {}}"), want: w1 + `spec.containers[0].volumeMounts[0].subPath: invalid value "/etc": must be a relative path`},
	{name: "containerPort out of range", data: pod("ports:\n- containerPort: 70000", ""), want: w1 + `spec.containers[0].ports[0].containerPort: invalid value 70000`},
	{name: "containerPort missing", data: pod("ports:\n- name: http", ""), want: w1 + `spec.containers[0].ports[0].containerPort: required value`},
	{name: "hostPort out of range", data: pod("ports:\n- {containerPort: 80, hostPort: 65536}", ""), want: w1 + `spec.containers[0].ports[0].hostPort: invalid value 65536`},
	{name: "hostPort used twice", data: pod("ports:\n- {containerPort: 80, hostPort: 8080}", "") + "  - name: two\n    image: nginx\n    ports:\n    - {containerPort: 81, hostPort: 8080}\n", want: w1 + `spec.containers[1].ports[0].hostPort: duplicate value "8080/TCP"`},
	{name: "port name too long", data: pod("ports:\n- {name: a-very-long-port-name, containerPort: 80}", ""), want: w1 + `spec.containers[0].ports[0].name: invalid value "a-very-long-port-name"`},
	{name: "port protocol", data: pod("ports:\n- {containerPort: 80, protocol: HTTP}", ""), want: w1 + `spec.containers[0].ports[0].protocol: unsupported value "HTTP"`},
	{name: "hostIP not an IP", data: pod("ports:\n- {containerPort: 80, hostPort: 80, hostIP: localhost}", ""), want: w1 + `spec.containers[0].ports[0].hostIP: invalid value "localhost"`},
	{name: "probe with two handlers", data: pod("readinessProbe:\n  exec: {command: [/bin/true]}\n  tcpSocket: {port: 80}", ""), want: w1 + `spec.containers[0].readinessProbe: forbidden: may not specify more than 1 handler type`},
	{name: "probe without handler", data: pod("startupProbe:\n  periodSeconds: 3", ""), want: w1 + `spec.containers[0].startupProbe: required value: must specify a handler type`},
	{name: "lifecycle handler with two handlers", data: pod("lifecycle:\n  preStop:\n    exec: {command: [/bin/true]}\n    sleep: {seconds: 1}", ""), want: w1 + `spec.containers[0].lifecycle.preStop: forbidden: may not specify more than 1 handler type`},
	{name: "restartPolicy value", data: pod("", "restartPolicy: Sometimes"), want: w1 + `spec.restartPolicy: unsupported value "Sometimes" (supported: "Always", "OnFailure", "Never")`},
	{name: "negative resource quantity", data: pod("resources:\n  requests: {cpu: '-1'}", ""), want: w1 + `spec.containers[0].resources.requests[cpu]: invalid value "-1": must be greater than or equal to 0`},
	{name: "request above limit", data: pod("resources:\n  requests: {memory: 2Gi}\n  limits: {memory: 1Gi}", ""), want: w1 + `spec.containers[0].resources.requests[memory]: invalid value "2Gi"`},
	{name: "env name", data: pod("env:\n- {name: 'A=B', value: x}", ""), want: w1 + `spec.containers[0].env[0].name: invalid value "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`},
	{name: "env value and valueFrom", data: pod("env:\n- name: A\n  value: x\n  valueFrom: {fieldRef: {fieldPath: metadata.name}}", ""), want: w1 + `spec.containers[0].env[0].valueFrom: invalid: may not be specified when value is not empty`},
	{name: "env valueFrom empty", data: pod("env:\n- name: A\n  valueFrom: {}", ""), want: w1 + `spec.containers[0].env[0].valueFrom: invalid: must specify one of`},
	{name: "fieldRef path invalid", data: pod("env:\n- name: A\n  valueFrom: {fieldRef: {fieldPath: spec.foo}}", ""), want: w1 + `spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: unsupported value "spec.foo"`},
	{name: "fieldRef apiVersion", data: pod("env:\n- name: A\n  valueFrom: {fieldRef: {apiVersion: v2, fieldPath: metadata.name}}", ""), want: w1 + `spec.containers[0].env[0].valueFrom.fieldRef.apiVersion: unsupported value "v2"`},
	{name: "configMapKeyRef to a missing ConfigMap", data: pod("env:\n- name: A\n  valueFrom: {configMapKeyRef: {name: nope, key: k}}", ""), want: w1 + `spec.containers[0].env[0].valueFrom.configMapKeyRef.name: not found: configMap "nope" in namespace "default"`},
	{name: "configMapKeyRef to a missing key", data: pod("env:\n- name: A\n  valueFrom: {configMapKeyRef: {name: cfg, key: nope}}", "") + cfgDoc, want: w1 + `spec.containers[0].env[0].valueFrom.configMapKeyRef.key: not found: key "nope" is not in configMap "cfg"`},
	{name: "secretKeyRef to a missing Secret", data: pod("env:\n- name: A\n  valueFrom: {secretKeyRef: {name: nope, key: k}}", ""), want: w1 + `spec.containers[0].env[0].valueFrom.secretKeyRef.name: not found: secret "nope"`},
	{name: "secretKeyRef to a missing key", data: secretDoc + "---\n" + pod("env:\n- name: A\n  valueFrom: {secretKeyRef: {name: sec, key: user}}", ""), want: `pod.yaml: document 2 (Pod "web"): spec.containers[0].env[0].valueFrom.secretKeyRef.key: not found: key "user" is not in secret "sec"`},
	{name: "envFrom a missing ConfigMap", data: pod("envFrom:\n- configMapRef: {name: nope}", ""), want: w1 + `spec.containers[0].envFrom[0].configMapRef.name: not found: configMap "nope"`},
	{name: "envFrom a missing Secret", data: pod("envFrom:\n- secretRef: {name: nope}", ""), want: w1 + `spec.containers[0].envFrom[0].secretRef.name: not found: secret "nope"`},
	{name: "envFrom with no source", data: pod("envFrom:\n- prefix: X_", ""), want: w1 + `spec.containers[0].envFrom[0]: invalid: must specify one of configMapRef, secretRef`},
	{name: "ConfigMap of another namespace does not resolve", data: strings.Replace(cfgDoc, "  name: cfg\n", "  name: cfg\n  namespace: other\n", 1) + "---\n" + pod("", "volumes:\n- name: c\n  configMap: {name: cfg}"), want: `pod.yaml: document 2 (Pod "web"): spec.volumes[0].configMap.name: not found: configMap "cfg" in namespace "default"`},
	{name: "secret volume to a missing Secret", data: pod("", "volumes:\n- name: s\n  secret: {secretName: nope}"), want: w1 + `spec.volumes[0].secret.secretName: not found: secret "nope"`},
	{name: "secret volume item key missing", data: pod("", "volumes:\n- name: s\n  secret:\n    secretName: sec\n    items: [{key: user, path: u}]") + secretDoc, want: w1 + `spec.volumes[0].secret.items[0].key: not found: key "user" is not in secret "sec"`},
	{name: "configMap volume item path with ..", data: pod("", "volumes:\n- name: c\n  configMap:\n    name: cfg\n    items: [{key: greeting, path: ../g}]") + cfgDoc, want: w1 + `spec.volumes[0].configMap.items[0].path: invalid value "../g": must not contain '..'`},
	{name: "configMap volume item path empty", data: pod("", "volumes:\n- name: c\n  configMap:\n    name: cfg\n    items: [{key: greeting, path: ''}]") + cfgDoc, want: w1 + `spec.volumes[0].configMap.items[0].path: required value`},
	{name: "configMap volume item path absolute", data: pod("", "volumes:\n- name: c\n  configMap:\n    name: cfg\n    items: [{key: greeting, path: /g}]") + cfgDoc, want: w1 + `spec.volumes[0].configMap.items[0].path: invalid value "/g": must be a relative path`},
	{name: "defaultMode out of range", data: pod("", "volumes:\n- name: c\n  configMap: {name: cfg, defaultMode: 01000}") + cfgDoc, want: w1 + `spec.volumes[0].configMap.defaultMode: invalid value 512`},
	{name: "item mode negative", data: pod("", "volumes:\n- name: s\n  secret:\n    secretName: sec\n    items: [{key: password, path: p, mode: -1}]") + secretDoc, want: w1 + `spec.volumes[0].secret.items[0].mode: invalid value -1`},
	{name: "privileged without privilege escalation", data: pod("securityContext: {privileged: true, allowPrivilegeEscalation: false}", ""), want: w1 + "spec.containers[0].securityContext: invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
	{name: "shareProcessNamespace with hostPID", data: pod("", "shareProcessNamespace: true\nhostPID: true"), want: w1 + `spec.shareProcessNamespace: invalid value true: ShareProcessNamespace and HostPID cannot both be enabled`},
	{name: "negative runAsUser", data: pod("securityContext: {runAsUser: -1}", ""), want: w1 + `spec.containers[0].securityContext.runAsUser: invalid value -1: must be between 0 and 2147483647`},
	{name: "liveness successThreshold", data: pod("livenessProbe: {exec: {command: ['true']}, successThreshold: 2}", ""), want: w1 + `spec.containers[0].livenessProbe.successThreshold: invalid value 2: must be 1`},
	{name: "label key invalid", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  labels: {'bad key!': x}\n", 1), want: w1 + `metadata.labels["bad key!"]: invalid label key "bad key!"`},
	{name: "label value invalid", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  labels: {app: 'a b'}\n", 1), want: w1 + `metadata.labels[app]: invalid label value "a b"`},
	{name: "annotation key invalid", data: strings.Replace(pod("", ""), "  name: web\n", "  name: web\n  annotations: {'-x': z}\n", 1), want: w1 + `metadata.annotations[-x]: invalid annotation key "-x"`},
	{name: "hostPath relative", data: pod("", "volumes:\n- name: h\n  hostPath: {path: var/log}"), want: w1 + `spec.volumes[0].hostPath.path: invalid value "var/log": must be an absolute path`},
	{name: "hostPath type", data: pod("", "volumes:\n- name: h\n  hostPath: {path: /var/log, type: Folder}"), want: w1 + `spec.volumes[0].hostPath.type: unsupported value "Folder"`},
	{name: "emptyDir medium", data: pod("", "volumes:\n- name: e\n  emptyDir: {medium: Disk}"), want: w1 + `spec.volumes[0].emptyDir.medium: unsupported value "Disk"`},
	{name: "hostname not a DNS label", data: pod("", "hostname: my_host"), want: w1 + `spec.hostname: invalid value "my_host"`},
	{name: "ConfigMap key invalid", data: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a/b: x}\n", want: `pod.yaml: document 1 (ConfigMap "cfg"): data[a/b]: invalid key "a/b"`},
	{name: "ConfigMap name invalid", data: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: My_Cfg}\n", want: `pod.yaml: document 1 (ConfigMap "My_Cfg"): metadata.name: invalid value "My_Cfg"`},
	{name: "Secret stringData key invalid", data: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {'a b': x}\n", want: `pod.yaml: document 1 (Secret "s"): data["a b"]: invalid key "a b"`},
	{name: "TLS Secret without key", data: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n", want: `pod.yaml: document 1 (Secret "s"): data[tls.key]: required value`},
	{name: "duplicate object names", data: cfgDoc + cfgDoc, want: `pod.yaml: document 2 (ConfigMap "cfg"): metadata.name: duplicate value "cfg": the same name is used in document 1`},
	{name: "duplicate pods in a List", data: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [{name: a, image: b}]}}\n- {apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [{name: a, image: b}]}}\n", want: w1 + `metadata.name: duplicate value "web": the same name is used earlier in this document`},
}

// errorList returns every *Error in err and checks that Error() has one
// line per problem.
func errorList(t *testing.T, err error) []*Error {
	t.Helper()
	var list []*Error
	var collect func(error)
	collect = func(e error) {
		var one *Error
		if errors.As(e, &one) && e == error(one) {
			list = append(list, one)
			return
		}
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range u.Unwrap() {
				collect(inner)
			}
		}
	}
	collect(err)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(list) {
		t.Fatalf("error has %d lines but %d *Error values:\n%v", len(lines), len(list), err)
	}
	for i, e := range list {
		if lines[i] != e.Error() {
			t.Errorf("line %d is %q, want %q", i, lines[i], e.Error())
		}
	}
	return list
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.file
			if name == "" {
				name = "pod.yaml"
			}
			f, err := Parse(name, []byte(tc.data))
			if err == nil {
				t.Fatalf("Parse succeeded (%d pods), want error %q", len(f.Pods), tc.want)
			}
			var first *Error
			if !errors.As(err, &first) {
				t.Fatalf("errors.As found no *Error in %v", err)
			}
			for _, e := range errorList(t, err) {
				if strings.HasPrefix(e.Error(), tc.want) {
					if e.Source.File != name {
						t.Errorf("Source.File = %q, want %q", e.Source.File, name)
					}
					return
				}
			}
			t.Errorf("no error line starts with\n  %s\ngot:\n%v", tc.want, err)
		})
	}
}

// Validation runs first where a refused field is also invalid.
func TestValidationBeforeRefusal(t *testing.T) {
	_, err := Parse("pod.yaml", []byte(pod("livenessProbe:\n  exec: {command: [/bin/true]}\n  grpc: {port: 80}", "")))
	if err == nil {
		t.Fatal("no error")
	}
	list := errorList(t, err)
	if len(list) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if list[0].Field != "spec.containers[0].livenessProbe" || !strings.HasPrefix(list[0].Message, "forbidden") {
		t.Errorf("first problem = %v, want the validation error", list[0])
	}
	if list[1].Message != "not supported by minipod" {
		t.Errorf("second problem = %v, want the refusal", list[1])
	}
}

func TestManyProblemsOneLineEach(t *testing.T) {
	data := pod("imagePullPolice: Always\nports:\n- containerPort: x", "nodeName: node1") + cfgDoc + "datas: {}\n"
	_, err := Parse("pod.yaml", []byte(data))
	if err == nil {
		t.Fatal("no error")
	}
	list := errorList(t, err)
	want := []string{
		w1 + `spec.containers[0]: unknown field "imagePullPolice"`,
		w1 + `spec.containers[0].ports[0].containerPort: expected an integer, got string "x"`,
		`pod.yaml: document 2 (ConfigMap "cfg"): unknown field "datas"`,
	}
	if len(list) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(list), len(want), err)
	}
	for i := range want {
		if list[i].Error() != want[i] {
			t.Errorf("problem %d:\n got %s\nwant %s", i, list[i], want[i])
		}
	}
	if list[0].Field != "spec.containers[0]" || list[0].Kind != "Pod" || list[0].Name != "web" || list[0].Source.Doc != 1 {
		t.Errorf("fields of the first problem: %+v", list[0])
	}
}
