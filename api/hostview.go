package api

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// HostView is what one pod is on the host right now: its network namespace
// and where it plugs into the bridge, its containers' processes and their
// shim, its volumes' host paths, its cgroup. `minipod describe pod --host`
// prints it and the daemon's live view draws it.
type HostView struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Phase     string `json:"phase"`
	PodIP     string `json:"podIP,omitempty"`
	HostIP    string `json:"hostIP,omitempty"`
	Hostname  string `json:"hostname"`
	// HostNetwork pods have no namespace, veth or bridge of their own.
	HostNetwork bool      `json:"hostNetwork,omitempty"`
	NetNS       HostNetNS `json:"netns"`
	Veth        HostVeth  `json:"veth"`
	Bridge      HostLink  `json:"bridge"`
	// NamespaceDir holds the pod's pinned IPC and UTS namespaces (and its
	// PID namespace with shareProcessNamespace).
	NamespaceDir string          `json:"namespaceDir"`
	SharePID     bool            `json:"sharePID,omitempty"`
	Shim         HostProcess     `json:"shim"`
	Cgroup       HostCgroup      `json:"cgroup"`
	Containers   []HostContainer `json:"containers"`
	Volumes      []HostVolume    `json:"volumes,omitempty"`
	// Listening are the TCP sockets listening in the pod's network
	// namespace, with the process (and its container) that owns each.
	Listening []HostSocket `json:"listening,omitempty"`
	// Hosts is the pod's /etc/hosts as its containers read it now.
	Hosts string `json:"hosts,omitempty"`
	// Problems are what could not be read (the view is still useful).
	Problems []string `json:"problems,omitempty"`
}

// HostNetNS is the pod's network namespace, pinned as a file.
type HostNetNS struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// HostVeth is the pod's cable to the bridge: one end (Pod, e.g. eth0) in
// the pod's namespace, the other (Host) on the host, enslaved to the bridge.
type HostVeth struct {
	Host  string `json:"host,omitempty"`
	Index int    `json:"index,omitempty"`
	MAC   string `json:"mac,omitempty"`
	Pod   string `json:"pod"`
}

// HostLink is a host interface and its address.
type HostLink struct {
	Name string `json:"name,omitempty"`
	IP   string `json:"ip,omitempty"`
}

// HostProcess is a process on the host.
type HostProcess struct {
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
}

// HostCgroup is the pod-level cgroup and the limits in force on it.
type HostCgroup struct {
	Path   string   `json:"path"`
	Dirs   []string `json:"dirs,omitempty"`
	Memory string   `json:"memory,omitempty"`
	CPU    string   `json:"cpu,omitempty"`
	Pids   string   `json:"pids,omitempty"`
}

// HostContainer is one container: its state as the API reports it, and its
// process on the host.
type HostContainer struct {
	Name     string `json:"name"`
	Init     bool   `json:"init,omitempty"`
	Image    string `json:"image"`
	ID       string `json:"id,omitempty"`
	PID      int    `json:"pid,omitempty"`
	State    string `json:"state"` // running, waiting, terminated
	Reason   string `json:"reason,omitempty"`
	ExitCode int32  `json:"exitCode,omitempty"`
	Restarts int32  `json:"restarts"`
	Ready    bool   `json:"ready"`
	// Probes describe the container's probes, one line each.
	Probes []string `json:"probes,omitempty"`
	// Ports are the containerPorts the pod declares.
	Ports []string `json:"ports,omitempty"`
	// Limits are the container's own cgroup limits.
	Limits  string      `json:"limits,omitempty"`
	Mounts  []HostMount `json:"mounts,omitempty"`
	LogPath string      `json:"logPath,omitempty"`
}

// HostVolume is one pod volume, where it lives and who mounts it.
type HostVolume struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	HostPath  string          `json:"hostPath"`
	Medium    string          `json:"medium,omitempty"`
	Source    string          `json:"source,omitempty"`
	MountedBy []HostVolumeUse `json:"mountedBy,omitempty"`
}

// HostSocket is a listening TCP socket in the pod's network namespace.
type HostSocket struct {
	Address   string `json:"address"`
	Port      int    `json:"port"`
	PID       int    `json:"pid,omitempty"`
	Process   string `json:"process,omitempty"`
	Container string `json:"container,omitempty"`
}

// HostMount is a volume mounted into a container.
type HostMount struct {
	Volume        string `json:"volume,omitempty"`
	HostPath      string `json:"hostPath"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
	SubPath       string `json:"subPath,omitempty"`
}

// HostVolumeUse is a container that mounts a volume, and where.
type HostVolumeUse struct {
	Container string `json:"container"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
	SubPath   string `json:"subPath,omitempty"`
}

// WriteText prints the view for a terminal: what each thing is on the
// host, and where to look at it.
func (v *HostView) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) {
		fmt.Fprintln(bw, strings.TrimRight(fmt.Sprintf(format, args...), " "))
	}
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	p("Pod %s/%s on the host  (uid %s, %s)", v.Namespace, v.Name, v.UID, or(v.Phase, "Unknown"))
	p("")
	p("Network")
	if v.HostNetwork {
		p("  hostNetwork: the pod uses the host's own network namespace; no veth, no bridge")
	} else {
		p("  namespace  %s  (pinned at %s)", v.NetNS.Name, v.NetNS.Path)
		p("  pod IP     %s on %s, inside the namespace", or(v.PodIP, "none yet"), or(v.Veth.Pod, "eth0"))
		veth := or(v.Veth.Host, "not found")
		if v.Veth.Index > 0 {
			veth += fmt.Sprintf(" (ifindex %d)", v.Veth.Index)
		}
		p("  veth       %s on the host  <->  %s in the pod", veth, or(v.Veth.Pod, "eth0"))
		bridge := or(v.Bridge.Name, "not found")
		if v.Bridge.IP != "" {
			bridge += " " + v.Bridge.IP + " (the pod's gateway)"
		}
		p("  bridge     %s", bridge)
	}
	p("  hostname   %s  (UTS and IPC namespaces pinned in %s)", v.Hostname, v.NamespaceDir)
	if len(v.Listening) > 0 {
		p("  listening  (one network namespace: every container sees every port)")
		for _, s := range v.Listening {
			who := or(s.Process, "?")
			if s.PID > 0 {
				who += fmt.Sprintf(" pid %d", s.PID)
			}
			if s.Container != "" {
				who += " in " + s.Container
			}
			p("    %s:%d  %s", s.Address, s.Port, who)
		}
	}
	p("")
	p("Containers  (shim pid %s%s)", or(itoa(v.Shim.PID), "?"), prefixed(" ", v.Shim.Command))
	for _, c := range v.Containers {
		kind := ""
		if c.Init {
			kind = " (init)"
		}
		state := c.State
		if c.Reason != "" {
			state += " (" + c.Reason + ")"
		}
		if c.State == "terminated" {
			state += fmt.Sprintf(" exit %d", c.ExitCode)
		}
		ready := "not ready"
		if c.Ready {
			ready = "ready"
		}
		restarts := fmt.Sprintf("%d restarts", c.Restarts)
		if c.Restarts == 1 {
			restarts = "1 restart"
		}
		p("  %s%s  %s, %s, %s", c.Name, kind, state, ready, restarts)
		p("    image      %s", c.Image)
		if c.ID != "" {
			p("    id         %s", c.ID)
		}
		if c.PID > 0 {
			p("    pid        %d (on the host)", c.PID)
		}
		if len(c.Ports) > 0 {
			p("    ports      %s", strings.Join(c.Ports, ", "))
		}
		for _, pr := range c.Probes {
			p("    probe      %s", pr)
		}
		if c.Limits != "" {
			p("    limits     %s", c.Limits)
		}
		for _, m := range c.Mounts {
			p("    mount      %s <- volume %s %s", m.ContainerPath, m.Volume, rwText(m.ReadOnly))
		}
		p("    log        %s", c.LogPath)
	}
	if len(v.Volumes) > 0 {
		p("")
		p("Volumes")
		for _, vol := range v.Volumes {
			kind := vol.Kind
			if vol.Medium != "" {
				kind += ", " + vol.Medium
			}
			if vol.Source != "" {
				kind += " " + vol.Source
			}
			p("  %s (%s)  %s", vol.Name, kind, vol.HostPath)
			for _, u := range vol.MountedBy {
				p("    mounted by %s at %s, %s", u.Container, u.MountPath, rwText(u.ReadOnly))
			}
		}
	}
	p("")
	p("Cgroup  %s", v.Cgroup.Path)
	limits := []string{"memory " + or(v.Cgroup.Memory, "?"), "cpu " + or(v.Cgroup.CPU, "?"), "pids " + or(v.Cgroup.Pids, "?")}
	p("  limits  %s", strings.Join(limits, ", "))
	dirs := append([]string(nil), v.Cgroup.Dirs...)
	sort.Strings(dirs)
	for _, d := range dirs {
		p("  dir     %s", d)
	}
	if v.Hosts != "" {
		p("")
		p("/etc/hosts  (how this pod's containers find other pods by name)")
		for _, l := range strings.Split(strings.TrimRight(v.Hosts, "\n"), "\n") {
			p("  %s", l)
		}
	}
	for _, pr := range v.Problems {
		p("note: %s", pr)
	}
	return bw.Flush()
}

func rwText(ro bool) string {
	if ro {
		return "read-only"
	}
	return "read-write"
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
