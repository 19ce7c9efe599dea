package plan

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// SecurityPlan is a container's identity and privileges, from the pod's and
// the container's securityContext (the container's wins, field by field).
type Security struct {
	RunAsUser          *int64            `json:"runAsUser,omitempty"`
	RunAsGroup         *int64            `json:"runAsGroup,omitempty"`
	SupplementalGroups []int64           `json:"supplementalGroups,omitempty"`
	RunAsNonRoot       bool              `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFS     bool              `json:"readOnlyRootFilesystem,omitempty"`
	Privileged         bool              `json:"privileged,omitempty"`
	NoNewPrivileges    bool              `json:"noNewPrivileges,omitempty"`
	CapAdd             []string          `json:"capAdd,omitempty"`
	CapDrop            []string          `json:"capDrop,omitempty"`
	Sysctls            map[string]string `json:"sysctls,omitempty"`
	// Seccomp is RuntimeDefault (containerd's default profile; minipod's
	// default when the pod says nothing, as podman and a kubelet with
	// --seccomp-default), Unconfined (also every privileged container), or
	// Localhost with SeccompProfile, a path under the state root's seccomp
	// directory, as the kubelet keeps them under its root.
	Seccomp        string `json:"seccomp"`
	SeccompProfile string `json:"seccompProfile,omitempty"`
	// User is the process's user as the OCI spec takes it, "uid" or
	// "uid:gid" (a name resolves in the image's /etc/passwd); GroupsOf is
	// the user whose groups in the image's /etc/group it also gets. Both
	// are empty while they depend on an image config Pod did not have.
	User     string `json:"user,omitempty"`
	GroupsOf string `json:"groupsOf,omitempty"`
	// Capabilities are the process's bounding, effective and permitted
	// sets: the runtime's default set, less CapDrop, plus CapAdd. With
	// AllCapabilities they are every capability the host's kernel knows,
	// which only the host can list: with capAdd ALL, all of them; when
	// privileged, all of them less CapDrop (a privileged container that
	// drops ALL has only CapAdd).
	Capabilities    []string `json:"capabilities"`
	AllCapabilities bool     `json:"allCapabilities,omitempty"`
}

// defaultCapabilities are the capabilities a container gets by default,
// containerd's (and Docker's) default set, in its order.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// capabilities are the sets the process gets, as containerd's spec options
// apply them in turn: the default set (every known one when privileged),
// less the dropped ones (all with ALL), plus the added ones in their order
// (every known one with ALL).
func capabilities(s Security) (caps []string, all bool) {
	dropAll := slices.Contains(s.CapDrop, "ALL")
	if slices.Contains(s.CapAdd, "ALL") || s.Privileged && !dropAll {
		return nil, true
	}
	caps = []string{}
	if !s.Privileged && !dropAll {
		for _, c := range defaultCapabilities {
			if !slices.Contains(s.CapDrop, c) {
				caps = append(caps, c)
			}
		}
	}
	for _, c := range s.CapAdd {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps, false
}

// ResourcesPlan is what the container's cgroup enforces.
type Resources struct {
	MemoryLimit int64  `json:"memoryLimitBytes,omitempty"`
	CPUQuota    int64  `json:"cpuQuota,omitempty"`
	CPUPeriod   uint64 `json:"cpuPeriod,omitempty"`
	CPUShares   uint64 `json:"cpuShares,omitempty"`
	// PidsLimit caps the processes of a pod (the pod cgroup only), as the
	// kubelet's podPidsLimit; 0 or less is no limit.
	PidsLimit int64 `json:"pidsLimit,omitempty"`
}

func planSecurity(pod *corev1.Pod, c *corev1.Container) Security {
	var s Security
	if psc := pod.Spec.SecurityContext; psc != nil {
		s.RunAsUser, s.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
		s.RunAsNonRoot = isTrue(psc.RunAsNonRoot)
		s.SupplementalGroups = append(s.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			s.SupplementalGroups = append(s.SupplementalGroups, *psc.FSGroup)
		}
		if len(psc.Sysctls) > 0 {
			s.Sysctls = map[string]string{}
			for _, sc := range psc.Sysctls {
				s.Sysctls[sc.Name] = sc.Value
			}
		}
	}
	// no_new_privs is set only when allowPrivilegeEscalation is false, as
	// a kubelet sets it: a setuid program (su, ping) works in a container
	// as it does on a cluster (containerd's default spec sets it for every
	// container; apply clears it otherwise).
	if sc := c.SecurityContext; sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		s.NoNewPrivileges = true
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			s.RunAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			s.RunAsGroup = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			s.RunAsNonRoot = *sc.RunAsNonRoot
		}
		s.ReadOnlyRootFS = isTrue(sc.ReadOnlyRootFilesystem)
		s.Privileged = isTrue(sc.Privileged)
		if caps := sc.Capabilities; caps != nil {
			for _, c := range caps.Add {
				s.CapAdd = append(s.CapAdd, capName(string(c)))
			}
			for _, c := range caps.Drop {
				s.CapDrop = append(s.CapDrop, capName(string(c)))
			}
			sort.Strings(s.CapAdd)
			sort.Strings(s.CapDrop)
		}
	}
	s.Seccomp, s.SeccompProfile = planSeccomp(pod, c, s.Privileged)
	s.Capabilities, s.AllCapabilities = capabilities(s)
	return s
}

// planSeccomp picks the container's seccomp profile: its own
// securityContext, else the pod's, else RuntimeDefault.
func planSeccomp(pod *corev1.Pod, c *corev1.Container, privileged bool) (string, string) {
	if privileged {
		return string(corev1.SeccompProfileTypeUnconfined), ""
	}
	var sp *corev1.SeccompProfile
	if psc := pod.Spec.SecurityContext; psc != nil && psc.SeccompProfile != nil {
		sp = psc.SeccompProfile
	}
	if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		sp = sc.SeccompProfile
	}
	if sp == nil {
		return string(corev1.SeccompProfileTypeRuntimeDefault), ""
	}
	if sp.Type == corev1.SeccompProfileTypeLocalhost && sp.LocalhostProfile != nil {
		return string(sp.Type), *sp.LocalhostProfile
	}
	return string(sp.Type), ""
}

// containerUser is the user a container runs as, decided as the kubelet
// and containerd's CRI plugin decide it: runAsUser, else the image's user
// (its part before a colon: the kubelet passes the image's uid or name
// only, so the image's group is not kept), else root. user is what the
// spec's uid and primary gid come from (the /etc/passwd of the image for
// the gid, unless runAsGroup names it); member is the user whose groups in
// the image's /etc/group are added to the supplementary groups.
func containerUser(s Security, imageUser string) (user, member string) {
	member, _, _ = strings.Cut(imageUser, ":")
	if s.RunAsUser != nil {
		member = strconv.FormatInt(*s.RunAsUser, 10)
	}
	if member == "" {
		member = "0"
	}
	user = member
	if s.RunAsGroup != nil {
		user += ":" + strconv.FormatInt(*s.RunAsGroup, 10)
	}
	return user, member
}

// MergeGroups is the container's supplementary groups: those set so far
// (the primary gid, the user's groups in the image), then
// supplementalGroups and fsGroup, once each, in order of number, as
// containerd's CRI plugin merges them.
func MergeGroups(have []uint32, supplemental []int64) []uint32 {
	out := slices.Clone(have)
	for _, g := range supplemental {
		out = append(out, uint32(g))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// capName turns Kubernetes' "NET_ADMIN" (or "ALL") into the OCI name.
func capName(c string) string {
	if c == "ALL" || len(c) > 4 && c[:4] == "CAP_" {
		return c
	}
	return "CAP_" + c
}

// planResources is what a container's cgroup enforces, as the kubelet
// sets it: cpu.shares from the CPU request (or the limit when only that is
// set), 2 without either, so that a BestEffort container weighs least; a
// CFS quota from the CPU limit; the memory limit.
func planResources(c *corev1.Container) Resources {
	var r Resources
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimit = q.Value()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && !q.IsZero() {
		r.CPUPeriod = cfsPeriod
		r.CPUQuota = milliCPUToQuota(q.MilliValue(), cfsPeriod)
	}
	req := requestsOf(*c)
	r.CPUShares = milliCPUToShares(req.Cpu().MilliValue())
	return r
}

// QOSClass is the pod's QoS class, computed as the API server does.
func QOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := 0, 0
	guaranteed := true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			rq, hasReq := c.Resources.Requests[name]
			lq, hasLim := c.Resources.Limits[name]
			if hasReq {
				requests++
			}
			if hasLim {
				limits++
			}
			if !hasLim || (hasReq && rq.Cmp(lq) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case requests == 0 && limits == 0:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// LimitsText is a container's cgroup limits, or "" without any.
func (r Resources) LimitsText() string {
	var parts []string
	if r.MemoryLimit > 0 {
		parts = append(parts, "memory "+BytesText(r.MemoryLimit))
	}
	if r.CPUQuota > 0 && r.CPUPeriod > 0 {
		parts = append(parts, fmt.Sprintf("cpu %gcores", float64(r.CPUQuota)/float64(r.CPUPeriod)))
	}
	return strings.Join(parts, ", ")
}

// BytesText is a size as a person reads it: 64Mi, 1Gi.
func BytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGi", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMi", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKi", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
