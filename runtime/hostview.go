package runtime

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/plan"
)

// newHostView fills what the pod's status and plan say; the host's own
// facts (veth, pids, cgroup limits, sockets) are added by inspecting it.
func newHostView(pod *corev1.Pod, plan *PodPlan) *api.HostView {
	v := &api.HostView{
		Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID),
		Phase: string(pod.Status.Phase), PodIP: pod.Status.PodIP, HostIP: pod.Status.HostIP,
	}
	if plan == nil {
		return v
	}
	v.Hostname = plan.Sandbox.Hostname
	v.HostNetwork = plan.Sandbox.HostNetwork
	v.NetNS = api.HostNetNS{Name: plan.Sandbox.NetNSName, Path: plan.Sandbox.NetNSPath}
	v.Veth.Pod = plan.Sandbox.Interface
	v.NamespaceDir = plan.Sandbox.NamespaceDir
	v.SharePID = plan.Sandbox.SharePID
	v.Cgroup.Path = plan.CgroupParent
	for _, vol := range plan.Volumes {
		hv := api.HostVolume{Name: vol.Name, Kind: vol.Kind, HostPath: vol.HostPath, Medium: vol.Medium, Source: vol.Source}
		for _, u := range vol.MountedBy {
			hv.MountedBy = append(hv.MountedBy, api.HostVolumeUse{Container: u.Container, MountPath: u.MountPath, ReadOnly: u.ReadOnly, SubPath: u.SubPath})
		}
		v.Volumes = append(v.Volumes, hv)
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		statuses[s.Name] = s
	}
	specs := map[string]corev1.Container{}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		specs[c.Name] = c
	}
	for _, c := range append(append([]ContainerPlan{}, plan.Init...), plan.Containers...) {
		hc := api.HostContainer{Name: c.Name, Init: c.Init, Image: c.Image, LogPath: c.LogPath, State: "waiting"}
		for _, m := range c.Mounts {
			if m.Volume != "" {
				hc.Mounts = append(hc.Mounts, api.HostMount{Volume: m.Volume, HostPath: m.HostPath, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath})
			}
		}
		hc.Limits = c.Resources.LimitsText()
		if s, ok := statuses[c.Name]; ok {
			hc.ID = strings.TrimPrefix(s.ContainerID, "containerd://")
			hc.Restarts, hc.Ready = s.RestartCount, s.Ready
			switch {
			case s.State.Running != nil:
				hc.State = "running"
			case s.State.Terminated != nil:
				hc.State, hc.Reason, hc.ExitCode = "terminated", s.State.Terminated.Reason, s.State.Terminated.ExitCode
			case s.State.Waiting != nil:
				hc.Reason = s.State.Waiting.Reason
			}
		}
		spec := specs[c.Name]
		for _, p := range spec.Ports {
			s := fmt.Sprintf("%d/%s", p.ContainerPort, protocolOf(p.Protocol))
			if p.Name != "" {
				s += " (" + p.Name + ")"
			}
			if p.HostPort != 0 {
				s += fmt.Sprintf(" <- host port %d", p.HostPort)
			}
			hc.Ports = append(hc.Ports, s)
		}
		for _, pr := range []struct {
			kind  string
			probe *corev1.Probe
		}{{"startup", spec.StartupProbe}, {"liveness", spec.LivenessProbe}, {"readiness", spec.ReadinessProbe}} {
			if pr.probe != nil {
				hc.Probes = append(hc.Probes, pr.kind+": "+probeText(pr.probe))
			}
		}
		v.Containers = append(v.Containers, hc)
	}
	return v
}

func protocolOf(p corev1.Protocol) string {
	if p == "" {
		return "TCP"
	}
	return string(p)
}

// probeText says what a probe checks and how often, in a few words.
func probeText(p *corev1.Probe) string {
	var what string
	switch h := p.ProbeHandler; {
	case h.TCPSocket != nil:
		what = "TCP connect to :" + h.TCPSocket.Port.String()
	case h.HTTPGet != nil:
		what = fmt.Sprintf("HTTP GET :%s%s", h.HTTPGet.Port.String(), h.HTTPGet.Path)
	case h.Exec != nil:
		what = "runs " + plan.QuoteArgv(h.Exec.Command)
	case h.GRPC != nil:
		what = fmt.Sprintf("gRPC health on :%d", h.GRPC.Port)
	default:
		what = "no handler"
	}
	period := p.PeriodSeconds
	if period == 0 {
		period = 10
	}
	return fmt.Sprintf("%s every %ds", what, period)
}
