package manifest

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Refs are the ConfigMaps and Secrets a pod may refer to, by name, in the
// pod's namespace. When a file is parsed they are the file's own objects,
// and those that exist already where the caller looked (see Existing).
type Refs struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	// Unasked, when not empty, says why objects outside the file could
	// not be looked up; a reference found nowhere says so.
	Unasked string
}

// ValidatePod checks a (defaulted) pod as the API server would, resolves
// its ConfigMap and Secret references against refs, and refuses values of
// supported fields that minipod does not honour (dnsPolicy None, ...).
// Every problem is reported, each naming its field.
func ValidatePod(src Source, pod *corev1.Pod, refs Refs) error {
	ps := validatePod(pod, &refs)
	ps = append(ps, refuseValues(pod)...)
	return joinErrors(object{src: src, kind: "Pod", name: pod.Name}.errors(ps))
}

// validatePod checks pod; with refs nil, references are not resolved.
func validatePod(pod *corev1.Pod, refs *Refs) problems {
	var ps problems
	validateMeta(&ps, &pod.ObjectMeta)
	spec := &pod.Spec

	volumes := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		p := fmt.Sprintf("spec.volumes[%d]", i)
		if dnsLabel(&ps, p+".name", v.Name) {
			if _, dup := volumes[v.Name]; dup {
				ps.add(p+".name", "duplicate value %q", v.Name)
			} else {
				volumes[v.Name] = v
			}
		}
		validateVolume(&ps, p, v, pod.Namespace, refs)
	}

	if len(spec.Containers) == 0 {
		ps.add("spec.containers", "required value: a pod needs at least one container")
	}
	names := map[string]bool{}
	eachContainer(pod, func(p string, c *corev1.Container) {
		if dnsLabel(&ps, p+".name", c.Name) {
			if names[c.Name] {
				ps.add(p+".name", "duplicate value %q: container names must be unique across init and app containers", c.Name)
			}
			names[c.Name] = true
		}
		validateContainer(&ps, p, c, volumes, pod.Namespace, refs, strings.HasPrefix(p, "spec.initContainers"))
	})
	if spec.SecurityContext != nil {
		validateSeccomp(&ps, "spec.securityContext.seccompProfile", spec.SecurityContext.SeccompProfile)
	}
	validatePodSecurity(&ps, spec)
	checkHostPorts(&ps, "spec.initContainers", spec.InitContainers)
	checkHostPorts(&ps, "spec.containers", spec.Containers)

	oneOf(&ps, "spec.restartPolicy", string(spec.RestartPolicy), true,
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		ps.add("spec.terminationGracePeriodSeconds", "invalid value %d: must be greater than or equal to 0", *g)
	}
	if d := spec.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		ps.add("spec.activeDeadlineSeconds", "invalid value %d: must be greater than 0", *d)
	}
	oneOf(&ps, "spec.dnsPolicy", string(spec.DNSPolicy), true,
		corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSClusterFirstWithHostNet, corev1.DNSNone)
	if spec.DNSPolicy == corev1.DNSNone && (spec.DNSConfig == nil || len(spec.DNSConfig.Nameservers) == 0) {
		ps.add("spec.dnsConfig", "required value: must provide at least one DNS nameserver when dnsPolicy is None")
	}
	if dc := spec.DNSConfig; dc != nil {
		if len(dc.Nameservers) > 3 {
			ps.add("spec.dnsConfig.nameservers", "invalid value: must not have more than 3 nameservers")
		}
		for i, n := range dc.Nameservers {
			if net.ParseIP(n) == nil {
				ps.add(fmt.Sprintf("spec.dnsConfig.nameservers[%d]", i), "invalid value %q: must be a valid IP address", n)
			}
		}
		if len(dc.Searches) > 32 {
			ps.add("spec.dnsConfig.searches", "invalid value: must not have more than 32 search paths")
		}
	}
	for i, a := range spec.HostAliases {
		if net.ParseIP(a.IP) == nil {
			ps.add(fmt.Sprintf("spec.hostAliases[%d].ip", i), "invalid value %q: must be a valid IP address", a.IP)
		}
		for j, h := range a.Hostnames {
			if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
				ps.add(fmt.Sprintf("spec.hostAliases[%d].hostnames[%d]", i, j), "invalid value %q: %s", h, strings.Join(errs, "; "))
			}
		}
	}
	if spec.Subdomain != "" {
		if errs := validation.IsDNS1123Label(spec.Subdomain); len(errs) > 0 {
			ps.add("spec.subdomain", "invalid value %q: %s", spec.Subdomain, strings.Join(errs, "; "))
		}
	}
	if spec.Hostname != "" {
		dnsLabel(&ps, "spec.hostname", spec.Hostname)
	}
	return ps
}

// eachContainer calls fn for every init and app container, with its path.
func eachContainer(pod *corev1.Pod, fn func(path string, c *corev1.Container)) {
	for i := range pod.Spec.InitContainers {
		fn(fmt.Sprintf("spec.initContainers[%d]", i), &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		fn(fmt.Sprintf("spec.containers[%d]", i), &pod.Spec.Containers[i])
	}
}

func validateMeta(ps *problems, m *metav1.ObjectMeta) {
	if m.Name == "" {
		ps.add("metadata.name", "required value")
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
			ps.add("metadata.name", "invalid value %q: %s", truncate(m.Name), msg)
		}
	}
	if m.Namespace != "" {
		dnsLabel(ps, "metadata.namespace", m.Namespace)
	}
	for _, k := range sortedKeys(m.Labels) {
		p := keyPath("metadata.labels", k)
		for _, msg := range validation.IsQualifiedName(k) {
			ps.add(p, "invalid label key %q: %s", truncate(k), msg)
		}
		for _, msg := range validation.IsValidLabelValue(m.Labels[k]) {
			ps.add(p, "invalid label value %q: %s", truncate(m.Labels[k]), msg)
		}
	}
	size := 0
	for _, k := range sortedKeys(m.Annotations) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			ps.add(keyPath("metadata.annotations", k), "invalid annotation key %q: %s", truncate(k), msg)
		}
		size += len(k) + len(m.Annotations[k])
	}
	if size > 256*1024 {
		ps.add("metadata.annotations", "too long: %d bytes, must have at most 262144 bytes", size)
	}
}

func validateContainer(ps *problems, p string, c *corev1.Container, volumes map[string]*corev1.Volume, ns string, refs *Refs, init bool) {
	if c.Image == "" {
		ps.add(p+".image", "required value")
	} else if strings.TrimSpace(c.Image) != c.Image {
		ps.add(p+".image", "invalid value %q: must not have leading or trailing whitespace", truncate(c.Image))
	}
	oneOf(ps, p+".imagePullPolicy", string(c.ImagePullPolicy), true,
		corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
	oneOf(ps, p+".terminationMessagePolicy", string(c.TerminationMessagePolicy), true,
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)
	// resizePolicy is ignored on one host, but a value the API server
	// refuses is refused here too.
	resized := map[corev1.ResourceName]bool{}
	for i, rp := range c.ResizePolicy {
		rpp := fmt.Sprintf("%s.resizePolicy[%d]", p, i)
		oneOf(ps, rpp+".resourceName", string(rp.ResourceName), false, corev1.ResourceCPU, corev1.ResourceMemory)
		oneOf(ps, rpp+".restartPolicy", string(rp.RestartPolicy), false, corev1.NotRequired, corev1.RestartContainer)
		if resized[rp.ResourceName] {
			ps.add(rpp+".resourceName", "duplicate value %q", rp.ResourceName)
		}
		resized[rp.ResourceName] = true
	}
	if sc := c.SecurityContext; sc != nil {
		validateSeccomp(ps, p+".securityContext.seccompProfile", sc.SeccompProfile)
		validID(ps, p+".securityContext.runAsUser", sc.RunAsUser)
		validID(ps, p+".securityContext.runAsGroup", sc.RunAsGroup)
		if isTrue(sc.Privileged) && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			ps.add(p+".securityContext", "invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged` to true")
		}
	}
	if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil {
		oneOf(ps, p+".securityContext.procMount", string(*sc.ProcMount), false, corev1.DefaultProcMount, corev1.UnmaskedProcMount)
	}

	portNames := map[string]bool{}
	for i, port := range c.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", p, i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				ps.add(pp+".name", "invalid value %q: %s", truncate(port.Name), msg)
			}
			if portNames[port.Name] {
				ps.add(pp+".name", "duplicate value %q", port.Name)
			}
			portNames[port.Name] = true
		}
		if port.ContainerPort == 0 {
			ps.add(pp+".containerPort", "required value")
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				ps.add(pp+".containerPort", "invalid value %d: %s", port.ContainerPort, msg)
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				ps.add(pp+".hostPort", "invalid value %d: %s", port.HostPort, msg)
			}
		}
		oneOf(ps, pp+".protocol", string(port.Protocol), true,
			corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
		if port.HostIP != "" {
			if _, err := netip.ParseAddr(port.HostIP); err != nil {
				ps.add(pp+".hostIP", "invalid value %q: must be a valid IP address", truncate(port.HostIP))
			}
		}
	}

	for i := range c.Env {
		validateEnv(ps, fmt.Sprintf("%s.env[%d]", p, i), &c.Env[i], ns, refs)
	}
	for i := range c.EnvFrom {
		validateEnvFrom(ps, fmt.Sprintf("%s.envFrom[%d]", p, i), &c.EnvFrom[i], ns, refs)
	}

	mountPaths := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mp := fmt.Sprintf("%s.volumeMounts[%d]", p, i)
		if m.Name == "" {
			ps.add(mp+".name", "required value")
		} else if volumes[m.Name] == nil {
			ps.add(mp+".name", "not found: no volume named %q in spec.volumes", m.Name)
		}
		switch {
		case m.MountPath == "":
			ps.add(mp+".mountPath", "required value")
		case mountPaths[path.Clean(m.MountPath)]:
			ps.add(mp+".mountPath", "duplicate value %q: must be unique in the container", m.MountPath)
		}
		mountPaths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" {
			localDescendingPath(ps, mp+".subPath", m.SubPath)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				ps.add(mp+".subPathExpr", "invalid value %q: subPathExpr and subPath are mutually exclusive", truncate(m.SubPathExpr))
			}
			localDescendingPath(ps, mp+".subPathExpr", m.SubPathExpr)
		}
	}

	validateResources(ps, p+".resources", &c.Resources)
	if c.RestartPolicy != nil {
		switch {
		case !init:
			ps.add(p+".restartPolicy", "forbidden: may only be set for init containers")
		case *c.RestartPolicy != corev1.ContainerRestartPolicyAlways:
			ps.add(p+".restartPolicy", "unsupported value %q: supported values: \"Always\"", string(*c.RestartPolicy))
		}
	}
	if init && c.RestartPolicy == nil && c.Lifecycle != nil {
		ps.add(p+".lifecycle", "forbidden: may not be set for init containers without restartPolicy=Always")
	}
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if probe.probe == nil {
			continue
		}
		if init && c.RestartPolicy == nil {
			ps.add(p+"."+probe.name, "forbidden: may not be set for init containers")
			continue
		}
		validateProbe(ps, p+"."+probe.name, probe.probe)
		if probe.name != "readinessProbe" && probe.probe.SuccessThreshold > 1 {
			ps.add(p+"."+probe.name+".successThreshold", "invalid value %d: must be 1", probe.probe.SuccessThreshold)
		}
	}
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			validateLifecycleHandler(ps, p+".lifecycle.postStart", c.Lifecycle.PostStart)
		}
		if c.Lifecycle.PreStop != nil {
			validateLifecycleHandler(ps, p+".lifecycle.preStop", c.Lifecycle.PreStop)
		}
	}
}

func validateEnv(ps *problems, p string, env *corev1.EnvVar, ns string, refs *Refs) {
	if env.Name == "" {
		ps.add(p+".name", "required value")
	} else {
		for _, msg := range relaxedEnvVarName(env.Name) {
			ps.add(p+".name", "invalid value %q: %s", truncate(env.Name), msg)
		}
	}
	from := env.ValueFrom
	if from == nil {
		return
	}
	if env.Value != "" {
		ps.add(p+".valueFrom", "invalid: may not be specified when value is not empty")
	}
	sources := 0
	if ref := from.ConfigMapKeyRef; ref != nil {
		sources++
		kp := p + ".valueFrom.configMapKeyRef"
		keySelector(ps, kp, ref.Name, ref.Key)
		if refs != nil && ref.Name != "" && !isTrue(ref.Optional) {
			if cm, ok := refs.ConfigMaps[ref.Name]; !ok {
				ps.add(kp+".name", "%s", missingRef("configMap", ref.Name, ns, refs))
			} else if !configMapHasKey(cm, ref.Key) && ref.Key != "" {
				ps.add(kp+".key", "not found: key %q is not in configMap %q (set optional: true if it may be absent)", ref.Key, ref.Name)
			}
		}
	}
	if ref := from.SecretKeyRef; ref != nil {
		sources++
		kp := p + ".valueFrom.secretKeyRef"
		keySelector(ps, kp, ref.Name, ref.Key)
		if refs != nil && ref.Name != "" && !isTrue(ref.Optional) {
			if s, ok := refs.Secrets[ref.Name]; !ok {
				ps.add(kp+".name", "%s", missingRef("secret", ref.Name, ns, refs))
			} else if !secretHasKey(s, ref.Key) && ref.Key != "" {
				ps.add(kp+".key", "not found: key %q is not in secret %q (set optional: true if it may be absent)", ref.Key, ref.Name)
			}
		}
	}
	if ref := from.FieldRef; ref != nil {
		sources++
		fp := p + ".valueFrom.fieldRef"
		if ref.APIVersion != "" && ref.APIVersion != "v1" {
			ps.add(fp+".apiVersion", "unsupported value %q (supported: \"v1\")", ref.APIVersion)
		}
		switch {
		case ref.FieldPath == "":
			ps.add(fp+".fieldPath", "required value")
		case !kubernetesFieldPath(ref.FieldPath):
			if base, key, ok := subscriptedFieldPath(ref.FieldPath); ok {
				ps.add(fp+".fieldPath", "invalid key %q in %s: %s", key, base, strings.Join(validation.IsQualifiedName(key), "; "))
			} else {
				ps.add(fp+".fieldPath", "unsupported value %q (supported: %s)", truncate(ref.FieldPath), strings.Join(supportedFieldPaths, ", "))
			}
		}
	}
	if from.ResourceFieldRef != nil {
		sources++
	}
	if from.FileKeyRef != nil {
		sources++
	}
	switch {
	case sources == 0:
		ps.add(p+".valueFrom", "invalid: must specify one of configMapKeyRef, secretKeyRef, fieldRef")
	case sources > 1:
		ps.add(p+".valueFrom", "invalid: may not have more than one field specified at a time")
	}
}

func validateEnvFrom(ps *problems, p string, src *corev1.EnvFromSource, ns string, refs *Refs) {
	if src.Prefix != "" {
		for _, msg := range relaxedEnvVarName(src.Prefix) {
			ps.add(p+".prefix", "invalid value %q: %s", truncate(src.Prefix), msg)
		}
	}
	switch {
	case src.ConfigMapRef == nil && src.SecretRef == nil:
		ps.add(p, "invalid: must specify one of configMapRef, secretRef")
		return
	case src.ConfigMapRef != nil && src.SecretRef != nil:
		ps.add(p, "invalid: may not have more than one field specified at a time")
		return
	}
	if ref := src.ConfigMapRef; ref != nil {
		if subdomain(ps, p+".configMapRef.name", ref.Name) && refs != nil && !isTrue(ref.Optional) {
			if _, ok := refs.ConfigMaps[ref.Name]; !ok {
				ps.add(p+".configMapRef.name", "%s", missingRef("configMap", ref.Name, ns, refs))
			}
		}
	}
	if ref := src.SecretRef; ref != nil {
		if subdomain(ps, p+".secretRef.name", ref.Name) && refs != nil && !isTrue(ref.Optional) {
			if _, ok := refs.Secrets[ref.Name]; !ok {
				ps.add(p+".secretRef.name", "%s", missingRef("secret", ref.Name, ns, refs))
			}
		}
	}
}

func keySelector(ps *problems, p, name, key string) {
	subdomain(ps, p+".name", name)
	if key == "" {
		ps.add(p+".key", "required value")
		return
	}
	for _, msg := range validation.IsConfigMapKey(key) {
		ps.add(p+".key", "invalid value %q: %s", truncate(key), msg)
	}
}

func missingRef(kind, name, ns string, refs *Refs) string {
	if ns == "" {
		ns = defaultNamespace
	}
	msg := fmt.Sprintf("not found: %s %q in namespace %q (define it in the same file or create it first, or set optional: true)", kind, name, ns)
	if refs.Unasked != "" {
		msg += "; " + refs.Unasked
	}
	return msg
}

var validEnvFieldPaths = map[string]bool{
	"metadata.name": true, "metadata.namespace": true, "metadata.uid": true,
	"spec.nodeName": true, "spec.serviceAccountName": true,
	"status.hostIP": true, "status.hostIPs": true, "status.podIP": true, "status.podIPs": true,
}

// kubernetesFieldPath reports whether the API server accepts fp as an
// env var's fieldRef.fieldPath.
func kubernetesFieldPath(fp string) bool {
	if validEnvFieldPaths[fp] {
		return true
	}
	_, key, ok := subscriptedFieldPath(fp)
	return ok && len(validation.IsQualifiedName(key)) == 0
}

var subscriptRE = regexp.MustCompile(`^(metadata\.labels|metadata\.annotations)\['(.*)'\]$`)

// subscriptedFieldPath splits "metadata.labels['app']" into
// "metadata.labels" and "app".
func subscriptedFieldPath(fp string) (base, key string, ok bool) {
	m := subscriptRE.FindStringSubmatch(fp)
	if m == nil {
		return "", "", false
	}
	key = m[2]
	if m[1] == "metadata.annotations" {
		key = strings.ToLower(key)
	}
	return m[1], key, true
}

// volumeSourceCount counts the sources set in a volume (every pointer
// field of VolumeSource is one kind of source).
func volumeSourceCount(src *corev1.VolumeSource) int {
	n := 0
	v := reflect.ValueOf(src).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

func validateVolume(ps *problems, p string, v *corev1.Volume, ns string, refs *Refs) {
	if n := volumeSourceCount(&v.VolumeSource); n > 1 {
		ps.add(p, "forbidden: may not specify more than 1 volume type")
		return
	}
	if e := v.EmptyDir; e != nil {
		switch {
		case e.Medium == corev1.StorageMediumDefault || e.Medium == corev1.StorageMediumMemory:
		case strings.HasPrefix(string(e.Medium), string(corev1.StorageMediumHugePages)):
			ps.add(p+".emptyDir.medium", "%q is not supported by minipod (use \"\" or Memory)", e.Medium)
		default:
			ps.add(p+".emptyDir.medium", "unsupported value %q: the API server accepts it, but no kubelet can mount it (supported: \"\", \"Memory\")", truncate(string(e.Medium)))
		}
		if e.SizeLimit != nil && e.SizeLimit.Sign() < 0 {
			ps.add(p+".emptyDir.sizeLimit", "invalid value %q: must be greater than or equal to 0", e.SizeLimit.String())
		}
	}
	if pr := v.Projected; pr != nil {
		// Each ConfigMap and Secret it projects must exist, as for a
		// configMap or secret volume; two sources may not write the same
		// file.
		seen := map[string]bool{}
		for j, src := range pr.Sources {
			sp := fmt.Sprintf("%s.projected.sources[%d]", p, j)
			if c := src.ConfigMap; c != nil && refs != nil && c.Name != "" && !isTrue(c.Optional) {
				if cm, ok := refs.ConfigMaps[c.Name]; !ok {
					ps.add(sp+".configMap.name", "%s", missingRef("configMap", c.Name, ns, refs))
				} else {
					for i, item := range c.Items {
						if item.Key != "" && !configMapHasKey(cm, item.Key) {
							ps.add(fmt.Sprintf("%s.configMap.items[%d].key", sp, i), "not found: key %q is not in configMap %q (set optional: true if it may be absent)", item.Key, c.Name)
						}
					}
				}
			}
			if s := src.Secret; s != nil && refs != nil && s.Name != "" && !isTrue(s.Optional) {
				if secret, ok := refs.Secrets[s.Name]; !ok {
					ps.add(sp+".secret.name", "%s", missingRef("secret", s.Name, ns, refs))
				} else {
					for i, item := range s.Items {
						if item.Key != "" && !secretHasKey(secret, item.Key) {
							ps.add(fmt.Sprintf("%s.secret.items[%d].key", sp, i), "not found: key %q is not in secret %q (set optional: true if it may be absent)", item.Key, s.Name)
						}
					}
				}
			}
			var items []corev1.KeyToPath
			name := ""
			switch {
			case src.ConfigMap != nil:
				items, name = src.ConfigMap.Items, src.ConfigMap.Name
			case src.Secret != nil:
				items, name = src.Secret.Items, src.Secret.Name
			case src.DownwardAPI != nil:
				for _, it := range src.DownwardAPI.Items {
					items = append(items, corev1.KeyToPath{Path: it.Path})
				}
			}
			for _, it := range items {
				clean := path.Clean(it.Path)
				if it.Path != "" && seen[clean] {
					ps.add(p+".projected", "invalid value %q: conflicting duplicate paths", name)
				}
				seen[clean] = true
			}
		}
	}
	if h := v.HostPath; h != nil {
		switch {
		case h.Path == "":
			ps.add(p+".hostPath.path", "required value")
		case !path.IsAbs(h.Path):
			ps.add(p+".hostPath.path", "invalid value %q: must be an absolute path (the API server accepts it, but no kubelet can mount it reliably: it would be relative to the kubelet's working directory)", truncate(h.Path))
		case slices.Contains(strings.Split(h.Path, "/"), ".."):
			ps.add(p+".hostPath.path", "invalid value %q: must not contain '..'", truncate(h.Path))
		}
		if h.Type != nil {
			oneOf(ps, p+".hostPath.type", string(*h.Type), false,
				corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
				corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket,
				corev1.HostPathCharDev, corev1.HostPathBlockDev)
		}
	}
	if c := v.ConfigMap; c != nil {
		cp := p + ".configMap"
		var cm *corev1.ConfigMap
		if subdomain(ps, cp+".name", c.Name) && refs != nil && !isTrue(c.Optional) {
			var ok bool
			if cm, ok = refs.ConfigMaps[c.Name]; !ok {
				ps.add(cp+".name", "%s", missingRef("configMap", c.Name, ns, refs))
			}
		}
		fileMode(ps, cp+".defaultMode", c.DefaultMode)
		for i, item := range c.Items {
			validateKeyToPath(ps, fmt.Sprintf("%s.items[%d]", cp, i), item)
			if cm != nil && item.Key != "" && !configMapHasKey(cm, item.Key) {
				ps.add(fmt.Sprintf("%s.items[%d].key", cp, i), "not found: key %q is not in configMap %q (set optional: true if it may be absent)", item.Key, c.Name)
			}
		}
		duplicateItemPaths(ps, cp, c.Items)
	}
	if s := v.Secret; s != nil {
		sp := p + ".secret"
		var secret *corev1.Secret
		if subdomain(ps, sp+".secretName", s.SecretName) && refs != nil && !isTrue(s.Optional) {
			var ok bool
			if secret, ok = refs.Secrets[s.SecretName]; !ok {
				ps.add(sp+".secretName", "%s", missingRef("secret", s.SecretName, ns, refs))
			}
		}
		fileMode(ps, sp+".defaultMode", s.DefaultMode)
		for i, item := range s.Items {
			validateKeyToPath(ps, fmt.Sprintf("%s.items[%d]", sp, i), item)
			if secret != nil && item.Key != "" {
				if !secretHasKey(secret, item.Key) {
					ps.add(fmt.Sprintf("%s.items[%d].key", sp, i), "not found: key %q is not in secret %q (set optional: true if it may be absent)", item.Key, s.SecretName)
				}
			}
		}
		duplicateItemPaths(ps, sp, s.Items)
	}
}

func validateKeyToPath(ps *problems, p string, item corev1.KeyToPath) {
	if item.Key == "" {
		ps.add(p+".key", "required value")
	} else {
		for _, msg := range validation.IsConfigMapKey(item.Key) {
			ps.add(p+".key", "invalid value %q: %s", truncate(item.Key), msg)
		}
	}
	if item.Path == "" {
		ps.add(p+".path", "required value")
	} else if localDescendingPath(ps, p+".path", item.Path) && strings.HasPrefix(item.Path, "..") {
		ps.add(p+".path", "invalid value %q: must not start with '..'", truncate(item.Path))
	}
	fileMode(ps, p+".mode", item.Mode)
}

func duplicateItemPaths(ps *problems, p string, items []corev1.KeyToPath) {
	seen := map[string]bool{}
	for i, item := range items {
		if item.Path == "" {
			continue
		}
		clean := path.Clean(item.Path)
		if seen[clean] {
			ps.add(fmt.Sprintf("%s.items[%d].path", p, i), "duplicate value %q", item.Path)
		}
		seen[clean] = true
	}
}

// localDescendingPath checks that p is relative and has no ".." element.
func localDescendingPath(ps *problems, field, p string) bool {
	ok := true
	if path.IsAbs(p) {
		ps.add(field, "invalid value %q: must be a relative path", truncate(p))
		ok = false
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		ps.add(field, "invalid value %q: must not contain '..'", truncate(p))
		ok = false
	}
	return ok
}

func fileMode(ps *problems, field string, mode *int32) {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		ps.add(field, "invalid value %d: must be a number between 0 and 0777 (octal), both inclusive", *mode)
	}
}

// configMapHasKey reports whether cm has key; a nil cm (an object of the
// file that could not be read) is not blamed.
func configMapHasKey(cm *corev1.ConfigMap, key string) bool {
	if cm == nil {
		return true
	}
	if _, ok := cm.Data[key]; ok {
		return true
	}
	_, ok := cm.BinaryData[key]
	return ok
}

func secretHasKey(s *corev1.Secret, key string) bool {
	if s == nil {
		return true
	}
	_, ok := s.Data[key]
	return ok
}

func checkHostPorts(ps *problems, p string, containers []corev1.Container) {
	seen := map[string]bool{}
	for i, c := range containers {
		for j, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%d/%s", port.HostPort, port.Protocol)
			if port.HostIP != "" {
				key = port.HostIP + ":" + key
			}
			if seen[key] {
				ps.add(fmt.Sprintf("%s[%d].ports[%d].hostPort", p, i, j), "duplicate value %q: another port of the pod already uses it", key)
			}
			seen[key] = true
		}
	}
}

// minMemoryLimit is the smallest memory limit runc accepts.
const minMemoryLimit = 6 << 20

func validateResources(ps *problems, p string, r *corev1.ResourceRequirements) {
	for _, list := range []struct {
		name string
		rl   corev1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, name := range sortedKeys(list.rl) {
			q := list.rl[name]
			if q.Sign() < 0 {
				ps.add(keyPath(p+"."+list.name, string(name)), "invalid value %q: must be greater than or equal to 0", q.String())
			}
			switch {
			case name == corev1.ResourceCPU || name == corev1.ResourceMemory:
			case strings.Contains(string(name), "/") && !strings.Contains(string(name), "kubernetes.io/"):
				ps.add(keyPath(p+"."+list.name, string(name)), "needs a cluster: extended resources are advertised by a node's device plugins")
			default:
				ps.add(keyPath(p+"."+list.name, string(name)), "not supported by minipod (supported: cpu, memory)")
			}
			if list.name == "limits" && name == corev1.ResourceMemory && q.Sign() > 0 && q.Value() < minMemoryLimit {
				ps.add(keyPath(p+"."+list.name, string(name)), "invalid value %q: must be at least 6Mi, the least runc can enforce", q.String())
			}
		}
	}
	for _, name := range sortedKeys(r.Requests) {
		req := r.Requests[name]
		if limit, ok := r.Limits[name]; ok && req.Cmp(limit) > 0 {
			ps.add(keyPath(p+".requests", string(name)), "invalid value %q: must be less than or equal to %s limit of %s", req.String(), name, limit.String())
		}
	}
}

func validateProbe(ps *problems, p string, probe *corev1.Probe) {
	h := probe.ProbeHandler
	count := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil} {
		if set {
			count++
		}
	}
	handlerCount(ps, p, count, "exec, httpGet, tcpSocket, grpc")
	if h.HTTPGet != nil {
		validatePort(ps, p+".httpGet.port", h.HTTPGet.Port)
	}
	if h.TCPSocket != nil {
		validatePort(ps, p+".tcpSocket.port", h.TCPSocket.Port)
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", probe.InitialDelaySeconds}, {"timeoutSeconds", probe.TimeoutSeconds},
		{"periodSeconds", probe.PeriodSeconds}, {"successThreshold", probe.SuccessThreshold},
		{"failureThreshold", probe.FailureThreshold},
	} {
		if f.v < 0 {
			ps.add(p+"."+f.name, "invalid value %d: must be greater than or equal to 0", f.v)
		}
	}
}

func validateLifecycleHandler(ps *problems, p string, h *corev1.LifecycleHandler) {
	count := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.Sleep != nil} {
		if set {
			count++
		}
	}
	handlerCount(ps, p, count, "exec, httpGet, tcpSocket, sleep")
	if h.HTTPGet != nil {
		validatePort(ps, p+".httpGet.port", h.HTTPGet.Port)
	}
}

func handlerCount(ps *problems, p string, count int, kinds string) {
	switch {
	case count == 0:
		ps.add(p, "required value: must specify a handler type (one of %s)", kinds)
	case count > 1:
		ps.add(p, "forbidden: may not specify more than 1 handler type (one of %s)", kinds)
	}
}

func validatePort(ps *problems, p string, port intstr.IntOrString) {
	if port.Type == intstr.Int {
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			ps.add(p, "invalid value %d: %s", port.IntValue(), msg)
		}
		return
	}
	for _, msg := range validation.IsValidPortName(port.StrVal) {
		ps.add(p, "invalid value %q: %s", truncate(port.StrVal), msg)
	}
}

// validateConfigMap checks a ConfigMap as the API server would.
func validateConfigMap(cm *corev1.ConfigMap) problems {
	var ps problems
	validateMeta(&ps, &cm.ObjectMeta)
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		dataKey(&ps, keyPath("data", k), k)
		size += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		dataKey(&ps, keyPath("binaryData", k), k)
		if _, dup := cm.Data[k]; dup {
			ps.add(keyPath("binaryData", k), "duplicate value %q: key is also in data", k)
		}
		size += len(cm.BinaryData[k])
	}
	if size > corev1.MaxSecretSize {
		ps.add("data", "too long: %d bytes, must have at most %d bytes", size, corev1.MaxSecretSize)
	}
	return ps
}

// secretTypeKeys lists the keys each well-known secret type requires.
var secretTypeKeys = map[corev1.SecretType][]string{
	corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
	corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
	corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
	corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
}

// validateSecret checks a (defaulted) Secret as the API server would.
func validateSecret(s *corev1.Secret) problems {
	var ps problems
	validateMeta(&ps, &s.ObjectMeta)
	size := 0
	for _, k := range sortedKeys(s.Data) {
		dataKey(&ps, keyPath("data", k), k)
		size += len(s.Data[k])
	}
	if size > corev1.MaxSecretSize {
		ps.add("data", "too long: %d bytes, must have at most %d bytes", size, corev1.MaxSecretSize)
	}
	for _, k := range secretTypeKeys[s.Type] {
		if _, ok := s.Data[k]; !ok {
			ps.add(keyPath("data", k), "required value: a secret of type %s needs key %q", s.Type, k)
		}
	}
	if s.Type == corev1.SecretTypeBasicAuth {
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			ps.add("data", "required value: a secret of type %s needs key %q or %q", s.Type, corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	}
	return ps
}

func dataKey(ps *problems, p, key string) {
	for _, msg := range validation.IsConfigMapKey(key) {
		ps.add(p, "invalid key %q: %s", truncate(key), msg)
	}
}

func dnsLabel(ps *problems, p, value string) bool {
	if value == "" {
		ps.add(p, "required value")
		return false
	}
	msgs := validation.IsDNS1123Label(value)
	for _, msg := range msgs {
		ps.add(p, "invalid value %q: %s", truncate(value), msg)
	}
	return len(msgs) == 0
}

func subdomain(ps *problems, p, value string) bool {
	if value == "" {
		ps.add(p, "required value")
		return false
	}
	msgs := validation.IsDNS1123Subdomain(value)
	for _, msg := range msgs {
		ps.add(p, "invalid value %q: %s", truncate(value), msg)
	}
	return len(msgs) == 0
}

// oneOf checks that value is one of allowed (or empty, when emptyOK).
func oneOf[T ~string](ps *problems, p, value string, emptyOK bool, allowed ...T) {
	if value == "" && emptyOK {
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		if string(a) == value {
			return
		}
		quoted[i] = strconv.Quote(string(a))
	}
	ps.add(p, "unsupported value %q (supported: %s)", truncate(value), strings.Join(quoted, ", "))
}

func isTrue(b *bool) bool { return b != nil && *b }

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validateSeccomp checks a seccompProfile as the API server does.
func validateSeccomp(ps *problems, p string, sp *corev1.SeccompProfile) {
	if sp == nil {
		return
	}
	oneOf(ps, p+".type", string(sp.Type), false, corev1.SeccompProfileTypeRuntimeDefault,
		corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeLocalhost)
	switch {
	case sp.Type == corev1.SeccompProfileTypeLocalhost && (sp.LocalhostProfile == nil || *sp.LocalhostProfile == ""):
		ps.add(p+".localhostProfile", "required value: must be set when seccomp type is Localhost")
	case sp.Type != corev1.SeccompProfileTypeLocalhost && sp.LocalhostProfile != nil:
		ps.add(p+".localhostProfile", "forbidden: can only be set when seccomp type is Localhost")
	case sp.LocalhostProfile != nil:
		lp := *sp.LocalhostProfile
		if strings.HasPrefix(lp, "/") {
			ps.add(p+".localhostProfile", "invalid value %q: must be a relative path", truncate(lp))
		} else if slices.Contains(strings.Split(lp, "/"), "..") {
			ps.add(p+".localhostProfile", "invalid value %q: must not contain '..'", truncate(lp))
		}
	}
}

// relaxedEnvVarName checks a variable name as the API server does since
// RelaxedEnvironmentVariableValidation: printable ASCII other than '='.
func relaxedEnvVarName(name string) []string {
	for _, r := range name {
		if r < ' ' || r > '~' || r == '=' {
			return []string{"a valid environment variable name must consist only of printable ASCII characters other than '='"}
		}
	}
	return nil
}

// validIDs checks user and group ids as the API server does.
func validID(ps *problems, p string, id *int64) {
	if id != nil && (*id < 0 || *id > 2147483647) {
		ps.add(p, "invalid value %d: must be between 0 and 2147483647, inclusive", *id)
	}
}

// sysctlName is the API server's pattern of a sysctl name.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// validatePodSecurity checks the pod's securityContext and the
// combinations the API server refuses across the spec.
func validatePodSecurity(ps *problems, spec *corev1.PodSpec) {
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace && spec.HostPID {
		ps.add("spec.shareProcessNamespace", "invalid value true: ShareProcessNamespace and HostPID cannot both be enabled")
	}
	if spec.HostNetwork {
		for i, c := range spec.Containers {
			for j, port := range c.Ports {
				if port.HostPort != 0 && port.HostPort != port.ContainerPort {
					ps.add(fmt.Sprintf("spec.containers[%d].ports[%d].hostPort", i, j), "invalid value %d: must match `containerPort` when `hostNetwork` is true", port.HostPort)
				}
			}
		}
	}
	psc := spec.SecurityContext
	if psc == nil {
		return
	}
	validID(ps, "spec.securityContext.runAsUser", psc.RunAsUser)
	validID(ps, "spec.securityContext.runAsGroup", psc.RunAsGroup)
	validID(ps, "spec.securityContext.fsGroup", psc.FSGroup)
	for i, g := range psc.SupplementalGroups {
		validID(ps, fmt.Sprintf("spec.securityContext.supplementalGroups[%d]", i), &g)
	}
	if psc.FSGroupChangePolicy != nil {
		oneOf(ps, "spec.securityContext.fsGroupChangePolicy", string(*psc.FSGroupChangePolicy), false,
			corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch)
	}
	for i, sc := range psc.Sysctls {
		if len(sc.Name) > 253 || !sysctlName.MatchString(sc.Name) {
			ps.add(fmt.Sprintf("spec.securityContext.sysctls[%d].name", i), "invalid value %q: must have at most 253 characters and match regex %s", truncate(sc.Name), sysctlName)
		}
	}
}
