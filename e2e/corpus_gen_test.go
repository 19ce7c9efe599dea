package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The corpus of manifests that both a real kube-apiserver and `minipod run
// --dry-run` judge (TestAPIServerOracle). Each case is a small pod written
// here: a base pod plus the fields it sets, one concern per file, valid and
// invalid values alike, so that every PodSpec, Container, Volume and
// SecurityContext field of the current release is asked about. The files
// under testdata/corpus are generated from this table and checked in, so
// that a reader can run any of them by hand:
//
//	go test ./e2e -run TestCorpusFiles -update-corpus

var updateCorpus = flag.Bool("update-corpus", false, "rewrite e2e/testdata/corpus from the case table")

const corpusDir = "testdata/corpus"

// set is one field of a case: a dotted path (list indexes as numbers; an
// index equal to the list's length appends) and a YAML value.
type set struct{ path, value string }

type corpusCase struct {
	name string
	sets []set
	// extra documents written before the pod (ConfigMaps, Secrets, ...).
	extra []string
}

func c(name string, sets ...set) corpusCase { return corpusCase{name: name, sets: sets} }

// s is a set of the first container's field.
func s(path, value string) set { return set{"spec.containers.0." + path, value} }

// p is a set of a pod spec field.
func p(path, value string) set { return set{"spec." + path, value} }

const configMapDoc = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: demo
  app.conf: |
    level=info
`

const secretDoc = `apiVersion: v1
kind: Secret
metadata:
  name: creds
type: Opaque
stringData:
  user: admin
  password: hunter2
`

func withObjects(cc corpusCase) corpusCase {
	cc.extra = []string{configMapDoc, secretDoc}
	return cc
}

func corpusCases() []corpusCase {
	cases := []corpusCase{
		c("minimal"),
		// metadata
		c("meta-labels", set{"metadata.labels", "{app: web, tier: front}"}),
		c("meta-annotations", set{"metadata.annotations", `{note: "a pod of the corpus"}`}),
		c("meta-namespace-default", set{"metadata.namespace", "default"}),
		c("meta-creation-timestamp-null", set{"metadata.creationTimestamp", "null"}),
		c("meta-creation-timestamp-set", set{"metadata.creationTimestamp", `"2026-01-01T00:00:00Z"`}),
		c("meta-bad-name-upper", set{"metadata.name", "Corpus-Pod"}),
		c("meta-bad-name-underscore", set{"metadata.name", "corpus_pod"}),
		c("meta-bad-label-value", set{"metadata.labels", `{app: "has space"}`}),
		c("meta-bad-label-key", set{"metadata.labels", `{"-bad": x}`}),
		c("meta-generate-name", set{"metadata.generateName", "corpus-"}),
		c("meta-finalizers", set{"metadata.finalizers", "[example.com/keep]"}),
		c("meta-owner-references", set{"metadata.ownerReferences", `[{apiVersion: v1, kind: ConfigMap, name: settings, uid: 6d6f1b5e-3b7a-4f4e-9e43-0d7a1c2b3e4f}]`}),
		// containers: identity, command, env
		c("ctr-bad-name", s("name", "App_1")),
		c("ctr-duplicate-name", set{"spec.containers.1", "{name: app, image: busybox:1.36}"}),
		c("ctr-two", set{"spec.containers.1", "{name: helper, image: busybox:1.36, command: [sleep, '3600']}"}),
		c("ctr-no-image", s("image", `""`)),
		c("ctr-image-digest", s("image", "busybox@sha256:5e8e0509e829bb8f990249135a36e81a3ecbe94294e7a185cc14616e5fad96bd")),
		c("ctr-image-bad-ref", s("image", `"busybox:1.36 extra"`)),
		c("ctr-image-registry-port", s("image", "127.0.0.1:5000/demo/app:1.0")),
		c("ctr-pull-always", s("imagePullPolicy", "Always")),
		c("ctr-pull-never", s("imagePullPolicy", "Never")),
		c("ctr-pull-bad", s("imagePullPolicy", "Sometimes")),
		c("ctr-args", s("args", "[-c, 'echo hi; sleep 3600']"), s("command", "[sh]")),
		c("ctr-working-dir", s("workingDir", "/tmp")),
		c("ctr-working-dir-relative", s("workingDir", "tmp")),
		c("ctr-env-value", s("env", "[{name: GREETING, value: hello}]")),
		c("ctr-env-expansion", s("env", "[{name: A, value: one}, {name: B, value: $(A)-two}]")),
		c("ctr-env-bad-name", s("env", `[{name: "1BAD", value: x}]`)),
		c("ctr-env-dotted-name", s("env", `[{name: "my.var", value: x}]`)),
		c("ctr-env-value-and-from", s("env", "[{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]")),
		c("ctr-env-fieldref-name", s("env", "[{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]")),
		c("ctr-env-fieldref-ip", s("env", "[{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]")),
		c("ctr-env-fieldref-ips", s("env", "[{name: IPS, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}]")),
		c("ctr-env-fieldref-hostip", s("env", "[{name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}]")),
		c("ctr-env-fieldref-node", s("env", "[{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]")),
		c("ctr-env-fieldref-sa", s("env", "[{name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}]")),
		c("ctr-env-fieldref-label", s("env", `[{name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}]`)),
		c("ctr-env-fieldref-bad", s("env", "[{name: X, valueFrom: {fieldRef: {fieldPath: spec.nothing}}}]")),
		c("ctr-env-resourcefieldref", s("env", "[{name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}]")),
		c("ctr-env-resourcefieldref-bad", s("env", "[{name: MEM, valueFrom: {resourceFieldRef: {resource: limits.disk}}}]")),
		withObjects(c("ctr-env-configmapkeyref", s("env", "[{name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}]"))),
		withObjects(c("ctr-env-secretkeyref", s("env", "[{name: USER, valueFrom: {secretKeyRef: {name: creds, key: user}}}]"))),
		c("ctr-env-configmapkeyref-optional-missing", s("env", "[{name: MODE, valueFrom: {configMapKeyRef: {name: nosuch, key: mode, optional: true}}}]")),
		withObjects(c("ctr-envfrom-configmap", s("envFrom", "[{configMapRef: {name: settings}}]"))),
		withObjects(c("ctr-envfrom-secret-prefix", s("envFrom", "[{prefix: DB_, secretRef: {name: creds}}]"))),
		c("ctr-envfrom-empty", s("envFrom", "[{prefix: X_}]")),
		// ports
		c("ctr-port", s("ports", "[{containerPort: 8080}]")),
		c("ctr-port-named", s("ports", "[{name: http, containerPort: 8080, protocol: TCP}]")),
		c("ctr-port-udp", s("ports", "[{containerPort: 5353, protocol: UDP}]")),
		c("ctr-port-sctp", s("ports", "[{containerPort: 9999, protocol: SCTP}]")),
		c("ctr-port-hostport", s("ports", "[{containerPort: 8080, hostPort: 18080}]")),
		c("ctr-port-hostip", s("ports", "[{containerPort: 8080, hostPort: 18081, hostIP: 127.0.0.1}]")),
		c("ctr-port-zero", s("ports", "[{containerPort: 0}]")),
		c("ctr-port-too-big", s("ports", "[{containerPort: 70000}]")),
		c("ctr-port-bad-protocol", s("ports", "[{containerPort: 80, protocol: ICMP}]")),
		c("ctr-port-name-too-long", s("ports", "[{name: a-very-long-port-name, containerPort: 80}]")),
		c("ctr-port-duplicate-name", s("ports", "[{name: http, containerPort: 80}, {name: http, containerPort: 81}]")),
		// resources
		c("res-limits", s("resources", "{limits: {cpu: 500m, memory: 64Mi}}")),
		c("res-requests", s("resources", "{requests: {cpu: 100m, memory: 32Mi}}")),
		c("res-guaranteed", s("resources", "{requests: {cpu: 100m, memory: 32Mi}, limits: {cpu: 100m, memory: 32Mi}}")),
		c("res-request-over-limit", s("resources", "{requests: {cpu: '2'}, limits: {cpu: '1'}}")),
		c("res-negative", s("resources", "{limits: {memory: -1Mi}}")),
		c("res-ephemeral-storage", s("resources", "{limits: {ephemeral-storage: 1Gi}}")),
		c("res-hugepages", s("resources", "{limits: {hugepages-2Mi: 4Mi, memory: 64Mi}, requests: {hugepages-2Mi: 4Mi, memory: 64Mi}}")),
		c("res-extended", s("resources", "{limits: {example.com/gpu: '1'}}")),
		c("res-bad-name", s("resources", "{limits: {cpus: '1'}}")),
		c("res-claims", s("resources", "{claims: [{name: gpu}]}")),
		c("res-resize-policy", s("resizePolicy", "[{resourceName: cpu, restartPolicy: NotRequired}, {resourceName: memory, restartPolicy: RestartContainer}]")),
		c("res-resize-policy-bad", s("resizePolicy", "[{resourceName: cpu, restartPolicy: Sometimes}]")),
		c("pod-resources", p("resources", "{limits: {cpu: '1', memory: 128Mi}}")),
		c("pod-resources-requests", p("resources", "{requests: {cpu: 200m, memory: 64Mi}}")),
		c("pod-overhead", p("overhead", "{cpu: 100m}")),
		// probes
		c("probe-exec", s("livenessProbe", "{exec: {command: ['true']}}")),
		c("probe-http", s("readinessProbe", "{httpGet: {path: /, port: 8080}}")),
		c("probe-http-named-port", s("ports", "[{name: http, containerPort: 8080}]"), s("readinessProbe", "{httpGet: {path: /healthz, port: http}}")),
		c("probe-http-headers", s("livenessProbe", "{httpGet: {path: /, port: 8080, scheme: HTTP, httpHeaders: [{name: X-Probe, value: '1'}]}}")),
		c("probe-tcp", s("livenessProbe", "{tcpSocket: {port: 8080}}")),
		c("probe-grpc", s("livenessProbe", "{grpc: {port: 9090}}")),
		c("probe-grpc-service", s("readinessProbe", "{grpc: {port: 9090, service: health}}")),
		c("probe-startup", s("startupProbe", "{exec: {command: ['true']}, failureThreshold: 30, periodSeconds: 1}")),
		c("probe-timings", s("livenessProbe", "{exec: {command: ['true']}, initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 4}")),
		c("probe-grace", s("livenessProbe", "{exec: {command: ['true']}, terminationGracePeriodSeconds: 5}")),
		c("probe-no-handler", s("livenessProbe", "{periodSeconds: 5}")),
		c("probe-two-handlers", s("livenessProbe", "{exec: {command: ['true']}, tcpSocket: {port: 80}}")),
		c("probe-liveness-success-threshold", s("livenessProbe", "{exec: {command: ['true']}, successThreshold: 2}")),
		c("probe-negative-period", s("readinessProbe", "{exec: {command: ['true']}, periodSeconds: -1}")),
		c("probe-bad-port", s("livenessProbe", "{tcpSocket: {port: 0}}")),
		c("probe-unknown-named-port", s("livenessProbe", "{httpGet: {path: /, port: nosuch}}")),
		// lifecycle
		c("life-poststart-exec", s("lifecycle", "{postStart: {exec: {command: [sh, -c, 'echo started > /tmp/started']}}}")),
		c("life-prestop-exec", s("lifecycle", "{preStop: {exec: {command: [sh, -c, 'sleep 1']}}}")),
		c("life-prestop-http", s("lifecycle", "{preStop: {httpGet: {path: /quit, port: 8080}}}")),
		c("life-prestop-sleep", s("lifecycle", "{preStop: {sleep: {seconds: 2}}}")),
		c("life-prestop-sleep-zero", s("lifecycle", "{preStop: {sleep: {seconds: 0}}}")),
		c("life-poststart-tcp", s("lifecycle", "{postStart: {tcpSocket: {port: 8080}}}")),
		c("life-stop-signal", s("lifecycle", "{stopSignal: SIGUSR1}"), p("os", "{name: linux}")),
		c("life-stop-signal-no-os", s("lifecycle", "{stopSignal: SIGUSR1}")),
		c("life-stop-signal-bad", s("lifecycle", "{stopSignal: SIGNOPE}"), p("os", "{name: linux}")),
		c("life-empty-handler", s("lifecycle", "{preStop: {}}")),
		// termination message
		c("term-message-path", s("terminationMessagePath", "/tmp/done")),
		c("term-message-policy", s("terminationMessagePolicy", "FallbackToLogsOnError")),
		c("term-message-policy-bad", s("terminationMessagePolicy", "Always")),
		// stdin / tty
		c("ctr-stdin", s("stdin", "true")),
		c("ctr-stdin-tty", s("stdin", "true"), s("tty", "true")),
		c("ctr-stdin-once", s("stdin", "true"), s("stdinOnce", "true")),
		c("ctr-tty-only", s("tty", "true")),
		// volume mounts
		c("vm-emptydir", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: /data}]")),
		c("vm-readonly", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: /data, readOnly: true}]")),
		c("vm-subpath", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: /data, subPath: logs}]")),
		c("vm-subpath-expr", p("volumes", "[{name: data, emptyDir: {}}]"), s("env", "[{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]"), s("volumeMounts", "[{name: data, mountPath: /data, subPathExpr: $(POD)}]")),
		c("vm-subpath-escape", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: /data, subPath: ../etc}]")),
		c("vm-subpath-absolute", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: /data, subPath: /etc}]")),
		c("vm-relative-mountpath", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeMounts", "[{name: data, mountPath: data}]")),
		c("vm-unknown-volume", s("volumeMounts", "[{name: nosuch, mountPath: /data}]")),
		c("vm-duplicate-mountpath", p("volumes", "[{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]"), s("volumeMounts", "[{name: a, mountPath: /data}, {name: b, mountPath: /data}]")),
		c("vm-propagation-none", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, mountPropagation: None}]")),
		c("vm-propagation-host-to-container", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, mountPropagation: HostToContainer}]")),
		c("vm-propagation-bidirectional", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, mountPropagation: Bidirectional}]")),
		c("vm-propagation-bidirectional-privileged", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("securityContext", "{privileged: true}"), s("volumeMounts", "[{name: h, mountPath: /h, mountPropagation: Bidirectional}]")),
		c("vm-recursive-readonly", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, readOnly: true, recursiveReadOnly: Enabled}]")),
		c("vm-recursive-readonly-ifpossible", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, readOnly: true, recursiveReadOnly: IfPossible}]")),
		c("vm-recursive-readonly-not-readonly", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus}}]"), s("volumeMounts", "[{name: h, mountPath: /h, recursiveReadOnly: Enabled}]")),
		c("vm-volume-devices", p("volumes", "[{name: data, emptyDir: {}}]"), s("volumeDevices", "[{name: data, devicePath: /dev/xvda}]")),
		// volumes
		c("vol-emptydir-memory", p("volumes", "[{name: m, emptyDir: {medium: Memory, sizeLimit: 16Mi}}]")),
		c("vol-emptydir-sizelimit", p("volumes", "[{name: d, emptyDir: {sizeLimit: 100Mi}}]")),
		c("vol-emptydir-bad-medium", p("volumes", "[{name: d, emptyDir: {medium: Disk}}]")),
		c("vol-emptydir-hugepages", p("volumes", "[{name: d, emptyDir: {medium: HugePages}}]")),
		c("vol-hostpath", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus, type: DirectoryOrCreate}}]")),
		c("vol-hostpath-file", p("volumes", "[{name: h, hostPath: {path: /tmp/minipod-corpus.txt, type: FileOrCreate}}]")),
		c("vol-hostpath-bad-type", p("volumes", "[{name: h, hostPath: {path: /tmp, type: Folder}}]")),
		c("vol-hostpath-relative", p("volumes", "[{name: h, hostPath: {path: tmp}}]")),
		c("vol-hostpath-dotdot", p("volumes", "[{name: h, hostPath: {path: /tmp/../etc}}]")),
		withObjects(c("vol-configmap", p("volumes", "[{name: cfg, configMap: {name: settings}}]"))),
		withObjects(c("vol-configmap-items", p("volumes", "[{name: cfg, configMap: {name: settings, items: [{key: app.conf, path: conf/app.conf, mode: 0400}], defaultMode: 0644}}]"))),
		c("vol-configmap-optional-missing", p("volumes", "[{name: cfg, configMap: {name: nosuch, optional: true}}]")),
		withObjects(c("vol-configmap-bad-mode", p("volumes", "[{name: cfg, configMap: {name: settings, defaultMode: 01000}}]"))),
		withObjects(c("vol-configmap-item-escape", p("volumes", "[{name: cfg, configMap: {name: settings, items: [{key: mode, path: ../mode}]}}]"))),
		withObjects(c("vol-secret", p("volumes", "[{name: sec, secret: {secretName: creds}}]"))),
		withObjects(c("vol-secret-items", p("volumes", "[{name: sec, secret: {secretName: creds, defaultMode: 0400, items: [{key: password, path: pw}]}}]"))),
		c("vol-secret-optional-missing", p("volumes", "[{name: sec, secret: {secretName: nosuch, optional: true}}]")),
		c("vol-downwardapi", p("volumes", "[{name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: name, fieldRef: {fieldPath: metadata.name}}]}}]")),
		c("vol-downwardapi-resource", p("volumes", "[{name: info, downwardAPI: {items: [{path: mem, resourceFieldRef: {containerName: app, resource: limits.memory}}]}}]")),
		c("vol-downwardapi-bad-field", p("volumes", "[{name: info, downwardAPI: {items: [{path: ip, fieldRef: {fieldPath: status.podIP}}]}}]")),
		withObjects(c("vol-projected", p("volumes", "[{name: all, projected: {sources: [{configMap: {name: settings}}, {secret: {name: creds}}, {downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}]}}]"))),
		c("vol-projected-sa-token", p("volumes", "[{name: tok, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]}}]")),
		c("vol-projected-cluster-trust-bundle", p("volumes", "[{name: ctb, projected: {sources: [{clusterTrustBundle: {name: example, path: ca.crt}}]}}]")),
		withObjects(c("vol-projected-overlap", p("volumes", "[{name: all, projected: {sources: [{configMap: {name: settings, items: [{key: mode, path: x}]}}, {secret: {name: creds, items: [{key: user, path: x}]}}]}}]"))),
		c("vol-pvc", p("volumes", "[{name: data, persistentVolumeClaim: {claimName: data}}]")),
		c("vol-pvc-readonly", p("volumes", "[{name: data, persistentVolumeClaim: {claimName: data, readOnly: true}}]")),
		c("vol-pvc-bad-claim", p("volumes", "[{name: data, persistentVolumeClaim: {claimName: Bad_Name}}]")),
		c("vol-image", p("volumes", "[{name: tools, image: {reference: busybox:1.36, pullPolicy: IfNotPresent}}]")),
		c("vol-ephemeral", p("volumes", "[{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}]")),
		c("vol-nfs", p("volumes", "[{name: share, nfs: {server: 192.0.2.10, path: /exports}}]")),
		c("vol-iscsi", p("volumes", "[{name: i, iscsi: {targetPortal: 192.0.2.10:3260, iqn: iqn.2001-04.com.example:storage, lun: 0}}]")),
		c("vol-csi", p("volumes", "[{name: c, csi: {driver: inline.storage.example.com}}]")),
		c("vol-fc", p("volumes", "[{name: f, fc: {targetWWNs: [500a0982991b8dc5], lun: 2}}]")),
		c("vol-two-sources", p("volumes", "[{name: d, emptyDir: {}, hostPath: {path: /tmp}}]")),
		c("vol-duplicate-name", p("volumes", "[{name: d, emptyDir: {}}, {name: d, emptyDir: {}}]")),
		c("vol-bad-name", p("volumes", "[{name: Data, emptyDir: {}}]")),
		// container securityContext
		c("sc-run-as-user", s("securityContext", "{runAsUser: 1000, runAsGroup: 3000}")),
		c("sc-run-as-non-root", s("securityContext", "{runAsNonRoot: true, runAsUser: 1000}")),
		c("sc-read-only-root", s("securityContext", "{readOnlyRootFilesystem: true}")),
		c("sc-privileged", s("securityContext", "{privileged: true}")),
		c("sc-no-privilege-escalation", s("securityContext", "{allowPrivilegeEscalation: false}")),
		c("sc-privileged-without-escalation", s("securityContext", "{privileged: true, allowPrivilegeEscalation: false}")),
		c("sc-capabilities", s("securityContext", "{capabilities: {add: [NET_ADMIN], drop: [ALL]}}")),
		c("sc-capabilities-prefixed", s("securityContext", "{capabilities: {add: [CAP_NET_ADMIN]}}")),
		c("sc-seccomp-runtime-default", s("securityContext", "{seccompProfile: {type: RuntimeDefault}}")),
		c("sc-seccomp-unconfined", s("securityContext", "{seccompProfile: {type: Unconfined}}")),
		c("sc-seccomp-localhost", s("securityContext", "{seccompProfile: {type: Localhost, localhostProfile: profiles/audit.json}}")),
		c("sc-seccomp-localhost-no-profile", s("securityContext", "{seccompProfile: {type: Localhost}}")),
		c("sc-seccomp-bad-type", s("securityContext", "{seccompProfile: {type: Strict}}")),
		c("sc-apparmor-runtime-default", s("securityContext", "{appArmorProfile: {type: RuntimeDefault}}")),
		c("sc-apparmor-unconfined", s("securityContext", "{appArmorProfile: {type: Unconfined}}")),
		c("sc-selinux-options", s("securityContext", "{seLinuxOptions: {level: 's0:c123,c456'}}")),
		c("sc-windows-options", s("securityContext", "{windowsOptions: {runAsUserName: ContainerUser}}")),
		c("sc-proc-mount-default", s("securityContext", "{procMount: Default}")),
		c("sc-proc-mount-unmasked", s("securityContext", "{procMount: Unmasked}")),
		c("sc-negative-user", s("securityContext", "{runAsUser: -1}")),
		// pod securityContext
		c("psc-run-as", p("securityContext", "{runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}")),
		c("psc-fsgroup", p("securityContext", "{fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch}")),
		c("psc-fsgroup-bad-policy", p("securityContext", "{fsGroup: 2000, fsGroupChangePolicy: Never}")),
		c("psc-supplemental-groups-policy-strict", p("securityContext", "{supplementalGroupsPolicy: Strict}")),
		c("psc-supplemental-groups-policy-merge", p("securityContext", "{supplementalGroupsPolicy: Merge}")),
		c("psc-sysctls", p("securityContext", "{sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: '0'}]}")),
		c("psc-sysctls-unsafe", p("securityContext", "{sysctls: [{name: kernel.msgmax, value: '65536'}]}")),
		c("psc-sysctls-host", p("securityContext", "{sysctls: [{name: vm.swappiness, value: '10'}]}")),
		c("psc-sysctls-bad-name", p("securityContext", "{sysctls: [{name: 'net..bad', value: '1'}]}")),
		c("psc-seccomp", p("securityContext", "{seccompProfile: {type: RuntimeDefault}}")),
		c("psc-apparmor", p("securityContext", "{appArmorProfile: {type: RuntimeDefault}}")),
		c("psc-selinux", p("securityContext", "{seLinuxOptions: {type: spc_t}}")),
		c("psc-selinux-change-policy", p("securityContext", "{seLinuxChangePolicy: MountOption}")),
		c("psc-windows", p("securityContext", "{windowsOptions: {runAsUserName: ContainerUser}}")),
		c("psc-run-as-non-root-root", p("securityContext", "{runAsNonRoot: true, runAsUser: 0}")),
		// pod spec
		c("spec-restart-never", p("restartPolicy", "Never")),
		c("spec-restart-onfailure", p("restartPolicy", "OnFailure")),
		c("spec-restart-bad", p("restartPolicy", "Sometimes")),
		c("spec-grace", p("terminationGracePeriodSeconds", "5")),
		c("spec-grace-negative", p("terminationGracePeriodSeconds", "-5")),
		c("spec-active-deadline", p("activeDeadlineSeconds", "600")),
		c("spec-dns-default", p("dnsPolicy", "Default")),
		c("spec-dns-none", p("dnsPolicy", "None"), p("dnsConfig", "{nameservers: [192.0.2.53], searches: [example.test], options: [{name: ndots, value: '2'}]}")),
		c("spec-dns-none-without-config", p("dnsPolicy", "None")),
		c("spec-dns-bad", p("dnsPolicy", "Google")),
		c("spec-host-aliases", p("hostAliases", "[{ip: 192.0.2.1, hostnames: [db.local, cache.local]}]")),
		c("spec-host-aliases-bad-ip", p("hostAliases", "[{ip: not-an-ip, hostnames: [x]}]")),
		c("spec-hostname-subdomain", p("hostname", "web"), p("subdomain", "front")),
		c("spec-hostname-bad", p("hostname", "Web_1")),
		c("spec-host-network", p("hostNetwork", "true")),
		c("spec-host-network-hostport-mismatch", p("hostNetwork", "true"), s("ports", "[{containerPort: 8080, hostPort: 9090}]")),
		c("spec-host-pid", p("hostPID", "true")),
		c("spec-host-ipc", p("hostIPC", "true")),
		c("spec-share-process-namespace", p("shareProcessNamespace", "true")),
		c("spec-share-process-namespace-host-pid", p("shareProcessNamespace", "true"), p("hostPID", "true")),
		c("spec-host-users-false", p("hostUsers", "false")),
		c("spec-node-name", p("nodeName", "node-1")),
		c("spec-node-selector", p("nodeSelector", "{disktype: ssd}")),
		c("spec-affinity", p("affinity", "{nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: disktype, operator: In, values: [ssd]}]}]}}}")),
		c("spec-tolerations", p("tolerations", "[{key: dedicated, operator: Equal, value: demo, effect: NoSchedule}]")),
		c("spec-topology-spread", p("topologySpreadConstraints", "[{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: corpus}}}]")),
		c("spec-scheduler-name", p("schedulerName", "default-scheduler")),
		c("spec-priority-class", p("priorityClassName", "system-node-critical")),
		c("spec-service-account", p("serviceAccountName", "default")),
		c("spec-automount-false", p("automountServiceAccountToken", "false")),
		c("spec-enable-service-links-false", p("enableServiceLinks", "false")),
		c("spec-readiness-gates", p("readinessGates", "[{conditionType: example.com/ready}]")),
		c("spec-runtime-class", p("runtimeClassName", "gvisor")),
		c("spec-image-pull-secrets", p("imagePullSecrets", "[{name: regcred}]")),
		c("spec-os-linux", p("os", "{name: linux}")),
		c("spec-os-windows", p("os", "{name: windows}")),
		c("spec-set-hostname-as-fqdn", p("hostname", "web"), p("subdomain", "front"), p("setHostnameAsFQDN", "true")),
		c("spec-scheduling-gates", p("schedulingGates", "[{name: example.com/wait}]")),
		c("spec-resource-claims", p("resourceClaims", "[{name: gpu, resourceClaimName: gpu-claim}]")),
		c("spec-host-network-dns", p("hostNetwork", "true"), p("dnsPolicy", "ClusterFirstWithHostNet")),
		c("spec-no-containers", set{"spec.containers", "[]"}),
		// init containers and sidecars
		c("init-one", p("initContainers", "[{name: setup, image: busybox:1.36, command: [sh, -c, 'echo ready']}]")),
		c("init-two", p("initContainers", "[{name: a, image: busybox:1.36, command: ['true']}, {name: b, image: busybox:1.36, command: ['true']}]")),
		c("init-sidecar", p("initContainers", "[{name: shipper, image: busybox:1.36, restartPolicy: Always, command: [sleep, '3600']}]")),
		c("init-sidecar-startup-probe", p("initContainers", "[{name: proxy, image: busybox:1.36, restartPolicy: Always, command: [sleep, '3600'], startupProbe: {exec: {command: ['true']}}}]")),
		c("init-liveness-not-sidecar", p("initContainers", "[{name: a, image: busybox:1.36, command: ['true'], livenessProbe: {exec: {command: ['true']}}}]")),
		c("init-lifecycle-not-sidecar", p("initContainers", "[{name: a, image: busybox:1.36, command: ['true'], lifecycle: {preStop: {exec: {command: ['true']}}}}]")),
		c("init-restart-never", p("initContainers", "[{name: a, image: busybox:1.36, restartPolicy: Never, command: ['true']}]")),
		c("init-name-clash", p("initContainers", "[{name: app, image: busybox:1.36, command: ['true']}]")),
		c("init-restart-policy-rules", p("initContainers", "[{name: a, image: busybox:1.36, command: ['true'], restartPolicy: Never, restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]}]")),
		c("ctr-restart-policy", s("restartPolicy", "Always")),
		c("ctr-restart-policy-rules", s("restartPolicy", "Never"), s("restartPolicyRules", "[{action: Restart, exitCodes: {operator: In, values: [42]}}]")),
		c("ephemeral-containers", p("ephemeralContainers", "[{name: debug, image: busybox:1.36}]")),
		// objects beside the pod
		withObjects(c("objects-configmap-and-secret")),
		{name: "objects-configmap-immutable", extra: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: b}\n"}},
		{name: "objects-configmap-bad-key", extra: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: badkey}\ndata: {\"a/b\": c}\n"}},
		{name: "objects-configmap-binary", extra: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bin}\nbinaryData: {blob: aGVsbG8=}\n"}},
		{name: "objects-secret-tls-missing-keys", extra: []string{"apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata: {}\n"}},
		{name: "objects-secret-bad-base64", extra: []string{"apiVersion: v1\nkind: Secret\nmetadata: {name: b64}\ndata: {a: '!!!'}\n"}},
		{name: "objects-secret-dockerconfigjson", extra: []string{"apiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\": {\"127.0.0.1:5000\": {\"auth\": \"dXNlcjpwYXNz\"}}}'\n"}},
		{name: "objects-pvc", extra: []string{"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n"}, sets: []set{p("volumes", "[{name: data, persistentVolumeClaim: {claimName: data}}]"), s("volumeMounts", "[{name: data, mountPath: /data}]")}},
		// typos and unknown fields: both must name the field
		c("typo-image-pull-police", s("imagePullPolice", "Always")),
		c("typo-containers-command-string", s("command", `"sleep 3600"`)),
		c("typo-spec-field", p("restartPolice", "Never")),
		c("typo-metadata-field", set{"metadata.label", "{app: x}"}),
		c("typo-volume-source", p("volumes", "[{name: d, emptyDirectory: {}}]")),
		c("wrong-type-port-string", s("ports", `[{containerPort: "8080"}]`)),
		c("wrong-type-grace-string", p("terminationGracePeriodSeconds", `"30"`)),
	}
	return cases
}

// render writes a case as YAML documents: its extra objects, then the pod
// (a case whose name starts with "objects-" and sets nothing has no pod).
func (cc corpusCase) render(i int) ([]byte, error) {
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": fmt.Sprintf("corpus-%03d", i), "labels": map[string]any{"app": "corpus"}},
		"spec": map[string]any{
			"containers": []any{map[string]any{
				"name": "app", "image": "busybox:1.36", "command": []any{"sleep", "3600"},
			}},
		},
	}
	for _, st := range cc.sets {
		var v any
		if err := yaml.Unmarshal([]byte(st.value), &v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", cc.name, st.path, err)
		}
		if err := setPath(pod, strings.Split(st.path, "."), v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", cc.name, st.path, err)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# corpus case %q, generated by e2e/corpus_gen_test.go; do not edit.\n", cc.name)
	for _, doc := range cc.extra {
		b.WriteString(doc)
		b.WriteString("---\n")
	}
	if strings.HasPrefix(cc.name, "objects-") && len(cc.sets) == 0 {
		return bytes.TrimSuffix(b.Bytes(), []byte("---\n")), nil
	}
	out, err := yaml.Marshal(pod)
	if err != nil {
		return nil, err
	}
	b.Write(out)
	return b.Bytes(), nil
}

func setPath(node any, path []string, v any) error {
	key := path[0]
	switch n := node.(type) {
	case map[string]any:
		if len(path) == 1 {
			n[key] = v
			return nil
		}
		next, ok := n[key]
		if !ok {
			if _, err := strconv.Atoi(path[1]); err == nil {
				next = []any{}
			} else {
				next = map[string]any{}
			}
		}
		if l, ok := next.([]any); ok {
			i, err := strconv.Atoi(path[1])
			if err != nil {
				return fmt.Errorf("%s is a list", key)
			}
			if i == len(l) {
				l = append(l, map[string]any{})
			}
			if i > len(l) {
				return fmt.Errorf("index %d past the end of %s", i, key)
			}
			if len(path) == 2 {
				l[i] = v
				n[key] = l
				return nil
			}
			n[key] = l
			return setPath(l[i], path[2:], v)
		}
		n[key] = next
		return setPath(next, path[1:], v)
	}
	return fmt.Errorf("cannot set %s in a %T", key, node)
}

// corpusFiles renders every case: file name -> content.
func corpusFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	for i, cc := range corpusCases() {
		b, err := cc.render(i)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%03d-%s.yaml", i, cc.name)
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("two cases named %s", name)
		}
		files[name] = b
	}
	return files, nil
}

// TestCorpusFiles: testdata/corpus is what the case table generates.
func TestCorpusFiles(t *testing.T) {
	files, err := corpusFiles()
	if err != nil {
		t.Fatal(err)
	}
	if *updateCorpus {
		old, _ := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
		for _, f := range old {
			os.Remove(f)
		}
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(corpusDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	have, _ := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(have) != len(names) {
		t.Errorf("%s has %d files, the table %d: go test ./e2e -run TestCorpusFiles -update-corpus", corpusDir, len(have), len(names))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil || !bytes.Equal(b, files[name]) {
			t.Errorf("%s is not what the table generates: go test ./e2e -run TestCorpusFiles -update-corpus", name)
		}
	}
}
