package manifest

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults the API server applies when a pod is created, for the fields
// minipod honours.
const (
	defaultNamespace              = "default"
	defaultTerminationGracePeriod = int64(30)
	defaultTerminationMessagePath = "/dev/termination-log"
	defaultVolumeMode             = int32(0o644)
	defaultFieldRefAPIVersion     = "v1"
)

// DefaultPod fills in what the API server fills in: namespace "default",
// restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy
// ClusterFirst; per container imagePullPolicy (Always for ":latest" or no
// tag, else IfNotPresent), port protocol TCP, terminationMessagePath and
// terminationMessagePolicy; fieldRef apiVersion v1; an emptyDir for a
// volume with no source; defaultMode 0644 for configMap and secret volumes.
// Fields already set are left alone.
func DefaultPod(pod *corev1.Pod) {
	if pod.Namespace == "" {
		pod.Namespace = defaultNamespace
	}
	spec := &pod.Spec
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.TerminationGracePeriodSeconds == nil {
		grace := defaultTerminationGracePeriod
		spec.TerminationGracePeriodSeconds = &grace
	} else if *spec.TerminationGracePeriodSeconds < 0 {
		// The API server turns a negative grace period into 1.
		grace := int64(1)
		spec.TerminationGracePeriodSeconds = &grace
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
}

func defaultContainer(c *corev1.Container) {
	// A relative mountPath is taken from the container's root, as runc
	// takes a relative mount destination.
	for i := range c.VolumeMounts {
		if m := &c.VolumeMounts[i]; m.MountPath != "" && !strings.HasPrefix(m.MountPath, "/") {
			m.MountPath = "/" + m.MountPath
		}
	}
	if c.ImagePullPolicy == "" {
		if _, tag, digest := splitImage(c.Image); tag == "latest" || (tag == "" && digest == "") {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = defaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Env {
		if ref := c.Env[i].ValueFrom; ref != nil && ref.FieldRef != nil && ref.FieldRef.APIVersion == "" {
			ref.FieldRef.APIVersion = defaultFieldRefAPIVersion
		}
	}
}

func defaultVolume(v *corev1.Volume) {
	if volumeSourceCount(&v.VolumeSource) == 0 {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if v.HostPath != nil && v.HostPath.Type == nil {
		unset := corev1.HostPathUnset
		v.HostPath.Type = &unset
	}
	if v.ConfigMap != nil && v.ConfigMap.DefaultMode == nil {
		mode := defaultVolumeMode
		v.ConfigMap.DefaultMode = &mode
	}
	if v.Secret != nil && v.Secret.DefaultMode == nil {
		mode := defaultVolumeMode
		v.Secret.DefaultMode = &mode
	}
}

// splitImage splits an image reference into name, tag and digest:
// "reg:5000/app:1.2@sha256:..." -> "reg:5000/app", "1.2", "sha256:...".
func splitImage(image string) (name, tag, digest string) {
	name = image
	if at := strings.Index(name, "@"); at >= 0 {
		name, digest = name[:at], name[at+1:]
	}
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		name, tag = name[:colon], name[colon+1:]
	}
	return name, tag, digest
}

func defaultConfigMap(cm *corev1.ConfigMap) {
	if cm.Namespace == "" {
		cm.Namespace = defaultNamespace
	}
}

// defaultSecret merges stringData into data (stringData wins, as in the
// API server) and sets type Opaque when none is given.
func defaultSecret(s *corev1.Secret) {
	if s.Namespace == "" {
		s.Namespace = defaultNamespace
	}
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}
