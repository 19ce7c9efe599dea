package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// annotationNetNS is where the runtime records the pod's network namespace.
const annotationNetNS = "minipod.dev/netns"

// describePod writes a pod as kubectl describe does.
func describePod(w io.Writer, pod *corev1.Pod, hostname string, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	line := func(indent int, label, value string) {
		fmt.Fprintf(tw, "%s%s:\t%s\n", strings.Repeat("  ", indent), label, value)
	}
	line(0, "Name", pod.Name)
	line(0, "Namespace", pod.Namespace)
	node := pod.Spec.NodeName
	if node == "" {
		node = hostname
	}
	line(0, "Node", orNone(node))
	if pod.Status.StartTime != nil {
		line(0, "Start Time", pod.Status.StartTime.Time.Format(time.RFC1123Z))
	} else {
		line(0, "Start Time", "<none>")
	}
	writeMap(tw, "Labels", pod.Labels)
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		if k != annotationNetNS {
			annotations[k] = v
		}
	}
	writeMap(tw, "Annotations", annotations)
	status := string(pod.Status.Phase)
	if pod.DeletionTimestamp != nil {
		status = fmt.Sprintf("Terminating (lasts %s)", age(pod.DeletionTimestamp.Time, now))
	}
	line(0, "Status", orNone(status))
	if pod.Status.Reason != "" {
		line(0, "Reason", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		line(0, "Message", pod.Status.Message)
	}
	line(0, "IP", podIP(pod))
	if len(pod.Status.PodIPs) > 0 {
		fmt.Fprintln(tw, "IPs:")
		for _, ip := range pod.Status.PodIPs {
			line(1, "IP", ip.IP)
		}
	}
	line(0, "Network Namespace", orNone(pod.Annotations[annotationNetNS]))

	if len(pod.Spec.InitContainers) > 0 {
		fmt.Fprintln(tw, "Init Containers:")
		describeContainers(tw, pod.Spec.InitContainers, pod.Status.InitContainerStatuses)
	}
	fmt.Fprintln(tw, "Containers:")
	describeContainers(tw, pod.Spec.Containers, pod.Status.ContainerStatuses)

	if len(pod.Status.Conditions) > 0 {
		fmt.Fprintln(tw, "Conditions:")
		fmt.Fprintln(tw, "  Type\tStatus")
		for _, c := range pod.Status.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Type, c.Status)
		}
	}
	describeVolumes(tw, pod)
	return tw.Flush()
}

func writeMap(tw io.Writer, label string, m map[string]string) {
	if len(m) == 0 {
		fmt.Fprintf(tw, "%s:\t<none>\n", label)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			fmt.Fprintf(tw, "%s:\t%s=%s\n", label, k, m[k])
		} else {
			fmt.Fprintf(tw, "\t%s=%s\n", k, m[k])
		}
	}
}

func describeContainers(tw io.Writer, specs []corev1.Container, statuses []corev1.ContainerStatus) {
	byName := map[string]corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	for _, c := range specs {
		st, hasStatus := byName[c.Name]
		fmt.Fprintf(tw, "  %s:\n", c.Name)
		if st.ContainerID != "" {
			fmt.Fprintf(tw, "    Container ID:\t%s\n", st.ContainerID)
		}
		fmt.Fprintf(tw, "    Image:\t%s\n", c.Image)
		if st.ImageID != "" {
			fmt.Fprintf(tw, "    Image ID:\t%s\n", st.ImageID)
		}
		if len(c.Ports) > 0 {
			var ports []string
			for _, p := range c.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s", p.ContainerPort, orDefaultProto(p.Protocol)))
			}
			fmt.Fprintf(tw, "    Port:\t%s\n", strings.Join(ports, ", "))
		}
		if len(c.Command) > 0 {
			fmt.Fprintf(tw, "    Command:\n")
			for _, a := range c.Command {
				fmt.Fprintf(tw, "      %s\n", a)
			}
		}
		if len(c.Args) > 0 {
			fmt.Fprintf(tw, "    Args:\n")
			for _, a := range c.Args {
				fmt.Fprintf(tw, "      %s\n", a)
			}
		}
		if hasStatus {
			describeState(tw, "State", st.State)
			if st.LastTerminationState.Terminated != nil || st.LastTerminationState.Waiting != nil || st.LastTerminationState.Running != nil {
				describeState(tw, "Last State", st.LastTerminationState)
			}
			fmt.Fprintf(tw, "    Ready:\t%s\n", boolWord(st.Ready))
			fmt.Fprintf(tw, "    Restart Count:\t%d\n", st.RestartCount)
		} else {
			fmt.Fprintf(tw, "    State:\tWaiting\n")
			fmt.Fprintf(tw, "    Ready:\tFalse\n")
			fmt.Fprintf(tw, "    Restart Count:\t0\n")
		}
		if len(c.Env) > 0 {
			fmt.Fprintf(tw, "    Environment:\n")
			for _, e := range c.Env {
				fmt.Fprintf(tw, "      %s:\t%s\n", e.Name, envValue(e))
			}
		} else {
			fmt.Fprintf(tw, "    Environment:\t<none>\n")
		}
		if len(c.VolumeMounts) > 0 {
			fmt.Fprintf(tw, "    Mounts:\n")
			for _, m := range c.VolumeMounts {
				mode := "rw"
				if m.ReadOnly {
					mode = "ro"
				}
				sub := ""
				if m.SubPath != "" {
					sub = fmt.Sprintf(" (path %q)", m.SubPath)
				}
				fmt.Fprintf(tw, "      %s from %s (%s)%s\n", m.MountPath, m.Name, mode, sub)
			}
		} else {
			fmt.Fprintf(tw, "    Mounts:\t<none>\n")
		}
	}
}

func orDefaultProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func boolWord(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func envValue(e corev1.EnvVar) string {
	switch {
	case e.ValueFrom == nil:
		return e.Value
	case e.ValueFrom.ConfigMapKeyRef != nil:
		r := e.ValueFrom.ConfigMapKeyRef
		return fmt.Sprintf("<set to the key '%s' of config map '%s'>", r.Key, r.Name)
	case e.ValueFrom.SecretKeyRef != nil:
		r := e.ValueFrom.SecretKeyRef
		return fmt.Sprintf("<set to the key '%s' in secret '%s'>", r.Key, r.Name)
	case e.ValueFrom.FieldRef != nil:
		return fmt.Sprintf("(%s:%s)", e.ValueFrom.FieldRef.APIVersion, e.ValueFrom.FieldRef.FieldPath)
	case e.ValueFrom.ResourceFieldRef != nil:
		return fmt.Sprintf("%s (resource)", e.ValueFrom.ResourceFieldRef.Resource)
	}
	return ""
}

func describeState(tw io.Writer, label string, s corev1.ContainerState) {
	const layout = time.RFC1123Z
	switch {
	case s.Running != nil:
		fmt.Fprintf(tw, "    %s:\tRunning\n", label)
		fmt.Fprintf(tw, "      Started:\t%s\n", s.Running.StartedAt.Time.Format(layout))
	case s.Waiting != nil:
		fmt.Fprintf(tw, "    %s:\tWaiting\n", label)
		if s.Waiting.Reason != "" {
			fmt.Fprintf(tw, "      Reason:\t%s\n", s.Waiting.Reason)
		}
		if s.Waiting.Message != "" {
			fmt.Fprintf(tw, "      Message:\t%s\n", s.Waiting.Message)
		}
	case s.Terminated != nil:
		t := s.Terminated
		fmt.Fprintf(tw, "    %s:\tTerminated\n", label)
		if t.Reason != "" {
			fmt.Fprintf(tw, "      Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			fmt.Fprintf(tw, "      Message:\t%s\n", t.Message)
		}
		fmt.Fprintf(tw, "      Exit Code:\t%d\n", t.ExitCode)
		if t.Signal != 0 {
			fmt.Fprintf(tw, "      Signal:\t%d\n", t.Signal)
		}
		fmt.Fprintf(tw, "      Started:\t%s\n", t.StartedAt.Time.Format(layout))
		fmt.Fprintf(tw, "      Finished:\t%s\n", t.FinishedAt.Time.Format(layout))
	default:
		fmt.Fprintf(tw, "    %s:\tWaiting\n", label)
	}
}

// volumeSource says what kind of volume v is and where it comes from.
func volumeSource(v corev1.Volume) (kind string, details []string) {
	switch {
	case v.EmptyDir != nil:
		medium := string(v.EmptyDir.Medium)
		if medium == "" {
			medium = "<unset> (a directory on the host)"
		}
		details = []string{"Medium: " + medium}
		if v.EmptyDir.SizeLimit != nil {
			details = append(details, "SizeLimit: "+v.EmptyDir.SizeLimit.String())
		}
		return "EmptyDir (a temporary directory that shares a pod's lifetime)", details
	case v.HostPath != nil:
		t := ""
		if v.HostPath.Type != nil {
			t = string(*v.HostPath.Type)
		}
		return "HostPath (bare host directory volume)", []string{"Path: " + v.HostPath.Path, "HostPathType: " + t}
	case v.ConfigMap != nil:
		return "ConfigMap (a volume populated by a ConfigMap)", []string{"Name: " + v.ConfigMap.Name, fmt.Sprintf("Optional: %t", v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)}
	case v.Secret != nil:
		return "Secret (a volume populated by a Secret)", []string{"SecretName: " + v.Secret.SecretName, fmt.Sprintf("Optional: %t", v.Secret.Optional != nil && *v.Secret.Optional)}
	case v.DownwardAPI != nil:
		var items []string
		for _, it := range v.DownwardAPI.Items {
			if it.FieldRef != nil {
				items = append(items, it.FieldRef.FieldPath+" -> "+it.Path)
			}
		}
		return "DownwardAPI (a volume populated by information about the pod)", items
	case v.Projected != nil:
		return "Projected (a volume that contains injected data from multiple sources)", nil
	}
	return "<unknown>", nil
}

func describeVolumes(tw io.Writer, pod *corev1.Pod) {
	if len(pod.Spec.Volumes) == 0 {
		fmt.Fprintln(tw, "Volumes:\t<none>")
		return
	}
	fmt.Fprintln(tw, "Volumes:")
	for _, v := range pod.Spec.Volumes {
		kind, details := volumeSource(v)
		fmt.Fprintf(tw, "  %s:\n", v.Name)
		fmt.Fprintf(tw, "    Type:\t%s\n", kind)
		for _, d := range details {
			k, val, _ := strings.Cut(d, ": ")
			if val == "" && !strings.Contains(d, ": ") {
				fmt.Fprintf(tw, "    %s\n", d)
				continue
			}
			fmt.Fprintf(tw, "    %s:\t%s\n", k, val)
		}
		var users []string
		for _, c := range podContainers(pod) {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					users = append(users, c.Name+" at "+m.MountPath)
				}
			}
		}
		if len(users) == 0 {
			users = []string{"<none>"}
		}
		fmt.Fprintf(tw, "    Mounted By:\t%s\n", strings.Join(slices.Compact(users), ", "))
	}
}
