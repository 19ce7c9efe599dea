package manifest

import (
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// This file is minipod's support table: which fields of the v1 types it
// honours, which it accepts with a warning because they mean nothing on
// one host, and (by their absence) which it refuses. Extend it here when
// the runtime learns something new, then regenerate FIELDS.md:
//
//	go test ./manifest -run TestFieldsDoc -update

// FieldStatus is what minipod does with a field.
type FieldStatus string

const (
	// Supported fields are honoured by the runtime.
	Supported FieldStatus = "supported"
	// Warning fields are accepted and ignored, with a warning naming them.
	Warning FieldStatus = "warning"
	// NeedsCluster fields are refused because no single host can honour
	// them; the note says what in a cluster provides them.
	NeedsCluster FieldStatus = "needs a cluster"
)

// FieldRule is one row of the support table. Path is a field path in which
// "[]" stands for any list index or map key; the container rules
// (spec.containers[]...) apply to spec.initContainers[] too.
type FieldRule struct {
	Kind   string // Pod, ConfigMap or Secret
	Path   string
	Status FieldStatus
	Note   string // why a field is warned; what a supported field accepts
}

const (
	noScheduler      = "one host, no scheduler"
	noServiceAccount = "no API server, so no service account or token"
	noControllers    = "one host runs no controllers or garbage collector"
	noSELinux        = "minipod does not label containers for SELinux"
	windowsOnly      = "Windows only"
	storagePlugin    = "a storage plugin that a cluster's nodes run for its storage system"
)

func objectRules(kind string) []FieldRule {
	return []FieldRule{
		{kind, "apiVersion", Supported, "v1"},
		{kind, "kind", Supported, kind},
		{kind, "metadata", Supported, ""},
		{kind, "metadata.name", Supported, ""},
		{kind, "metadata.namespace", Supported, `default: "default"`},
		{kind, "metadata.labels", Supported, ""},
		{kind, "metadata.annotations", Supported, ""},
		{kind, "metadata.creationTimestamp", Warning, "set when the object is created, as the API server ignores a value in the file"},
		{kind, "metadata.generateName", Warning, "a name is generated only when metadata.name is empty, and minipod needs metadata.name"},
		{kind, "metadata.finalizers", Warning, noControllers},
		{kind, "metadata.ownerReferences", Warning, noControllers},
	}
}

func containerRules() []FieldRule {
	const c = "spec.containers[]"
	return []FieldRule{
		{"Pod", c + ".name", Supported, ""},
		{"Pod", c + ".image", Supported, ""},
		{"Pod", c + ".imagePullPolicy", Supported, "default: Always for :latest or no tag, else IfNotPresent"},
		{"Pod", c + ".command", Supported, ""},
		{"Pod", c + ".args", Supported, ""},
		{"Pod", c + ".workingDir", Supported, ""},
		{"Pod", c + ".env", Supported, ""},
		{"Pod", c + ".env[].name", Supported, ""},
		{"Pod", c + ".env[].value", Supported, ""},
		{"Pod", c + ".env[].valueFrom", Supported, ""},
		{"Pod", c + ".env[].valueFrom.configMapKeyRef", Supported, ""},
		{"Pod", c + ".env[].valueFrom.configMapKeyRef.name", Supported, ""},
		{"Pod", c + ".env[].valueFrom.configMapKeyRef.key", Supported, ""},
		{"Pod", c + ".env[].valueFrom.configMapKeyRef.optional", Supported, ""},
		{"Pod", c + ".env[].valueFrom.secretKeyRef", Supported, ""},
		{"Pod", c + ".env[].valueFrom.secretKeyRef.name", Supported, ""},
		{"Pod", c + ".env[].valueFrom.secretKeyRef.key", Supported, ""},
		{"Pod", c + ".env[].valueFrom.secretKeyRef.optional", Supported, ""},
		{"Pod", c + ".env[].valueFrom.fieldRef", Supported, ""},
		{"Pod", c + ".env[].valueFrom.fieldRef.apiVersion", Supported, "default: v1"},
		{"Pod", c + ".env[].valueFrom.fieldRef.fieldPath", Supported, strings.Join(supportedFieldPaths, ", ")},
		{"Pod", c + ".env[].valueFrom.resourceFieldRef", Supported, "limits/requests cpu and memory; without a limit, the host's"},
		{"Pod", c + ".env[].valueFrom.resourceFieldRef.containerName", Supported, ""},
		{"Pod", c + ".env[].valueFrom.resourceFieldRef.resource", Supported, ""},
		{"Pod", c + ".env[].valueFrom.resourceFieldRef.divisor", Supported, ""},
		{"Pod", c + ".envFrom", Supported, ""},
		{"Pod", c + ".envFrom[].prefix", Supported, ""},
		{"Pod", c + ".envFrom[].configMapRef", Supported, ""},
		{"Pod", c + ".envFrom[].configMapRef.name", Supported, ""},
		{"Pod", c + ".envFrom[].configMapRef.optional", Supported, ""},
		{"Pod", c + ".envFrom[].secretRef", Supported, ""},
		{"Pod", c + ".envFrom[].secretRef.name", Supported, ""},
		{"Pod", c + ".envFrom[].secretRef.optional", Supported, ""},
		{"Pod", c + ".ports", Supported, ""},
		{"Pod", c + ".ports[].name", Supported, ""},
		{"Pod", c + ".ports[].containerPort", Supported, ""},
		{"Pod", c + ".ports[].hostPort", Supported, ""},
		{"Pod", c + ".ports[].protocol", Supported, "default: TCP"},
		{"Pod", c + ".ports[].hostIP", Supported, ""},
		{"Pod", c + ".volumeMounts", Supported, ""},
		{"Pod", c + ".volumeMounts[].name", Supported, ""},
		{"Pod", c + ".volumeMounts[].mountPath", Supported, ""},
		{"Pod", c + ".volumeMounts[].readOnly", Supported, ""},
		{"Pod", c + ".volumeMounts[].subPath", Supported, ""},
		{"Pod", c + ".volumeMounts[].subPathExpr", Supported, "$(VAR) expanded with the container's environment; a value known only once the pod runs (its IP) is refused"},
		{"Pod", c + ".terminationMessagePath", Supported, "default: /dev/termination-log"},
		{"Pod", c + ".terminationMessagePolicy", Supported, "default: File"},
		{"Pod", c + ".livenessProbe", Supported, "failing it kills the container, which restarts per restartPolicy"},
		{"Pod", c + ".readinessProbe", Supported, "drives the container's ready, the pod's Ready condition and READY"},
		{"Pod", c + ".startupProbe", Supported, "holds liveness and readiness back until it passes"},
		{"Pod", c + ".livenessProbe.exec", Supported, "run inside the container"},
		{"Pod", c + ".livenessProbe.exec.command", Supported, ""},
		{"Pod", c + ".livenessProbe.httpGet", Supported, "sent by the daemon to the pod IP: nothing needed in the image"},
		{"Pod", c + ".livenessProbe.httpGet.path", Supported, ""},
		{"Pod", c + ".livenessProbe.httpGet.port", Supported, "number or container port name"},
		{"Pod", c + ".livenessProbe.httpGet.host", Supported, "default: the pod IP"},
		{"Pod", c + ".livenessProbe.httpGet.scheme", Supported, "HTTP or HTTPS (not verified, as the kubelet)"},
		{"Pod", c + ".livenessProbe.httpGet.httpHeaders", Supported, ""},
		{"Pod", c + ".livenessProbe.httpGet.httpHeaders[].name", Supported, ""},
		{"Pod", c + ".livenessProbe.httpGet.httpHeaders[].value", Supported, ""},
		{"Pod", c + ".livenessProbe.tcpSocket", Supported, "connects from the daemon to the pod IP"},
		{"Pod", c + ".livenessProbe.tcpSocket.port", Supported, ""},
		{"Pod", c + ".livenessProbe.tcpSocket.host", Supported, ""},
		{"Pod", c + ".livenessProbe.initialDelaySeconds", Supported, ""},
		{"Pod", c + ".livenessProbe.periodSeconds", Supported, "default: 10"},
		{"Pod", c + ".livenessProbe.timeoutSeconds", Supported, "default: 1"},
		{"Pod", c + ".livenessProbe.successThreshold", Supported, "default: 1"},
		{"Pod", c + ".livenessProbe.failureThreshold", Supported, "default: 3"},
		{"Pod", c + ".readinessProbe.exec", Supported, "run inside the container"},
		{"Pod", c + ".readinessProbe.exec.command", Supported, ""},
		{"Pod", c + ".readinessProbe.httpGet", Supported, "sent by the daemon to the pod IP: nothing needed in the image"},
		{"Pod", c + ".readinessProbe.httpGet.path", Supported, ""},
		{"Pod", c + ".readinessProbe.httpGet.port", Supported, "number or container port name"},
		{"Pod", c + ".readinessProbe.httpGet.host", Supported, "default: the pod IP"},
		{"Pod", c + ".readinessProbe.httpGet.scheme", Supported, "HTTP or HTTPS (not verified, as the kubelet)"},
		{"Pod", c + ".readinessProbe.httpGet.httpHeaders", Supported, ""},
		{"Pod", c + ".readinessProbe.httpGet.httpHeaders[].name", Supported, ""},
		{"Pod", c + ".readinessProbe.httpGet.httpHeaders[].value", Supported, ""},
		{"Pod", c + ".readinessProbe.tcpSocket", Supported, "connects from the daemon to the pod IP"},
		{"Pod", c + ".readinessProbe.tcpSocket.port", Supported, ""},
		{"Pod", c + ".readinessProbe.tcpSocket.host", Supported, ""},
		{"Pod", c + ".readinessProbe.initialDelaySeconds", Supported, ""},
		{"Pod", c + ".readinessProbe.periodSeconds", Supported, "default: 10"},
		{"Pod", c + ".readinessProbe.timeoutSeconds", Supported, "default: 1"},
		{"Pod", c + ".readinessProbe.successThreshold", Supported, "default: 1"},
		{"Pod", c + ".readinessProbe.failureThreshold", Supported, "default: 3"},
		{"Pod", c + ".startupProbe.exec", Supported, "run inside the container"},
		{"Pod", c + ".startupProbe.exec.command", Supported, ""},
		{"Pod", c + ".startupProbe.httpGet", Supported, "sent by the daemon to the pod IP: nothing needed in the image"},
		{"Pod", c + ".startupProbe.httpGet.path", Supported, ""},
		{"Pod", c + ".startupProbe.httpGet.port", Supported, "number or container port name"},
		{"Pod", c + ".startupProbe.httpGet.host", Supported, "default: the pod IP"},
		{"Pod", c + ".startupProbe.httpGet.scheme", Supported, "HTTP or HTTPS (not verified, as the kubelet)"},
		{"Pod", c + ".startupProbe.httpGet.httpHeaders", Supported, ""},
		{"Pod", c + ".startupProbe.httpGet.httpHeaders[].name", Supported, ""},
		{"Pod", c + ".startupProbe.httpGet.httpHeaders[].value", Supported, ""},
		{"Pod", c + ".startupProbe.tcpSocket", Supported, "connects from the daemon to the pod IP"},
		{"Pod", c + ".startupProbe.tcpSocket.port", Supported, ""},
		{"Pod", c + ".startupProbe.tcpSocket.host", Supported, ""},
		{"Pod", c + ".startupProbe.initialDelaySeconds", Supported, ""},
		{"Pod", c + ".startupProbe.periodSeconds", Supported, "default: 10"},
		{"Pod", c + ".startupProbe.timeoutSeconds", Supported, "default: 1"},
		{"Pod", c + ".startupProbe.successThreshold", Supported, "default: 1"},
		{"Pod", c + ".startupProbe.failureThreshold", Supported, "default: 3"},
		{"Pod", c + ".restartPolicy", Supported, "init containers only: Always makes a native sidecar"},
		{"Pod", c + ".lifecycle", Supported, ""},
		{"Pod", c + ".lifecycle.postStart", Supported, "a failure kills the container (FailedPostStartHook)"},
		{"Pod", c + ".lifecycle.postStart.exec", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.exec.command", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet", Supported, "sent by the daemon to the pod IP"},
		{"Pod", c + ".lifecycle.postStart.httpGet.path", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.port", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.host", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.scheme", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.httpHeaders", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.httpHeaders[].name", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.httpGet.httpHeaders[].value", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.tcpSocket", Supported, "deprecated in Kubernetes; connects to the pod IP"},
		{"Pod", c + ".lifecycle.postStart.tcpSocket.port", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.sleep", Supported, ""},
		{"Pod", c + ".lifecycle.postStart.sleep.seconds", Supported, ""},
		{"Pod", c + ".lifecycle.preStop", Supported, "runs before the stop signal, within the grace period"},
		{"Pod", c + ".lifecycle.preStop.exec", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.exec.command", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet", Supported, "sent by the daemon to the pod IP"},
		{"Pod", c + ".lifecycle.preStop.httpGet.path", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.port", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.host", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.scheme", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.httpHeaders", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.httpHeaders[].name", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.httpGet.httpHeaders[].value", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.tcpSocket", Supported, "deprecated in Kubernetes; connects to the pod IP"},
		{"Pod", c + ".lifecycle.preStop.tcpSocket.port", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.sleep", Supported, ""},
		{"Pod", c + ".lifecycle.preStop.sleep.seconds", Supported, ""},
		{"Pod", c + ".lifecycle.stopSignal", Supported, "the signal that stops the container, instead of the image's STOPSIGNAL or SIGTERM, in a pod with spec.os.name: linux (a cluster honours it only where its ContainerStopSignals feature is on)"},
		{"Pod", c + ".resources", Supported, ""},
		{"Pod", c + ".resources.limits", Supported, "cpu (CFS quota over a 100ms period), memory (cgroup limit; exceeding it is OOMKilled)"},
		{"Pod", c + ".resources.limits[]", Supported, "cpu or memory"},
		{"Pod", c + ".resources.requests", Supported, "cpu (CPU shares); memory counts for the QoS class only"},
		{"Pod", c + ".resources.requests[]", Supported, "cpu or memory"},
		{"Pod", c + ".securityContext", Supported, ""},
		{"Pod", c + ".securityContext.runAsUser", Supported, ""},
		{"Pod", c + ".securityContext.runAsGroup", Supported, ""},
		{"Pod", c + ".securityContext.runAsNonRoot", Supported, "a container that would run as root is refused (CreateContainerConfigError)"},
		{"Pod", c + ".securityContext.readOnlyRootFilesystem", Supported, ""},
		{"Pod", c + ".securityContext.privileged", Supported, "all capabilities and host devices, only when asked"},
		{"Pod", c + ".securityContext.allowPrivilegeEscalation", Supported, "false sets no_new_privs"},
		{"Pod", c + ".securityContext.capabilities", Supported, ""},
		{"Pod", c + ".securityContext.capabilities.add", Supported, ""},
		{"Pod", c + ".securityContext.capabilities.drop", Supported, "ALL drops every capability"},
		{"Pod", c + ".securityContext.seccompProfile", Supported, "RuntimeDefault (containerd's default profile, also minipod's default when unset), Unconfined, or Localhost (a profile under <root>/seccomp); a privileged container is unconfined"},
		{"Pod", c + ".securityContext.seccompProfile.type", Supported, ""},
		{"Pod", c + ".securityContext.seccompProfile.localhostProfile", Supported, "relative to <root>/seccomp (default /var/lib/minipod/seccomp)"},
		{"Pod", c + ".securityContext.procMount", Supported, "Default: /proc with the runtime's masked and read-only paths (Unmasked is not supported)"},
		{"Pod", c + ".securityContext.seLinuxOptions", Warning, noSELinux},
		{"Pod", c + ".securityContext.windowsOptions", Warning, windowsOnly},
		{"Pod", c + ".resizePolicy", Warning, "no in-place resize: a pod's resources are fixed once it runs"},
		{"Pod", c + ".resources.claims", NeedsCluster, "dynamic resource allocation needs a cluster's scheduler and resource drivers"},
	}
}

func volumeRules() []FieldRule {
	const v = "spec.volumes[]"
	return []FieldRule{
		{"Pod", v + ".name", Supported, ""},
		{"Pod", v + ".emptyDir", Supported, "a volume with no source is an emptyDir"},
		{"Pod", v + ".emptyDir.medium", Supported, `"" or Memory`},
		{"Pod", v + ".emptyDir.sizeLimit", Supported, ""},
		{"Pod", v + ".hostPath", Supported, ""},
		{"Pod", v + ".hostPath.path", Supported, ""},
		{"Pod", v + ".hostPath.type", Supported, ""},
		{"Pod", v + ".configMap", Supported, ""},
		{"Pod", v + ".configMap.name", Supported, ""},
		{"Pod", v + ".configMap.items", Supported, ""},
		{"Pod", v + ".configMap.items[].key", Supported, ""},
		{"Pod", v + ".configMap.items[].path", Supported, ""},
		{"Pod", v + ".configMap.items[].mode", Supported, ""},
		{"Pod", v + ".configMap.defaultMode", Supported, "default: 0644"},
		{"Pod", v + ".configMap.optional", Supported, ""},
		{"Pod", v + ".secret", Supported, ""},
		{"Pod", v + ".secret.secretName", Supported, ""},
		{"Pod", v + ".secret.items", Supported, ""},
		{"Pod", v + ".secret.items[].key", Supported, ""},
		{"Pod", v + ".secret.items[].path", Supported, ""},
		{"Pod", v + ".secret.items[].mode", Supported, ""},
		{"Pod", v + ".secret.defaultMode", Supported, "default: 0644"},
		{"Pod", v + ".secret.optional", Supported, ""},
		{"Pod", v + ".downwardAPI", Supported, "in memory, as the kubelet keeps it"},
		{"Pod", v + ".downwardAPI.defaultMode", Supported, ""},
		{"Pod", v + ".downwardAPI.items", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].path", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].mode", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].fieldRef", Supported, "metadata.name, namespace, uid, labels, annotations (whole or one key)"},
		{"Pod", v + ".downwardAPI.items[].fieldRef.fieldPath", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].fieldRef.apiVersion", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].resourceFieldRef", Supported, "limits/requests cpu and memory"},
		{"Pod", v + ".downwardAPI.items[].resourceFieldRef.containerName", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].resourceFieldRef.resource", Supported, ""},
		{"Pod", v + ".downwardAPI.items[].resourceFieldRef.divisor", Supported, ""},
		{"Pod", v + ".projected", Supported, "configMap, secret and downwardAPI sources, in memory"},
		{"Pod", v + ".projected.defaultMode", Supported, ""},
		{"Pod", v + ".projected.sources", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.name", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.optional", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.items", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.items[].key", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.items[].path", Supported, ""},
		{"Pod", v + ".projected.sources[].configMap.items[].mode", Supported, ""},
		{"Pod", v + ".projected.sources[].secret", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.name", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.optional", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.items", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.items[].key", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.items[].path", Supported, ""},
		{"Pod", v + ".projected.sources[].secret.items[].mode", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].path", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].mode", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].fieldRef", Supported, "metadata.name, namespace, uid, labels, annotations (whole or one key)"},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].fieldRef.fieldPath", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].fieldRef.apiVersion", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].resourceFieldRef", Supported, "limits/requests cpu and memory"},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].resourceFieldRef.containerName", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].resourceFieldRef.resource", Supported, ""},
		{"Pod", v + ".projected.sources[].downwardAPI.items[].resourceFieldRef.divisor", Supported, ""},
		{"Pod", v + ".projected.sources[].serviceAccountToken", NeedsCluster, "service account tokens are issued by a cluster's API server"},
		{"Pod", v + ".projected.sources[].clusterTrustBundle", NeedsCluster, "ClusterTrustBundle objects live in a cluster's API"},
		{"Pod", v + ".projected.sources[].podCertificate", NeedsCluster, "pod certificates are issued by a cluster's signers"},
		{"Pod", v + ".ephemeral", NeedsCluster, "a generic ephemeral volume is provisioned through a cluster's PersistentVolumeClaims and storage classes"},
		{"Pod", v + ".nfs", NeedsCluster, storagePlugin},
		{"Pod", v + ".iscsi", NeedsCluster, storagePlugin},
		{"Pod", v + ".csi", NeedsCluster, storagePlugin},
		{"Pod", v + ".fc", NeedsCluster, storagePlugin},
		{"Pod", v + ".rbd", NeedsCluster, storagePlugin},
		{"Pod", v + ".cephfs", NeedsCluster, storagePlugin},
		{"Pod", v + ".glusterfs", NeedsCluster, storagePlugin},
		{"Pod", v + ".cinder", NeedsCluster, storagePlugin},
		{"Pod", v + ".awsElasticBlockStore", NeedsCluster, storagePlugin},
		{"Pod", v + ".gcePersistentDisk", NeedsCluster, storagePlugin},
		{"Pod", v + ".azureDisk", NeedsCluster, storagePlugin},
		{"Pod", v + ".azureFile", NeedsCluster, storagePlugin},
		{"Pod", v + ".vsphereVolume", NeedsCluster, storagePlugin},
		{"Pod", v + ".quobyte", NeedsCluster, storagePlugin},
		{"Pod", v + ".flocker", NeedsCluster, storagePlugin},
		{"Pod", v + ".flexVolume", NeedsCluster, storagePlugin},
		{"Pod", v + ".photonPersistentDisk", NeedsCluster, storagePlugin},
		{"Pod", v + ".portworxVolume", NeedsCluster, storagePlugin},
		{"Pod", v + ".scaleIO", NeedsCluster, storagePlugin},
		{"Pod", v + ".storageos", NeedsCluster, storagePlugin},
	}
}

func podRules() []FieldRule {
	rules := objectRules("Pod")
	rules = append(rules,
		FieldRule{"Pod", "spec", Supported, ""},
		FieldRule{"Pod", "spec.containers", Supported, ""},
		FieldRule{"Pod", "spec.initContainers", Supported, "each init container takes the spec.containers[] rules"},
		FieldRule{"Pod", "spec.volumes", Supported, ""},
		FieldRule{"Pod", "spec.restartPolicy", Supported, "default: Always"},
		FieldRule{"Pod", "spec.terminationGracePeriodSeconds", Supported, "default: 30"},
		FieldRule{"Pod", "spec.dnsPolicy", Supported, "ClusterFirst (default), ClusterFirstWithHostNet and Default: the host's resolv.conf without loopback nameservers (one host, no cluster DNS); None: only dnsConfig"},
		FieldRule{"Pod", "spec.dnsConfig", Supported, "merged into resolv.conf as the kubelet merges it"},
		FieldRule{"Pod", "spec.dnsConfig.nameservers", Supported, ""},
		FieldRule{"Pod", "spec.dnsConfig.searches", Supported, ""},
		FieldRule{"Pod", "spec.dnsConfig.options", Supported, ""},
		FieldRule{"Pod", "spec.dnsConfig.options[].name", Supported, ""},
		FieldRule{"Pod", "spec.dnsConfig.options[].value", Supported, ""},
		FieldRule{"Pod", "spec.hostAliases", Supported, "added to the pod's /etc/hosts"},
		FieldRule{"Pod", "spec.hostAliases[].ip", Supported, ""},
		FieldRule{"Pod", "spec.hostAliases[].hostnames", Supported, ""},
		FieldRule{"Pod", "spec.subdomain", Supported, "<hostname>.<subdomain>.<namespace>.svc.cluster.local in /etc/hosts"},
		FieldRule{"Pod", "spec.hostNetwork", Supported, "the host's network and UTS namespaces; no CNI; pod IP = host IP"},
		FieldRule{"Pod", "spec.hostPID", Supported, "the host's PID namespace, only when asked"},
		FieldRule{"Pod", "spec.hostIPC", Supported, "the host's IPC namespace, only when asked"},
		FieldRule{"Pod", "spec.shareProcessNamespace", Supported, "one PID namespace for the pod, its PID 1 a tiny init of minipod's"},
		FieldRule{"Pod", "spec.hostname", Supported, ""},
		FieldRule{"Pod", "spec.nodeName", Warning, noScheduler},
		FieldRule{"Pod", "spec.nodeSelector", Warning, noScheduler},
		FieldRule{"Pod", "spec.affinity", Warning, noScheduler},
		FieldRule{"Pod", "spec.tolerations", Warning, noScheduler},
		FieldRule{"Pod", "spec.topologySpreadConstraints", Warning, noScheduler},
		FieldRule{"Pod", "spec.schedulerName", Warning, noScheduler},
		FieldRule{"Pod", "spec.priorityClassName", Warning, noScheduler},
		FieldRule{"Pod", "spec.priority", Warning, noScheduler},
		FieldRule{"Pod", "spec.preemptionPolicy", Warning, noScheduler},
		FieldRule{"Pod", "spec.serviceAccountName", Warning, noServiceAccount},
		FieldRule{"Pod", "spec.serviceAccount", Warning, noServiceAccount},
		FieldRule{"Pod", "spec.automountServiceAccountToken", Warning, noServiceAccount},
		FieldRule{"Pod", "spec.enableServiceLinks", Warning, "no Services, so no service environment variables"},
		FieldRule{"Pod", "spec.readinessGates", Warning, "no controllers set pod conditions"},
		FieldRule{"Pod", "spec.schedulingGates", NeedsCluster, "scheduling gates are removed by a cluster's controllers before its scheduler places the pod"},
		FieldRule{"Pod", "spec.resourceClaims", NeedsCluster, "dynamic resource allocation needs a cluster's scheduler and resource drivers"},
		FieldRule{"Pod", "spec.os", Supported, "linux (a Windows pod needs a cluster with a Windows node)"},
		FieldRule{"Pod", "spec.os.name", Supported, ""},
		FieldRule{"Pod", "spec.setHostnameAsFQDN", Supported, "the kernel's hostname is <hostname>.<subdomain>.<namespace>.svc.cluster.local"},
		FieldRule{"Pod", "spec.securityContext", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.runAsUser", Supported, "containers' own securityContext wins"},
		FieldRule{"Pod", "spec.securityContext.runAsGroup", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.runAsNonRoot", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.supplementalGroups", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.fsGroup", Supported, "owns emptyDir, configMap, secret, downwardAPI and projected volumes (setgid, group rw); a supplemental group of every container"},
		FieldRule{"Pod", "spec.securityContext.sysctls", Supported, "namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)"},
		FieldRule{"Pod", "spec.securityContext.sysctls[].name", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.sysctls[].value", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.fsGroupChangePolicy", Supported, "every volume minipod makes is new, so Always and OnRootMismatch give the same ownership"},
		FieldRule{"Pod", "spec.securityContext.seccompProfile", Supported, "the default of the pod's containers"},
		FieldRule{"Pod", "spec.securityContext.seccompProfile.type", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.seccompProfile.localhostProfile", Supported, ""},
		FieldRule{"Pod", "spec.securityContext.seLinuxOptions", Warning, noSELinux},
		FieldRule{"Pod", "spec.securityContext.seLinuxChangePolicy", Warning, noSELinux},
		FieldRule{"Pod", "spec.securityContext.windowsOptions", Warning, windowsOnly},
	)
	rules = append(rules, containerRules()...)
	rules = append(rules, volumeRules()...)
	return rules
}

func configMapRules() []FieldRule {
	return append(objectRules("ConfigMap"),
		FieldRule{"ConfigMap", "data", Supported, ""},
		FieldRule{"ConfigMap", "binaryData", Supported, ""},
		FieldRule{"ConfigMap", "immutable", Supported, ""},
	)
}

func secretRules() []FieldRule {
	return append(objectRules("Secret"),
		FieldRule{"Secret", "data", Supported, ""},
		FieldRule{"Secret", "stringData", Supported, "merged into data"},
		FieldRule{"Secret", "type", Supported, "default: Opaque"},
		FieldRule{"Secret", "immutable", Supported, ""},
	)
}

var (
	allRules   = append(append(podRules(), configMapRules()...), secretRules()...)
	rulesByKey = indexRules(allRules)
)

func indexRules(rules []FieldRule) map[string]map[string]FieldRule {
	m := map[string]map[string]FieldRule{}
	for _, r := range rules {
		if m[r.Kind] == nil {
			m[r.Kind] = map[string]FieldRule{}
		}
		m[r.Kind][r.Path] = r
	}
	return m
}

// FieldTable returns the support table, for documentation. Fields it does
// not list are refused.
func FieldTable() []FieldRule {
	return append([]FieldRule(nil), allRules...)
}

// WriteMarkdownTable writes the support table as markdown (FIELDS.md).
func WriteMarkdownTable(w io.Writer) {
	var b strings.Builder
	b.WriteString("# Fields minipod honours\n\n")
	b.WriteString("Generated from manifest/fields.go by `go test ./manifest -run TestFieldsDoc -update`; do not edit.\n\n")
	b.WriteString("Every field of the v1 types that is not listed here is refused with\n")
	b.WriteString("`<field>: not supported by minipod`, unless its value is empty (null, \"\", {}, [] or false).\n")
	b.WriteString("Fields marked warning are accepted and ignored, with a warning naming them.\n")
	b.WriteString("Fields marked \"needs a cluster\" are refused with `<field>: needs a cluster: <why>`: no single host can honour them.\n")
	b.WriteString("Rules for `spec.containers[]` apply to `spec.initContainers[]` too.\n")
	b.WriteString("So a Pod's `status` is accepted only when empty.\n")
	kind := ""
	for _, r := range allRules {
		if r.Kind != kind {
			kind = r.Kind
			fmt.Fprintf(&b, "\n## v1 %s\n\n| field | status | note |\n| --- | --- | --- |\n", kind)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Path, r.Status, strings.ReplaceAll(r.Note, "|", `\|`))
	}
	io.WriteString(w, b.String()) //nolint:errcheck // documentation output; the caller owns w
}

// falseMatters lists the boolean fields whose false is not their default,
// so false asks for something (hostUsers: false asks for a user namespace).
var falseMatters = map[string]bool{
	"spec.hostUsers":          true,
	"spec.enableServiceLinks": true,
}

// asksNothing reports whether a value leaves a field at its default, so
// that a refused or warned field may still be written (as kubectl writes
// `resources: {}` and `status: {}`).
func asksNothing(pattern string, v any) bool {
	if b, ok := v.(bool); ok && !b {
		return !falseMatters[pattern]
	}
	return isEmpty(v)
}

const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// supportedFieldPaths are the downward API paths minipod fills in for
// env[].valueFrom.fieldRef.fieldPath (labels and annotations by key:
// metadata.labels['key']).
var supportedFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"metadata.labels['<key>']", "metadata.annotations['<key>']",
	"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs", "spec.nodeName", "spec.serviceAccountName",
}

// refuseValues reports values of supported fields that minipod does not
// honour. It runs after validation, on values the API server accepts.
func refuseValues(pod *corev1.Pod) problems {
	var ps problems
	eachContainer(pod, func(path string, c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
			ps.add(path+".securityContext.procMount", "%q is not supported by minipod (supported: Default)", *sc.ProcMount)
		}
	})
	// The annotation that asked for AppArmor before the field existed is
	// honoured by kubelets to this day: refuse it as the field is refused.
	for _, k := range sortedKeys(pod.Annotations) {
		if strings.HasPrefix(k, appArmorAnnotationPrefix) {
			ps.add(keyPath("metadata.annotations", k), "not supported by minipod (it asks for an AppArmor profile, as securityContext.appArmorProfile does)")
		}
	}
	if pod.Spec.OS != nil && pod.Spec.OS.Name != corev1.Linux {
		ps.add("spec.os.name", "needs a cluster: a %s pod runs on a %s node, and a minipod host is Linux", pod.Spec.OS.Name, pod.Spec.OS.Name)
	}
	eachContainer(pod, func(path string, c *corev1.Container) {
		for i, env := range c.Env {
			if env.ValueFrom == nil || env.ValueFrom.FieldRef == nil {
				continue
			}
			fp := env.ValueFrom.FieldRef.FieldPath
			if kubernetesFieldPath(fp) && !minipodFieldPath(fp) {
				ps.add(fmt.Sprintf("%s.env[%d].valueFrom.fieldRef.fieldPath", path, i),
					"%q is not supported by minipod (supported: %s)", fp, strings.Join(supportedFieldPaths, ", "))
			}
		}
	})
	return ps
}

func minipodFieldPath(fp string) bool {
	switch fp {
	case "metadata.name", "metadata.namespace", "metadata.uid", "status.podIP", "status.podIPs",
		"status.hostIP", "status.hostIPs", "spec.nodeName", "spec.serviceAccountName":
		return true
	}
	_, _, ok := subscriptedFieldPath(fp)
	return ok
}
