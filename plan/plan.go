// Package plan turns a validated pod into the whole plan of what minipod
// creates for it on the host: the pod's namespaces, CNI arguments, volumes
// with their files, the contents of its /etc/hosts, /etc/hostname and
// /etc/resolv.conf, and each container's containerd ID, process (argv and
// env after $(VAR) expansion), user, capabilities and other security
// settings, mounts with their OCI options, namespaces, cgroup and limits.
// The runtime executes it; `minipod run --dry-run` prints it.
//
// It is pure: no host I/O, no containerd, and it builds on every OS. What
// only the pod's creation knows is a named placeholder the plan carries:
// the pod IP and the other pods of its namespace in /etc/hosts
// (PodFile.Render fills them in), values such as status.podIP in env and
// argv (Container.Process), the UID of a pod not yet created ("<uid>").
// What the host holds is an input: the host's resolv.conf
// (Options.HostResolvConf) and the images' configs (Options.Images).
package plan

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/sys/signal"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
)

// ImageConfig is the part of an image's config that shapes a container,
// as the daemon sends it to a dry run.
type ImageConfig = api.ImageConfig

// PlanOptions is what Plan needs besides the pod.
type Options struct {
	// StateRoot is the daemon's state root (default /var/lib/minipod).
	StateRoot string
	// Network is the CNI network name (default "minipod").
	Network string
	// NetNSDir is where named network namespaces are pinned (default
	// /run/netns, as ip-netns keeps them).
	NetNSDir string
	// Images holds the configs of the images known so far, by the image
	// reference as the pod writes it. A missing entry means unknown.
	Images map[string]*ImageConfig
	// ConfigMaps and Secrets are those the pod may reference.
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
	// PodPidsLimit is the most processes a pod may have (the kubelet's
	// podPidsLimit); 0 or less is no limit.
	PodPidsLimit int64
	// HostResolvConf is the host's /etc/resolv.conf, which the pod's is
	// made from (nil: none). The caller reads it; Pod does no I/O.
	HostResolvConf []byte
}

// Defaults of PlanOptions.
const (
	DefaultStateRoot = "/var/lib/minipod"
	DefaultNetwork   = "minipod"
	DefaultNetNSDir  = "/run/netns"
	// DefaultPodPidsLimit bounds a fork bomb to its own pod: minipod's
	// choice, where the kubelet's default is no limit.
	DefaultPodPidsLimit = 4096
	// NetNSPrefix starts the name of every pod network namespace.
	NetNSPrefix = "minipod-"
	// unknownUID stands for the UID in a plan made before the pod exists.
	unknownUID = "<uid>"
)

// PodPlan is everything apply will create for one pod, in order.
type Plan struct {
	Namespace     string            `json:"namespace"`
	Name          string            `json:"name"`
	UID           string            `json:"uid"`
	PodDir        string            `json:"podDir"`
	LogDir        string            `json:"logDir"`
	RestartPolicy string            `json:"restartPolicy"`
	GracePeriod   int64             `json:"terminationGracePeriodSeconds"`
	Images        []Image           `json:"images"`
	Sandbox       Sandbox           `json:"sandbox"`
	Volumes       []Volume          `json:"volumes,omitempty"`
	Init          []Container       `json:"initContainers,omitempty"`
	Containers    []Container       `json:"containers"`
	Labels        map[string]string `json:"labels,omitempty"`
	// FSGroup owns the pod's emptyDir, configMap, secret, downwardAPI and
	// projected volumes and is a supplemental group of every container.
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// CgroupParent is the pod-level cgroup all its containers live under.
	CgroupParent string `json:"cgroupParent"`
	// PodResources is what the pod-level cgroup enforces (the kubelet's
	// pod cgroup limits); the QoS cgroups above it are the runtime's.
	PodResources Resources `json:"podResources"`
}

// ImagePlan says how one image is made present before anything is created.
type Image struct {
	Ref        string `json:"ref"`
	PullPolicy string `json:"pullPolicy"`
	// ConfigKnown is false when the image's config was not known to Plan.
	ConfigKnown bool `json:"configKnown"`
	// Config is the image's config, when known.
	Config *ImageConfig `json:"config,omitempty"`
}

// SandboxPlan is what all of the pod's containers share: the network, IPC
// and UTS namespaces, and the pod's /etc files.
type Sandbox struct {
	NetNSName    string            `json:"netnsName"`
	NetNSPath    string            `json:"netnsPath"`
	Network      string            `json:"network"`
	Interface    string            `json:"interface"`
	CNIArgs      map[string]string `json:"cniArgs"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	// NamespaceDir holds the pinned IPC and UTS namespaces of the pod.
	NamespaceDir string    `json:"namespaceDir"`
	Hostname     string    `json:"hostname"`
	Files        []PodFile `json:"files"`
	// HostNetwork, HostPID and HostIPC put the pod in the host's
	// namespaces: no network namespace and no CNI with HostNetwork.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	HostPID     bool `json:"hostPID,omitempty"`
	// SharePID is shareProcessNamespace: one PID namespace for all.
	SharePID bool `json:"shareProcessNamespace,omitempty"`
	HostIPC  bool `json:"hostIPC,omitempty"`
	// HostsExtra are hostAliases and the subdomain FQDN, as lines of
	// /etc/hosts; DNS is what /etc/resolv.conf is made from.
	HostsExtra []string `json:"hostsExtra,omitempty"`
	DNS        DNS      `json:"dns"`
}

// DNSPlan is the pod's resolver configuration: dnsPolicy Default (and
// ClusterFirst, the same on one host) starts from the host's resolv.conf
// without loopback nameservers; None starts empty; dnsConfig adds to both.
type DNS struct {
	Policy      string   `json:"policy"`
	Nameservers []string `json:"nameservers,omitempty"`
	Searches    []string `json:"searches,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// PortMapping is a hostPort of a container, handed to CNI's portmap.
type PortMapping struct {
	Container     string `json:"container"`
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// PodFile is one of the pod's generated /etc files. Content is what the
// file holds, exactly, but for its Placeholders (by name, what fills each
// in), which only the pod's creation knows: Render fills them in.
type PodFile struct {
	HostPath      string            `json:"hostPath"`
	ContainerPath string            `json:"containerPath"`
	Content       string            `json:"content"`
	Placeholders  map[string]string `json:"placeholders,omitempty"`
}

// VolumePlan is one pod volume: where it lives on the host and who mounts it.
type Volume struct {
	Name         string       `json:"name"`
	Kind         string       `json:"kind"`
	HostPath     string       `json:"hostPath"`
	Medium       string       `json:"medium,omitempty"`
	SizeLimit    int64        `json:"sizeLimitBytes,omitempty"`
	HostPathType string       `json:"hostPathType,omitempty"`
	Source       string       `json:"source,omitempty"`
	Files        []VolumeFile `json:"files,omitempty"`
	MountedBy    []VolumeUse  `json:"mountedBy,omitempty"`
}

// VolumeFile is a file a configMap or secret volume projects.
type VolumeFile struct {
	Path string `json:"path"`
	Key  string `json:"key"`
	Mode int32  `json:"mode"`
	Data []byte `json:"-"`
}

// VolumeUse is one container's mount of a volume.
type VolumeUse struct {
	Container string `json:"container"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
	SubPath   string `json:"subPath,omitempty"`
}

// Container is one container's process and mounts.
type Container struct {
	Name string `json:"name"`
	// ID is the container's (and its snapshot's) name in containerd;
	// CgroupPath its cgroup, in the pod's.
	ID         string `json:"id"`
	CgroupPath string `json:"cgroupPath"`
	// Hostname is the name the container's spec sets in its UTS
	// namespace; none with hostNetwork, where it keeps the host's.
	Hostname   string `json:"hostname,omitempty"`
	Init       bool   `json:"init,omitempty"`
	Image      string `json:"image"`
	PullPolicy string `json:"pullPolicy"`
	// Argv is the process to run, after $(VAR) expansion (placeholders
	// as in EnvVar); ArgvRaw is as the pod and image write it, where
	// expansion changed it. ArgvKnown is false when it depends on an
	// image config Pod did not have, and ArgvFrom says where it came from.
	Argv       []string      `json:"argv"`
	ArgvRaw    []string      `json:"argvRaw,omitempty"`
	ArgvKnown  bool          `json:"argvKnown"`
	ArgvFrom   string        `json:"argvFrom"`
	Env        []EnvVar      `json:"env,omitempty"`
	WorkingDir string        `json:"workingDir,omitempty"`
	Mounts     []Mount       `json:"mounts"`
	Ports      []PortMapping `json:"ports,omitempty"`
	StopSignal string        `json:"stopSignal,omitempty"`
	// ImageUser is the image's USER, which runAsNonRoot is checked against.
	ImageUser string `json:"imageUser,omitempty"`
	LogPath   string `json:"logPath"`
	// Namespaces the container joins, by type: the pod's network namespace
	// and its pinned IPC and UTS namespaces.
	Namespaces []Namespace `json:"namespaces"`
	// TerminationMessagePath is where the container may leave its last words.
	TerminationMessagePath string `json:"terminationMessagePath,omitempty"`
	// TerminationMessageHostPath is the host file bind-mounted there;
	// FallbackToLogs is terminationMessagePolicy FallbackToLogsOnError.
	TerminationMessageHostPath string `json:"terminationMessageHostPath,omitempty"`
	FallbackToLogs             bool   `json:"fallbackToLogsOnError,omitempty"`
	// Security and Resources are what the container's process and cgroup
	// get from securityContext and resources.
	Security  Security  `json:"security"`
	Resources Resources `json:"resources"`
}

// EnvVar is one environment variable of a container. Value is what the
// container gets, after $(VAR) expansion, except where a value is known
// only when the pod is created: a Deferred variable (status.podIP and the
// like) and what expands one hold a placeholder "<status.podIP>" in
// Value, which Container.Process fills in. Raw is the value as the pod
// writes it, where expansion changed it.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"-"`
	Raw      string `json:"raw,omitempty"`
	From     string `json:"from,omitempty"`
	Secret   bool   `json:"secret,omitempty"`
	Deferred string `json:"deferred,omitempty"`
}

// MarshalJSON shows the value unless it is secret.
func (e EnvVar) MarshalJSON() ([]byte, error) {
	type plain EnvVar
	out := struct {
		plain
		Value string `json:"value,omitempty"`
	}{plain: plain(e), Value: e.Value}
	if e.Secret {
		out.Value = "(secret)"
	}
	return json.Marshal(out)
}

// Mount is one OCI bind mount of a container. Options are the OCI
// mount's: a configMap, secret, downwardAPI or projected volume and the
// pod's /etc files are read-only whatever the pod says, as on a kubelet.
type Mount struct {
	Volume        string   `json:"volume,omitempty"`
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath"`
	ReadOnly      bool     `json:"readOnly"`
	SubPath       string   `json:"subPath,omitempty"`
	Options       []string `json:"options"`
}

// bindOptions are the options of a bind mount, read-only or not.
func bindOptions(readOnly bool) []string {
	if readOnly {
		return []string{"rbind", "rprivate", "ro"}
	}
	return []string{"rbind", "rprivate", "rw"}
}

// ContainerID names a pod's container in containerd: a UID prefix and the
// container name, within containerd's 76-character limit.
func ContainerID(uid, name string) string {
	id := strings.ReplaceAll(uid, "-", "")
	if len(id) > 12 {
		id = id[:12]
	}
	id += "-" + name
	if len(id) > 76 {
		id = id[:76]
	}
	return id
}

// NamespacePlan names a Linux namespace a container joins.
type Namespace struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// Plan turns a validated, defaulted pod into its plan. It is pure: no I/O,
// no root, no containerd. Values that only exist once the pod does (its IP,
// the host's name) are marked Deferred.
func Pod(pod *corev1.Pod, opts Options) (*Plan, error) {
	if pod == nil {
		return nil, fmt.Errorf("failed to plan pod: no pod")
	}
	if opts.StateRoot == "" {
		opts.StateRoot = DefaultStateRoot
	}
	if opts.Network == "" {
		opts.Network = DefaultNetwork
	}
	if opts.NetNSDir == "" {
		opts.NetNSDir = DefaultNetNSDir
	}
	uid := string(pod.UID)
	if uid == "" {
		uid = unknownUID
	}
	ns := pod.Namespace
	if ns == "" {
		ns = "default"
	}
	podDir := filepath.Join(opts.StateRoot, "pods", uid)
	p := &Plan{
		Namespace:     ns,
		Name:          pod.Name,
		UID:           uid,
		PodDir:        podDir,
		LogDir:        filepath.Join(opts.StateRoot, "logs", ns+"_"+pod.Name+"_"+uid),
		RestartPolicy: string(pod.Spec.RestartPolicy),
		GracePeriod:   30,
		Labels:        pod.Labels,
	}
	p.CgroupParent = podCgroupParent(uid, QOSClass(pod))
	p.PodResources = podCgroupResources(pod)
	p.PodResources.PidsLimit = opts.PodPidsLimit
	if sc := pod.Spec.SecurityContext; sc != nil {
		p.FSGroup = sc.FSGroup
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		p.GracePeriod = *g
	}

	// Images, in the order the pod names them, once each.
	seen := map[string]bool{}
	for _, c := range AllContainers(pod) {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		cfg, known := opts.Images[c.Image]
		p.Images = append(p.Images, Image{Ref: c.Image, PullPolicy: string(c.ImagePullPolicy), ConfigKnown: known, Config: cfg})
	}

	p.Sandbox = planSandbox(pod, uid, podDir, opts)

	refs := indexRefs(ns, opts)
	vols, err := planVolumes(pod, podDir, refs)
	if err != nil {
		return nil, err
	}
	p.Volumes = vols

	for i := range pod.Spec.InitContainers {
		c, err := planContainer(pod, &pod.Spec.InitContainers[i], true, p, refs, opts)
		if err != nil {
			return nil, err
		}
		p.Init = append(p.Init, c)
	}
	for i := range pod.Spec.Containers {
		c, err := planContainer(pod, &pod.Spec.Containers[i], false, p, refs, opts)
		if err != nil {
			return nil, err
		}
		p.Containers = append(p.Containers, c)
	}
	return p, nil
}

// AllContainers are the pod's init containers, then its app containers.
func AllContainers(pod *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	out = append(out, pod.Spec.InitContainers...)
	return append(out, pod.Spec.Containers...)
}

func planSandbox(pod *corev1.Pod, uid, podDir string, opts Options) Sandbox {
	name := NetNSPrefix + uid
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	// A hostname is at most 63 characters, as the kubelet truncates it.
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	uname := hostname
	if sub := pod.Spec.Subdomain; sub != "" && pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN {
		// setHostnameAsFQDN: the kernel's hostname is the pod's FQDN.
		uname = fmt.Sprintf("%s.%s.%s.svc.cluster.local", hostname, sub, pod.Namespace)
	}
	s := Sandbox{
		NetNSName:    name,
		NetNSPath:    filepath.Join(opts.NetNSDir, name),
		Network:      opts.Network,
		Interface:    "eth0",
		NamespaceDir: filepath.Join(podDir, "ns"),
		Hostname:     uname,
		CNIArgs: map[string]string{
			"IgnoreUnknown":     "1",
			"K8S_POD_NAMESPACE": pod.Namespace,
			"K8S_POD_NAME":      pod.Name,
			"K8S_POD_UID":       uid,
		},
	}
	for _, c := range pod.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			s.PortMappings = append(s.PortMappings, PortMapping{
				Container:     c.Name,
				HostPort:      port.HostPort,
				ContainerPort: port.ContainerPort,
				Protocol:      strings.ToLower(string(port.Protocol)),
				HostIP:        port.HostIP,
			})
		}
	}
	s.HostPID, s.HostIPC = pod.Spec.HostPID, pod.Spec.HostIPC
	s.SharePID = isTrue(pod.Spec.ShareProcessNamespace) && !s.HostPID
	if pod.Spec.HostNetwork {
		s.HostNetwork = true
		s.NetNSName, s.NetNSPath, s.Network, s.Interface, s.CNIArgs, s.PortMappings = "", "", "", "", nil, nil
	}
	if sub := pod.Spec.Subdomain; sub != "" {
		s.HostsExtra = append(s.HostsExtra, fmt.Sprintf("<pod IP>\t%s.%s.%s.svc.cluster.local\t%s", hostname, sub, pod.Namespace, hostname))
	}
	for _, a := range pod.Spec.HostAliases {
		s.HostsExtra = append(s.HostsExtra, a.IP+"\t"+strings.Join(a.Hostnames, "\t"))
	}
	s.DNS = DNS{Policy: string(pod.Spec.DNSPolicy)}
	if dc := pod.Spec.DNSConfig; dc != nil {
		s.DNS.Nameservers = append(s.DNS.Nameservers, dc.Nameservers...)
		s.DNS.Searches = append(s.DNS.Searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			s.DNS.Options = append(s.DNS.Options, opt)
		}
	}
	etc := filepath.Join(podDir, "etc")
	s.Files = []PodFile{
		{HostPath: filepath.Join(etc, "hosts"), ContainerPath: "/etc/hosts", Content: s.HostsTemplate(), Placeholders: hostsPlaceholders},
		{HostPath: filepath.Join(etc, "hostname"), ContainerPath: "/etc/hostname", Content: s.Hostname + "\n"},
		{HostPath: filepath.Join(etc, "resolv.conf"), ContainerPath: "/etc/resolv.conf", Content: string(podResolvConf(s.DNS, opts.HostResolvConf))},
	}
	return s
}

type refIndex struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func indexRefs(ns string, opts Options) refIndex {
	r := refIndex{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, cm := range opts.ConfigMaps {
		if cm.Namespace == "" || cm.Namespace == ns {
			r.configMaps[cm.Name] = cm
		}
	}
	for _, s := range opts.Secrets {
		if s.Namespace == "" || s.Namespace == ns {
			r.secrets[s.Name] = s
		}
	}
	return r
}

func planVolumes(pod *corev1.Pod, podDir string, refs refIndex) ([]Volume, error) {
	var out []Volume
	for _, v := range pod.Spec.Volumes {
		vp := Volume{Name: v.Name}
		switch {
		case v.EmptyDir != nil:
			vp.Kind = "emptyDir"
			vp.HostPath = filepath.Join(podDir, "volumes", "empty-dir", v.Name)
			vp.Medium = string(v.EmptyDir.Medium)
			if v.EmptyDir.SizeLimit != nil {
				vp.SizeLimit = v.EmptyDir.SizeLimit.Value()
			}
		case v.HostPath != nil:
			vp.Kind = "hostPath"
			vp.HostPath = filepath.Clean(v.HostPath.Path)
			if v.HostPath.Type != nil {
				vp.HostPathType = string(*v.HostPath.Type)
			}
		case v.ConfigMap != nil:
			vp.Kind = "configMap"
			vp.HostPath = filepath.Join(podDir, "volumes", "configmap", v.Name)
			vp.Source = v.ConfigMap.Name
			cm := refs.configMaps[v.ConfigMap.Name]
			data := map[string][]byte{}
			if cm != nil {
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
				for k, b := range cm.BinaryData {
					data[k] = b
				}
			} else if !isTrue(v.ConfigMap.Optional) {
				return nil, fmt.Errorf("failed to plan volume %q: configMap %q not found", v.Name, v.ConfigMap.Name)
			}
			files, err := projectFiles(v.Name, data, v.ConfigMap.Items, v.ConfigMap.DefaultMode, isTrue(v.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			vp.Files = files
		case v.Secret != nil:
			vp.Kind = "secret"
			vp.HostPath = filepath.Join(podDir, "volumes", "secret", v.Name)
			vp.Medium = "Memory"
			vp.Source = v.Secret.SecretName
			s := refs.secrets[v.Secret.SecretName]
			data := map[string][]byte{}
			if s != nil {
				for k, b := range s.Data {
					data[k] = b
				}
				for k, str := range s.StringData {
					data[k] = []byte(str)
				}
			} else if !isTrue(v.Secret.Optional) {
				return nil, fmt.Errorf("failed to plan volume %q: secret %q not found", v.Name, v.Secret.SecretName)
			}
			files, err := projectFiles(v.Name, data, v.Secret.Items, v.Secret.DefaultMode, isTrue(v.Secret.Optional))
			if err != nil {
				return nil, err
			}
			vp.Files = files
		case v.DownwardAPI != nil:
			// As the kubelet, downward API and projected volumes live in
			// memory.
			vp.Kind = "downwardAPI"
			vp.HostPath = filepath.Join(podDir, "volumes", "downward-api", v.Name)
			vp.Medium = "Memory"
			files, err := downwardFiles(pod, v.Name, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
			if err != nil {
				return nil, err
			}
			vp.Files = files
		case v.Projected != nil:
			vp.Kind = "projected"
			vp.HostPath = filepath.Join(podDir, "volumes", "projected", v.Name)
			vp.Medium = "Memory"
			files, err := projectedFiles(pod, v.Name, v.Projected, refs)
			if err != nil {
				return nil, err
			}
			vp.Files = files
		default:
			return nil, fmt.Errorf("failed to plan volume %q: no supported volume source", v.Name)
		}
		for _, c := range AllContainers(pod) {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					vp.MountedBy = append(vp.MountedBy, VolumeUse{Container: c.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath})
				}
			}
		}
		out = append(out, vp)
	}
	return out, nil
}

// projectFiles lays out a configMap or secret volume as the kubelet does:
// every key as a file, or only the listed items at their paths.
func projectFiles(volume string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool) ([]VolumeFile, error) {
	mode := int32(0o644)
	if defaultMode != nil {
		mode = *defaultMode
	}
	var out []VolumeFile
	if len(items) == 0 {
		for k, b := range data {
			out = append(out, VolumeFile{Path: k, Key: k, Mode: mode, Data: b})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
		return out, nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("failed to plan volume %q: key %q not found", volume, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		out = append(out, VolumeFile{Path: path.Clean(it.Path), Key: it.Key, Mode: m, Data: b})
	}
	return out, nil
}

func planContainer(pod *corev1.Pod, c *corev1.Container, init bool, p *Plan, refs refIndex, opts Options) (Container, error) {
	img := opts.Images[c.Image]
	cp := Container{
		Name:                   c.Name,
		ID:                     ContainerID(p.UID, c.Name),
		Init:                   init,
		Image:                  c.Image,
		PullPolicy:             string(c.ImagePullPolicy),
		WorkingDir:             c.WorkingDir,
		LogPath:                filepath.Join(p.LogDir, c.Name, "0.log"),
		TerminationMessagePath: c.TerminationMessagePath,
		FallbackToLogs:         c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError,
	}
	cp.Argv, cp.ArgvKnown, cp.ArgvFrom = mergeArgv(c.Command, c.Args, img)
	cp.Security = planSecurity(pod, c)
	if img != nil || cp.Security.RunAsUser != nil {
		var imageUser string
		if img != nil {
			imageUser = img.User
		}
		cp.Security.User, cp.Security.GroupsOf = containerUser(cp.Security, imageUser)
	}
	cp.Resources = planResources(c)
	if img != nil {
		if cp.WorkingDir == "" {
			cp.WorkingDir = img.WorkingDir
		}
		cp.StopSignal = img.StopSignal
		cp.ImageUser = img.User
	}
	// lifecycle.stopSignal overrides the image's STOPSIGNAL, as on a
	// kubelet, for a Linux pod (the API server requires spec.os.name
	// with it) and a signal that Linux has.
	if c.Lifecycle != nil && c.Lifecycle.StopSignal != nil && pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Linux {
		if _, err := signal.ParseSignal(string(*c.Lifecycle.StopSignal)); err == nil {
			cp.StopSignal = string(*c.Lifecycle.StopSignal)
		}
	}
	env, err := planEnv(pod, c, refs)
	if err != nil {
		return cp, err
	}
	if img != nil {
		env = mergeImageEnv(img.Env, env)
	}
	cp.Env = env

	// An empty path means the host's namespace of that type.
	cp.Namespaces = []Namespace{
		{Type: "network", Path: p.Sandbox.NetNSPath},
		{Type: "ipc", Path: filepath.Join(p.Sandbox.NamespaceDir, "ipc")},
		{Type: "uts", Path: filepath.Join(p.Sandbox.NamespaceDir, "uts")},
	}
	if p.Sandbox.HostIPC {
		cp.Namespaces[1].Path = ""
	}
	if p.Sandbox.HostNetwork {
		cp.Namespaces[2].Path = ""
	}
	if p.Sandbox.HostPID {
		cp.Namespaces = append(cp.Namespaces, Namespace{Type: "pid"})
	}
	if p.Sandbox.SharePID {
		cp.Namespaces = append(cp.Namespaces, Namespace{Type: "pid", Path: filepath.Join(p.Sandbox.NamespaceDir, "pid")})
	}
	for _, f := range p.Sandbox.Files {
		cp.Mounts = append(cp.Mounts, Mount{HostPath: f.HostPath, ContainerPath: f.ContainerPath, Options: bindOptions(true)})
	}
	if cp.TerminationMessagePath != "" {
		cp.TerminationMessageHostPath = filepath.Join(p.PodDir, "termination", c.Name)
	}
	for _, m := range c.VolumeMounts {
		var host, kind string
		for _, v := range p.Volumes {
			if v.Name == m.Name {
				host, kind = v.HostPath, v.Kind
			}
		}
		if host == "" {
			return cp, fmt.Errorf("failed to plan container %q: volumeMount %q names no volume", c.Name, m.Name)
		}
		if m.SubPath != "" {
			host = filepath.Join(host, m.SubPath)
		}
		ro := m.ReadOnly || kind == "configMap" || kind == "secret" || kind == "downwardAPI" || kind == "projected"
		cp.Mounts = append(cp.Mounts, Mount{Volume: m.Name, HostPath: host, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath, Options: bindOptions(ro)})
	}
	for _, port := range c.Ports {
		cp.Ports = append(cp.Ports, PortMapping{Container: c.Name, HostPort: port.HostPort, ContainerPort: port.ContainerPort,
			Protocol: strings.ToLower(string(port.Protocol)), HostIP: port.HostIP})
	}
	cp.CgroupPath = p.CgroupParent + "/" + cp.ID
	if !p.Sandbox.HostNetwork {
		cp.Hostname = p.Sandbox.Hostname
	}
	cp.expandPlanned()
	if err := cp.expandSubPathExprs(c.VolumeMounts); err != nil {
		return cp, fmt.Errorf("failed to plan container %q: %w", c.Name, err)
	}
	return cp, nil
}

// expandSubPathExprs gives each mount with a subPathExpr its subPath: the
// expression with the container's environment variables expanded, as a
// kubelet expands it when it starts the container. What it expands to must
// be a relative path that stays beneath the volume; a variable whose value
// only the pod's creation knows (its IP) cannot be planned and is refused.
func (cp *Container) expandSubPathExprs(mounts []corev1.VolumeMount) error {
	for _, m := range mounts {
		if m.SubPathExpr == "" {
			continue
		}
		var deferred string
		sub := expand(m.SubPathExpr, func(name string) (string, bool) {
			for _, e := range cp.Env {
				if e.Name == name {
					if e.Deferred != "" {
						deferred = name
					}
					return e.Value, true
				}
			}
			return "", false
		})
		switch {
		case deferred != "":
			return fmt.Errorf("volumeMount %q: subPathExpr %q uses $(%s), known only once the pod runs: minipod plans the mount before (use metadata fields, or a value of the pod's own)", m.Name, m.SubPathExpr, deferred)
		case sub == "" || filepath.IsAbs(sub) || slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), ".."):
			return fmt.Errorf("volumeMount %q: subPathExpr %q expands to %q, which must be a relative path within the volume", m.Name, m.SubPathExpr, sub)
		}
		for i := range cp.Mounts {
			if mt := &cp.Mounts[i]; mt.Volume == m.Name && mt.ContainerPath == m.MountPath {
				mt.HostPath = filepath.Join(mt.HostPath, sub)
				mt.SubPath = sub
			}
		}
	}
	return nil
}

// mergeArgv applies Kubernetes' rules for command and args over the image's
// ENTRYPOINT and CMD:
//
//	no command, no args -> ENTRYPOINT + CMD
//	command only        -> command
//	args only           -> ENTRYPOINT + args
//	command and args    -> command + args
func mergeArgv(command, args []string, img *ImageConfig) ([]string, bool, string) {
	switch {
	case len(command) > 0:
		argv := append(append([]string{}, command...), args...)
		if len(args) > 0 {
			return argv, true, "command and args of the pod"
		}
		return argv, true, "command of the pod (the image's ENTRYPOINT and CMD are not used)"
	case img == nil && len(args) > 0:
		return append([]string{}, args...), false, "the image's ENTRYPOINT (unknown until the image is present) + args of the pod"
	case img == nil:
		return nil, false, "the image's ENTRYPOINT + CMD (unknown until the image is present)"
	case len(args) > 0:
		return append(append([]string{}, img.Entrypoint...), args...), true, "the image's ENTRYPOINT + args of the pod"
	default:
		return append(append([]string{}, img.Entrypoint...), img.Cmd...), true, "the image's ENTRYPOINT + CMD"
	}
}

func planEnv(pod *corev1.Pod, c *corev1.Container, refs refIndex) ([]EnvVar, error) {
	var out []EnvVar
	set := func(e EnvVar) {
		for i := range out {
			if out[i].Name == e.Name {
				out[i] = e
				return
			}
		}
		out = append(out, e)
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := refs.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				if isTrue(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("failed to plan container %q: configMap %q not found", c.Name, ef.ConfigMapRef.Name)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(EnvVar{Name: ef.Prefix + k, Value: cm.Data[k], From: "configMap " + cm.Name})
			}
		case ef.SecretRef != nil:
			s := refs.secrets[ef.SecretRef.Name]
			if s == nil {
				if isTrue(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("failed to plan container %q: secret %q not found", c.Name, ef.SecretRef.Name)
			}
			keys := make([]string, 0, len(s.Data))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				set(EnvVar{Name: ef.Prefix + k, Value: string(s.Data[k]), From: "secret " + s.Name, Secret: true})
			}
		}
	}
	for _, e := range c.Env {
		v := EnvVar{Name: e.Name, Value: e.Value}
		if src := e.ValueFrom; src != nil {
			switch {
			case src.ConfigMapKeyRef != nil:
				ref := src.ConfigMapKeyRef
				v.From = fmt.Sprintf("configMap %s key %s", ref.Name, ref.Key)
				cm := refs.configMaps[ref.Name]
				val, ok := "", false
				if cm != nil {
					val, ok = cm.Data[ref.Key]
				}
				if !ok {
					if isTrue(ref.Optional) {
						continue
					}
					return nil, fmt.Errorf("failed to plan container %q: env %q: key %q of configMap %q not found", c.Name, e.Name, ref.Key, ref.Name)
				}
				v.Value = val
			case src.SecretKeyRef != nil:
				ref := src.SecretKeyRef
				v.From = fmt.Sprintf("secret %s key %s", ref.Name, ref.Key)
				v.Secret = true
				s := refs.secrets[ref.Name]
				var val []byte
				ok := false
				if s != nil {
					val, ok = s.Data[ref.Key]
				}
				if !ok {
					if isTrue(ref.Optional) {
						continue
					}
					return nil, fmt.Errorf("failed to plan container %q: env %q: key %q of secret %q not found", c.Name, e.Name, ref.Key, ref.Name)
				}
				v.Value = string(val)
			case src.FieldRef != nil:
				fp := src.FieldRef.FieldPath
				v.From = "fieldRef " + fp
				val, deferred, err := fieldValue(pod, fp)
				if err != nil {
					return nil, fmt.Errorf("failed to plan container %q: env %q: %w", c.Name, e.Name, err)
				}
				v.Value, v.Deferred = val, deferred
			case src.ResourceFieldRef != nil:
				ref := src.ResourceFieldRef
				v.From = "resourceFieldRef " + ref.Resource
				ctr := ref.ContainerName
				if ctr == "" {
					ctr = c.Name
				}
				val, deferred, err := resourceValue(pod, ctr, ref)
				if err != nil {
					return nil, fmt.Errorf("failed to plan container %q: env %q: %w", c.Name, e.Name, err)
				}
				v.Value, v.Deferred = val, deferred
			default:
				return nil, fmt.Errorf("failed to plan container %q: env %q: valueFrom is not supported by minipod", c.Name, e.Name)
			}
		}
		set(v)
	}
	return out, nil
}

// fieldValue resolves a downward-API field path. Fields known only once the
// pod exists come back as deferred, named by their path.
func fieldValue(pod *corev1.Pod, fp string) (string, string, error) {
	switch fp {
	case "metadata.name":
		return pod.Name, "", nil
	case "metadata.namespace":
		return pod.Namespace, "", nil
	case "metadata.uid":
		if pod.UID == "" {
			return "", fp, nil
		}
		return string(pod.UID), "", nil
	case "status.podIP", "status.hostIP", "spec.nodeName":
		return "", fp, nil
	case "status.podIPs", "status.hostIPs":
		// One address family on a minipod host: the list is the address.
		return "", strings.TrimSuffix(fp, "s"), nil
	case "spec.serviceAccountName":
		// What a cluster's ServiceAccount admission fills in when unset.
		if pod.Spec.ServiceAccountName != "" {
			return pod.Spec.ServiceAccountName, "", nil
		}
		return "default", "", nil
	}
	for _, pre := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if strings.HasPrefix(fp, pre.prefix+"['") && strings.HasSuffix(fp, "']") {
			return pre.m[fp[len(pre.prefix)+2:len(fp)-2]], "", nil
		}
	}
	return "", "", fmt.Errorf("fieldRef %q is not supported by minipod", fp)
}

// mergeImageEnv puts the image's environment first; the pod's variables
// override those of the same name, as containerd's CRI plugin does.
func mergeImageEnv(image []string, pod []EnvVar) []EnvVar {
	var out []EnvVar
	for _, kv := range image {
		name, val, _ := strings.Cut(kv, "=")
		overridden := false
		for _, e := range pod {
			if e.Name == name {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, EnvVar{Name: name, Value: val, From: "image"})
		}
	}
	return append(out, pod...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isTrue(b *bool) bool { return b != nil && *b }

// IsSidecar tells whether an init container is a native sidecar (a
// restartable init container).
func IsSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// SpecOf finds a container of the pod, app or init, by name, and tells
// whether it is an init container.
func SpecOf(pod *corev1.Pod, name string) (*corev1.Container, bool) {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i], true
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], false
		}
	}
	return nil, false
}
