package plan

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// TextOptions is what the text of a plan shows besides the plan itself.
type TextOptions struct {
	// PeersKnown says that the daemon answered with the pods that run now;
	// Peers are those of the pod's namespace (the pod itself excluded).
	PeersKnown bool
	Peers      []Peer
	// ImagesKnown says that the daemon answered which of the pod's images
	// it has: an image whose config the plan lacks is not on the host.
	ImagesKnown bool
}

// Peer is a running pod that the pod will reach by name.
type Peer struct {
	Name string
	IP   string
}

// WriteText prints the plan for a person, one step per line, each saying
// what it creates and why: `minipod run --dry-run` is a teaching aid.
func (p *Plan) WriteText(w io.Writer) error {
	return p.WriteTextWith(w, TextOptions{})
}

// WriteTextWith is WriteText, with /etc/hosts showing the pods of opts.
// Each reason is given once: a step whose reason was already given has
// none of its own.
func (p *Plan) WriteTextWith(w io.Writer, opts TextOptions) error {
	bw := bufio.NewWriter(w)
	n := 0
	told := map[string]bool{}
	step := func(what, why string) {
		n++
		fmt.Fprintf(bw, "%2d. %s\n", n, what)
		if why != "" && !told[why] {
			told[why] = true
			fmt.Fprintf(bw, "      why: %s\n", why)
		}
	}
	detail := func(format string, args ...any) {
		fmt.Fprintf(bw, "      - "+format+"\n", args...)
	}
	uid := p.UID
	if uid == unknownUID {
		uid += " (assigned when the pod is created)"
	}
	fmt.Fprintf(bw, "Pod %s/%s  uid %s\n", p.Namespace, p.Name, uid)

	var imgs []string
	for _, im := range p.Images {
		s := fmt.Sprintf("%s (pull %s)", im.Ref, im.PullPolicy)
		if !im.ConfigKnown && !opts.ImagesKnown {
			s += " [config not known yet]"
		}
		imgs = append(imgs, s)
	}
	step("make images present: "+strings.Join(imgs, ", "),
		"a missing image fails the run before anything is created")
	for _, im := range p.Images {
		switch {
		case im.Config != nil:
			detail("%s is on this host; its config, which the containers below start from:", im.Ref)
			imageConfigDetails(im.Config, func(format string, args ...any) { detail("  "+format, args...) })
		case opts.ImagesKnown:
			detail("%s is not on this host: the run pulls it first; its ENTRYPOINT, CMD, USER, WORKDIR and ENV are known then", im.Ref)
		}
	}
	step("save the pod record and create the pod directory "+p.PodDir,
		"the record exists before any host resource, so a crashed daemon can find and remove what follows")
	if refs := p.objectRefs(); len(refs) > 0 {
		step("read "+strings.Join(refs, " and ")+" (those in the same file are created first)",
			"their keys become the environment variables and files below, taken when each container starts; Secret values stay in memory and are never printed")
	}
	step(fmt.Sprintf("create network namespace %s, pinned at %s, loopback up; pin the pod's IPC and UTS namespaces in %s (hostname %q)",
		p.Sandbox.NetNSName, p.Sandbox.NetNSPath, p.Sandbox.NamespaceDir, p.Sandbox.Hostname),
		"every container of the pod joins these: they share one IP, reach each other on localhost, share IPC and the hostname")
	args := make([]string, 0, len(p.Sandbox.CNIArgs))
	for k, v := range p.Sandbox.CNIArgs {
		args = append(args, k+"="+v)
	}
	sort.Strings(args)
	step(fmt.Sprintf("CNI ADD on network %q, interface %s, args %s", p.Sandbox.Network, p.Sandbox.Interface, strings.Join(args, ";")),
		"gives the pod its IP on the bridge, through a veth pair (one end in the pod, one on the host); CNI DEL is registered first, so the IP is freed even if ADD fails")
	for _, pm := range p.Sandbox.PortMappings {
		host := pm.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		detail("hostPort %s:%d/%s -> container %s port %d", host, pm.HostPort, pm.Protocol, pm.Container, pm.ContainerPort)
	}
	if len(p.Volumes) == 0 {
		step("no volumes", "the pod declares none")
	}
	for _, v := range p.Volumes {
		step(volumeText(v), volumeWhy(v))
		for _, f := range v.Files {
			detail("file %s (key %s, mode %#o)", f.Path, f.Key, f.Mode)
		}
		for _, u := range v.MountedBy {
			mode := "read-write"
			if u.ReadOnly {
				mode = "read-only"
			}
			sub := ""
			if u.SubPath != "" {
				sub = " (subPath " + u.SubPath + ")"
			}
			detail("mounted by %s at %s%s, %s", u.Container, u.MountPath, sub, mode)
		}
	}
	if len(p.Sandbox.Files) > 0 {
		step("write the pod's /etc files, each mounted at the same path in every container",
			"the pod's own name resolution and hostname, the same for all its containers; other pods are found by name through /etc/hosts")
		for _, f := range p.Sandbox.Files {
			lines := func(content []byte) {
				for _, l := range strings.Split(strings.TrimRight(string(content), "\n"), "\n") {
					fmt.Fprintln(bw, strings.TrimRight("          | "+strings.ReplaceAll(l, "\t", "  "), " "))
				}
			}
			switch f.ContainerPath {
			case "/etc/hostname":
				detail("%s <- %s: %s", f.ContainerPath, f.HostPath, strings.TrimSuffix(f.Content, "\n"))
				continue
			case "/etc/resolv.conf":
				why := "the host's /etc/resolv.conf without loopback nameservers"
				if p.Sandbox.DNS.Policy == string(corev1.DNSNone) {
					why = "dnsConfig only"
				}
				if f.Content == "" {
					detail("%s <- %s: empty (dnsPolicy %s: %s)", f.ContainerPath, f.HostPath, p.Sandbox.DNS.Policy, why)
					continue
				}
				detail("%s <- %s, as it will read (dnsPolicy %s: %s):", f.ContainerPath, f.HostPath, p.Sandbox.DNS.Policy, why)
				lines([]byte(f.Content))
				continue
			}
			detail("%s <- %s, as it will read:", f.ContainerPath, f.HostPath)
			var peers []string
			for _, pe := range opts.Peers {
				peers = append(peers, PeerLine(pe.IP, pe.Name, p.Namespace))
			}
			lines(f.Render(PodIPPlaceholder, peers))
			switch {
			case !opts.PeersKnown:
				detail("(the daemon did not answer, so the pods running in namespace %s are not listed; each would have a line here)", p.Namespace)
			case len(opts.Peers) == 0:
				detail("(no other pod runs in namespace %s now; minipod adds pods to this file as they start)", p.Namespace)
			default:
				detail("(minipod keeps the list of the namespace's pods current as pods come and go)")
			}
		}
	}
	if p.CgroupParent != "" {
		var limits []string
		for _, c := range append(append([]Container{}, p.Init...), p.Containers...) {
			if l := c.Resources.LimitsText(); l != "" {
				limits = append(limits, c.Name+": "+l)
			}
		}
		what := "create the pod's cgroup " + p.CgroupParent + " (QoS class " + qosOfCgroup(p.CgroupParent) + ")"
		if l := p.PodResources.LimitsText(); l != "" {
			what += ", limited to " + l + " for the whole pod"
		}
		what += "; each container gets its own cgroup inside it"
		if len(limits) > 0 {
			what += ", with its limits (" + strings.Join(limits, "; ") + ")"
		} else {
			what += " (no container sets resources.limits)"
		}
		step(what, "the kernel counts the CPU, memory and processes of the whole pod here, and enforces each container's limits (a container over its memory limit is OOMKilled)")
	}
	for _, c := range p.Init {
		step(fmt.Sprintf("run init container %s to completion", c.Name),
			"init containers run one at a time, in order, each must exit 0 before the next starts")
		containerDetails(c, detail)
	}
	names := make([]string, 0, len(p.Containers))
	for _, c := range p.Containers {
		names = append(names, c.Name)
	}
	step("create app containers "+strings.Join(names, ", ")+", then start them all at once",
		"they are created together and destroyed together: one pod, one lifecycle")
	for _, c := range p.Containers {
		detail("container %s", c.Name)
		containerDetails(c, func(format string, args ...any) { detail("  "+format, args...) })
	}
	fmt.Fprintf(bw, "On delete: the same steps backwards; containers get SIGTERM, %ds grace, then SIGKILL.\n", p.GracePeriod)
	fmt.Fprintf(bw, "No pause container: a kubelet starts one first in every pod, a process that does nothing but hold the\n"+
		"pod's namespaces while the app containers come and go. minipod holds them without a process: it bind-mounts\n"+
		"each namespace onto a file (%s, and %s/ipc and /uts), and a namespace lives as long as a mount of it.\n",
		p.Sandbox.NetNSPath, p.Sandbox.NamespaceDir)
	if p.Sandbox.SharePID {
		fmt.Fprintf(bw, "shareProcessNamespace needs a process after all: a PID namespace ends with its first process, so minipod\n"+
			"starts its own tiny init (minipod pause) for it, which also reaps orphaned processes, as the pause container does.\n")
	}
	return bw.Flush()
}

// qosOfCgroup names the QoS class from the pod cgroup's path.
func qosOfCgroup(path string) string {
	switch {
	case strings.Contains(path, "/besteffort/"):
		return "BestEffort"
	case strings.Contains(path, "/burstable/"):
		return "Burstable"
	}
	return "Guaranteed"
}

// objectRefs names the ConfigMaps and Secrets the pod reads, from its
// volumes and its containers' environment.
func (p *Plan) objectRefs() []string {
	var cms, secs []string
	add := func(kind, name string) {
		switch kind {
		case "configMap":
			if !slices.Contains(cms, name) {
				cms = append(cms, name)
			}
		case "secret":
			if !slices.Contains(secs, name) {
				secs = append(secs, name)
			}
		}
	}
	for _, v := range p.Volumes {
		add(v.Kind, v.Source)
	}
	for _, c := range append(append([]Container{}, p.Init...), p.Containers...) {
		for _, e := range c.Env {
			if f := strings.Fields(e.From); len(f) >= 2 {
				add(f[0], f[1])
			}
		}
	}
	var out []string
	if len(cms) > 0 {
		out = append(out, plural("ConfigMap", len(cms))+" "+strings.Join(cms, ", "))
	}
	if len(secs) > 0 {
		out = append(out, plural("Secret", len(secs))+" "+strings.Join(secs, ", "))
	}
	return out
}

func plural(s string, n int) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// imageConfigDetails tells what of an image's config shapes a container
// that does not override it.
func imageConfigDetails(c *ImageConfig, detail func(string, ...any)) {
	none := func(argv []string) string {
		if len(argv) == 0 {
			return "(none)"
		}
		return QuoteArgv(argv)
	}
	detail("entrypoint %s, cmd %s", none(c.Entrypoint), none(c.Cmd))
	user, dir := c.User, c.WorkingDir
	if user == "" {
		user = "(none: root)"
	}
	if dir == "" {
		dir = "(none: /)"
	}
	detail("user %s, working dir %s", user, dir)
	for _, e := range c.Env {
		detail("env %s", e)
	}
}

func containerDetails(c Container, detail func(string, ...any)) {
	detail("image %s", c.Image)
	if c.ArgvKnown {
		detail("runs %s  (from %s)", QuoteArgv(c.Argv), c.ArgvFrom)
	} else if len(c.Argv) > 0 {
		detail("runs <ENTRYPOINT> %s  (from %s)", QuoteArgv(c.Argv), c.ArgvFrom)
	} else {
		detail("runs %s", c.ArgvFrom)
	}
	if c.WorkingDir != "" {
		detail("working dir %s", c.WorkingDir)
	}
	for _, e := range c.Env {
		switch {
		case e.Secret:
			detail("env %s=(secret, from %s)", e.Name, e.From)
		case e.Deferred != "":
			detail("env %s=<%s, known once the pod exists>", e.Name, e.Deferred)
		case e.From != "":
			detail("env %s=%q (from %s)", e.Name, e.Value, e.From)
		case e.Raw != "":
			detail("env %s=%q (expanded from %q)", e.Name, e.Value, e.Raw)
		default:
			detail("env %s=%q", e.Name, e.Value)
		}
	}
	for _, m := range c.Mounts {
		if m.Volume == "" {
			continue
		}
		ro := "rw"
		if slices.Contains(m.Options, "ro") {
			ro = "ro"
		}
		detail("mount %s <- volume %s (%s) %s", m.ContainerPath, m.Volume, m.HostPath, ro)
	}
	ns := make([]string, 0, len(c.Namespaces))
	for _, n := range c.Namespaces {
		ns = append(ns, n.Type+"="+n.Path)
	}
	detail("joins %s", strings.Join(ns, ", "))
	detail("log %s", c.LogPath)
}

func volumeText(v Volume) string {
	switch v.Kind {
	case "emptyDir":
		if v.Medium == "Memory" {
			size := "half of RAM (tmpfs default)"
			if v.SizeLimit > 0 {
				size = fmt.Sprintf("%d bytes", v.SizeLimit)
			}
			return fmt.Sprintf("volume %s: emptyDir as one tmpfs at %s, size %s", v.Name, v.HostPath, size)
		}
		return fmt.Sprintf("volume %s: emptyDir directory %s", v.Name, v.HostPath)
	case "hostPath":
		t := v.HostPathType
		if t == "" {
			t = "unset: no check"
		}
		return fmt.Sprintf("volume %s: hostPath %s (type %s)", v.Name, v.HostPath, t)
	case "configMap":
		return fmt.Sprintf("volume %s: configMap %s written to %s", v.Name, v.Source, v.HostPath)
	case "secret":
		return fmt.Sprintf("volume %s: secret %s written to a tmpfs at %s", v.Name, v.Source, v.HostPath)
	case "downwardAPI", "projected":
		return fmt.Sprintf("volume %s: %s written to a tmpfs at %s", v.Name, v.Kind, v.HostPath)
	}
	return fmt.Sprintf("volume %s: %s at %s", v.Name, v.Kind, v.HostPath)
}

func volumeWhy(v Volume) string {
	switch v.Kind {
	case "emptyDir":
		return "shared by the containers that mount it, it lives and dies with the pod"
	case "hostPath":
		return "a host file or directory the pod uses; minipod never deletes it"
	case "secret":
		return "secret data stays in memory, never on disk"
	case "downwardAPI", "projected":
		return "the pod's own fields and objects' keys become files, kept in memory as the kubelet keeps them"
	}
	return "the object's keys become files the containers read"
}

// QuoteArgv is argv as a shell would take it, each word quoted where needed.
func QuoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'$\\|&;<>()*?") {
			q[i] = fmt.Sprintf("%q", a)
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
