package plan

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// resourceValue resolves a resourceFieldRef as the kubelet does: the
// container's limit or request, divided by the divisor and rounded up. A
// limit the container does not set is the node's allocatable, known only on
// the host: it comes back deferred, named "node:<resource>:<divisor>".
func resourceValue(pod *corev1.Pod, container string, ref *corev1.ResourceFieldSelector) (string, string, error) {
	c, _ := SpecOf(pod, container)
	if c == nil {
		return "", "", fmt.Errorf("resourceFieldRef: container %q not found", container)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	var ok bool
	switch ref.Resource {
	case "limits.cpu":
		q, ok = c.Resources.Limits[corev1.ResourceCPU]
	case "limits.memory":
		q, ok = c.Resources.Limits[corev1.ResourceMemory]
	case "requests.cpu":
		q, ok = c.Resources.Requests[corev1.ResourceCPU]
		if !ok {
			q, ok = c.Resources.Limits[corev1.ResourceCPU]
		}
		if !ok {
			return "0", "", nil
		}
	case "requests.memory":
		q, ok = c.Resources.Requests[corev1.ResourceMemory]
		if !ok {
			q, ok = c.Resources.Limits[corev1.ResourceMemory]
		}
		if !ok {
			return "0", "", nil
		}
	default:
		return "", "", fmt.Errorf("resourceFieldRef %q is not supported by minipod", ref.Resource)
	}
	if !ok {
		return "", fmt.Sprintf("node:%s:%s", ref.Resource, divisor.String()), nil
	}
	return divide(q, divisor), "", nil
}

// divide is ceil(q / divisor), as the downward API reports resources.
func divide(q, divisor resource.Quantity) string {
	if strings.HasSuffix(divisor.String(), "m") || divisor.MilliValue() < 1000 && divisor.MilliValue() > 0 {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
}

// nodeResource fills in a deferred "node:<resource>:<divisor>" value from
// the host's CPUs and memory.
func NodeResource(deferred string, cpus int, memBytes int64) string {
	parts := strings.SplitN(deferred, ":", 3)
	if len(parts) != 3 {
		return ""
	}
	divisor, err := resource.ParseQuantity(parts[2])
	if err != nil {
		return ""
	}
	var q resource.Quantity
	if strings.HasSuffix(parts[1], "cpu") {
		q = *resource.NewQuantity(int64(cpus), resource.DecimalSI)
	} else {
		q = *resource.NewQuantity(memBytes, resource.BinarySI)
	}
	return divide(q, divisor)
}

// downwardFiles lays out downward API items: each item's field or resource
// as a file. Labels and annotations become key="value" lines.
func downwardFiles(pod *corev1.Pod, volume string, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) ([]VolumeFile, error) {
	mode := int32(0o644)
	if defaultMode != nil {
		mode = *defaultMode
	}
	var out []VolumeFile
	for _, it := range items {
		var val string
		switch {
		case it.FieldRef != nil:
			switch fp := it.FieldRef.FieldPath; fp {
			case "metadata.labels":
				val = mapLines(pod.Labels)
			case "metadata.annotations":
				val = mapLines(pod.Annotations)
			default:
				v, deferred, err := fieldValue(pod, fp)
				if err != nil {
					return nil, fmt.Errorf("failed to plan volume %q: item %q: %w", volume, it.Path, err)
				}
				if deferred == "metadata.uid" {
					v = "<uid>"
				} else if deferred != "" {
					return nil, fmt.Errorf("failed to plan volume %q: item %q: %s is not available in a downwardAPI volume", volume, it.Path, fp)
				}
				val = v
			}
		case it.ResourceFieldRef != nil:
			v, deferred, err := resourceValue(pod, it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
			if err != nil {
				return nil, fmt.Errorf("failed to plan volume %q: item %q: %w", volume, it.Path, err)
			}
			if deferred != "" {
				v = deferred
			}
			val = v
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		out = append(out, VolumeFile{Path: path.Clean(it.Path), Key: "downwardAPI", Mode: m, Data: []byte(val)})
	}
	return out, nil
}

func mapLines(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// projectedFiles lays out a projected volume: configMap, secret and
// downwardAPI sources into one directory.
func projectedFiles(pod *corev1.Pod, volume string, p *corev1.ProjectedVolumeSource, refs refIndex) ([]VolumeFile, error) {
	var out []VolumeFile
	for i, src := range p.Sources {
		switch {
		case src.ConfigMap != nil:
			data := map[string][]byte{}
			cm := refs.configMaps[src.ConfigMap.Name]
			if cm == nil && !isTrue(src.ConfigMap.Optional) {
				return nil, fmt.Errorf("failed to plan volume %q: configMap %q not found", volume, src.ConfigMap.Name)
			}
			if cm != nil {
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
				for k, b := range cm.BinaryData {
					data[k] = b
				}
			}
			files, err := projectFiles(volume, data, src.ConfigMap.Items, p.DefaultMode, isTrue(src.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
		case src.Secret != nil:
			data := map[string][]byte{}
			s := refs.secrets[src.Secret.Name]
			if s == nil && !isTrue(src.Secret.Optional) {
				return nil, fmt.Errorf("failed to plan volume %q: secret %q not found", volume, src.Secret.Name)
			}
			if s != nil {
				for k, b := range s.Data {
					data[k] = b
				}
			}
			files, err := projectFiles(volume, data, src.Secret.Items, p.DefaultMode, isTrue(src.Secret.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
		case src.DownwardAPI != nil:
			files, err := downwardFiles(pod, volume, src.DownwardAPI.Items, p.DefaultMode)
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
		default:
			return nil, fmt.Errorf("failed to plan volume %q: sources[%d] is not supported by minipod", volume, i)
		}
	}
	return out, nil
}
