package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// textWidth is the widest line written inside a container's box.
const textWidth = 36

// ctrBox is one container as drawn: its lines, and on which of them the
// arrows start (to another pod by name, or to a neighbour over localhost).
type ctrBox struct {
	name  string
	lines []string
	ports map[int]int    // containerPort or --listen port -> line
	to    []ref          // names:ports it reaches
	x, w  int            // placed
	y, h  int            // placed
	refAt map[string]int // "name:port" -> line
}

// ref is a NAME:PORT a container reaches, found in its arguments or
// environment (the ConfigMaps of the same files included).
type ref struct {
	host string
	port int
}

func (r ref) String() string { return r.host + ":" + strconv.Itoa(r.port) }

var (
	hostPort = regexp.MustCompile(`(?:^|[=/@\s"])([a-z0-9]([-a-z0-9]*[a-z0-9])?):([0-9]{2,5})\b`)
	listenAt = regexp.MustCompile(`^--(?:listen|http)=([^:]*):([0-9]+)$`)
)

// containerBox describes container c of pod p.
func containerBox(p *corev1.Pod, c corev1.Container, cms map[string]*corev1.ConfigMap) *ctrBox {
	b := &ctrBox{name: c.Name, ports: map[int]int{}, refAt: map[string]int{}}
	add := func(s string) int {
		b.lines = append(b.lines, s)
		return len(b.lines) - 1
	}
	for _, l := range wrap(c.Image, textWidth, 2) {
		add(l)
	}
	// The command, as a person reads it: a shell script's first line.
	cmd := append(append([]string{}, c.Command...), c.Args...)
	var words []string
	for i, a := range cmd {
		if i > 0 && cmd[i-1] == "-c" {
			// its first line that is not a trap (which only says how it stops)
			script := strings.Split(strings.TrimSpace(a), "\n")
			first := 0
			for first < len(script)-1 && strings.HasPrefix(strings.TrimSpace(script[first]), "trap ") {
				first++
			}
			words = append(words, "'"+strings.TrimSpace(script[first])+"'")
			if len(script) > 1 {
				words = append(words, "…")
			}
			continue
		}
		words = append(words, a)
	}
	if len(words) == 0 {
		words = []string{"(the image's own command)"}
	}
	for i, l := range wrap(strings.Join(words, " "), textWidth-2, 3) {
		if i == 0 {
			add("$ " + l)
		} else {
			add("  " + l)
		}
	}
	for _, port := range c.Ports {
		s := fmt.Sprintf("port %d/%s", port.ContainerPort, protocol(port.Protocol))
		if port.Name != "" {
			s += " (" + port.Name + ")"
		}
		b.ports[int(port.ContainerPort)] = add(s)
	}
	for _, a := range c.Args {
		if m := listenAt.FindStringSubmatch(a); m != nil {
			n, _ := strconv.Atoi(m[2])
			if _, ok := b.ports[n]; !ok {
				host := m[1]
				if host == "" {
					host = "every address"
				}
				b.ports[n] = add(fmt.Sprintf("listens on %s:%d", host, n))
			}
		}
	}
	for _, pr := range []struct {
		kind  string
		probe *corev1.Probe
	}{{"started", c.StartupProbe}, {"alive", c.LivenessProbe}, {"ready", c.ReadinessProbe}} {
		if pr.probe != nil {
			add(pr.kind + " when " + probe(pr.probe))
		}
	}
	// What it reaches: NAME:PORT in its arguments and environment.
	seen := map[string]bool{}
	reach := func(s, via string) {
		for _, m := range hostPort.FindAllStringSubmatch(s, -1) {
			n, _ := strconv.Atoi(m[3])
			r := ref{host: m[1], port: n}
			if seen[r.String()] {
				continue
			}
			seen[r.String()] = true
			b.to = append(b.to, r)
			b.refAt[r.String()] = add("to " + r.String() + via)
		}
	}
	for _, a := range cmd {
		if !listenAt.MatchString(a) {
			reach(a, "")
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			add("env " + e.Name + " from elsewhere")
			continue
		}
		for _, l := range wrap("env "+e.Name+"="+e.Value, textWidth, 2) {
			add(l)
		}
		reach(e.Value, " ($"+e.Name+")")
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			add("env from a Secret")
			continue
		}
		add("env from ConfigMap " + ef.ConfigMapRef.Name)
		if cm := cms[p.Namespace+"/"+ef.ConfigMapRef.Name]; cm != nil {
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				reach(cm.Data[k], " ($"+k+")")
			}
		}
	}
	for _, m := range c.VolumeMounts {
		s := fmt.Sprintf("%s: volume %q", m.MountPath, m.Name)
		if m.ReadOnly {
			s += ", read-only"
		}
		for _, l := range wrap(s, textWidth, 2) {
			add(l)
		}
	}
	for _, l := range b.lines {
		if w := len([]rune(l)) + 4; w > b.w {
			b.w = w
		}
	}
	if w := len([]rune(title("container", c.Name))) + 6; w > b.w {
		b.w = w
	}
	b.h = len(b.lines) + 2
	return b
}

func title(kind, name string) string { return fmt.Sprintf("%s %q", kind, name) }

func protocol(p corev1.Protocol) string {
	if p == "" {
		return "TCP"
	}
	return string(p)
}

// probe says what a probe checks, in a few words.
func probe(p *corev1.Probe) string {
	var s string
	switch {
	case p.HTTPGet != nil:
		s = fmt.Sprintf("GET :%s%s answers", p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		s = fmt.Sprintf(":%s accepts TCP", p.TCPSocket.Port.String())
	case p.Exec != nil:
		s = strings.Join(p.Exec.Command, " ") + " succeeds"
	case p.GRPC != nil:
		s = fmt.Sprintf("gRPC :%d serves", p.GRPC.Port)
	}
	if p.PeriodSeconds != 0 {
		s += fmt.Sprintf(" (%ds)", p.PeriodSeconds)
	}
	return s
}

// wrap cuts s into lines of at most w runes at spaces, at most n lines,
// ending in … when it had to leave out the rest.
func wrap(s string, w, n int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		for len([]rune(word)) > w {
			// a long word: cut after its last / or = that fits
			r := []rune(word)
			if line != "" {
				out = append(out, line)
				line = ""
			}
			cut := w
			for k := w - 1; k > 0; k-- {
				if r[k-1] == '/' || r[k-1] == '=' {
					cut = k
					break
				}
			}
			out = append(out, string(r[:cut]))
			word = string(r[cut:])
		}
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	if len(out) > n {
		out = out[:n]
		r := []rune(out[n-1])
		if len(r) >= w {
			r = r[:w-1]
		}
		out[n-1] = string(r) + "…"
	}
	return out
}

// volumeText says where a volume lives on the host.
func volumeText(v corev1.Volume) string {
	switch {
	case v.EmptyDir != nil:
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			return "emptyDir in memory (tmpfs), made and removed with the pod"
		}
		return "emptyDir: a host directory, made and removed with the pod"
	case v.HostPath != nil:
		return "hostPath " + v.HostPath.Path + ": the host's own"
	case v.ConfigMap != nil:
		return "files of ConfigMap " + v.ConfigMap.Name + ", written by minipod"
	case v.Secret != nil:
		return "files of Secret " + v.Secret.SecretName + ", in memory (tmpfs)"
	case v.Projected != nil:
		return "projected files, written by minipod"
	case v.DownwardAPI != nil:
		return "the pod's own fields as files, written by minipod"
	}
	return "a volume"
}

// podBox is one pod as drawn.
type podBox struct {
	pod     *corev1.Pod
	ctrs    []*ctrBox
	y, h    int
	innerW  int // the width its containers and volumes need
	volumes []corev1.Volume
}

const (
	gap    = 6 // between containers: room for an arrow and "lo"
	margin = 3 // from the pod's side to a container's
)

func newPodBox(p *corev1.Pod, cms map[string]*corev1.ConfigMap) *podBox {
	pb := &podBox{pod: p, volumes: p.Spec.Volumes}
	w := margin
	for _, c := range p.Spec.Containers {
		b := containerBox(p, c, cms)
		b.x = w
		w += b.w + gap
		pb.ctrs = append(pb.ctrs, b)
	}
	pb.innerW = w - gap + margin
	for _, v := range p.Spec.Volumes {
		if n := margin + len([]rune(volumeText(v))) + 4 + margin; n > pb.innerW {
			pb.innerW = n
		}
	}
	if n := len([]rune(podTitle(p))) + 6; n > pb.innerW {
		pb.innerW = n
	}
	return pb
}

func podTitle(p *corev1.Pod) string {
	return title("pod", p.Name) + " ── one network namespace: one IP, one localhost"
}

// render draws pods one below the other, all as wide as the widest: in
// each, its containers side by side, the volume they share below them
// with a line down from each container that mounts it, and arrows for
// what one container reaches in another over localhost; to the right, an
// arrow from each container to each other pod it reaches by name.
func render(pods []*podBox) string {
	c := newCanvas()
	W := 0
	for _, pb := range pods {
		W = max(W, pb.innerW)
	}
	y := 0
	for _, pb := range pods {
		pb.y = y
		ctrH := 0
		for _, b := range pb.ctrs {
			ctrH = max(ctrH, b.h)
		}
		for _, b := range pb.ctrs {
			b.y, b.h = y+2, ctrH
			c.box(b.x, b.y, b.w, b.h, title("container", b.name))
			for i, l := range b.lines {
				c.write(b.x+2, b.y+1+i, l)
			}
		}
		localhostArrows(c, pb)
		vy := y + 2 + ctrH
		if len(pb.volumes) == 1 {
			vy = mountLines(c, pb, pb.volumes[0], vy, W)
		} else {
			for _, v := range pb.volumes {
				t := volumeText(v)
				w := len([]rune(t)) + 4
				c.box(margin, vy+1, w, 3, title("volume", v.Name))
				c.write(margin+2, vy+2, t)
				vy += 4
			}
		}
		pb.h = vy + 1 - y
		c.box(0, y, W, pb.h, podTitle(pb.pod))
		y += pb.h + 1
	}
	byNameArrows(c, pods, W)
	return c.String("    ")
}

// localhostArrows draws, between neighbours, an arrow from the line of a
// container that reaches localhost:PORT to the container listening there.
func localhostArrows(c *canvas, pb *podBox) {
	for i, a := range pb.ctrs {
		for _, r := range a.to {
			if r.host != "localhost" {
				continue
			}
			row := a.y + 1 + a.refAt[r.String()]
			if i+1 < len(pb.ctrs) {
				if b := pb.ctrs[i+1]; hasPort(b, r.port) {
					c.hline(a.x+a.w-1, b.x-2, row)
					c.write(b.x-1, row, ">")
					c.write(a.x+a.w+1, row+1, "lo")
				}
			}
			if i > 0 {
				if b := pb.ctrs[i-1]; hasPort(b, r.port) {
					c.hline(b.x+b.w+1, a.x, row)
					c.write(b.x+b.w, row, "<")
					c.write(b.x+b.w+2, row+1, "lo")
				}
			}
		}
	}
}

func hasPort(b *ctrBox, port int) bool {
	_, ok := b.ports[port]
	return ok
}

// mountLines draws the pod's one volume below its containers, joined to
// each container that mounts it by a line saying read-write or read-only.
// It returns the row below the volume.
func mountLines(c *canvas, pb *podBox, v corev1.Volume, y, W int) int {
	type use struct {
		x        int
		readOnly bool
	}
	var uses []use
	for i, ctr := range pb.pod.Spec.Containers {
		for _, m := range ctr.VolumeMounts {
			if m.Name == v.Name {
				b := pb.ctrs[i]
				uses = append(uses, use{b.x + b.w/2, m.ReadOnly})
				break
			}
		}
	}
	t := volumeText(v)
	w := max(len([]rune(t))+4, len([]rune(title("volume", v.Name)))+6)
	x := margin
	if len(uses) > 0 {
		lo, hi := uses[0].x, uses[len(uses)-1].x
		w = max(w, hi-lo+5)
		x = max(margin, min(lo-2, W-margin-w))
	}
	vy := y + 1
	c.box(x, vy, w, 3, title("volume", v.Name))
	c.write(x+2, vy+1, t)
	for _, u := range uses {
		c.vline(u.x, y-1, vy)
		label := "read-write"
		if u.readOnly {
			label = "read-only"
		}
		c.write(u.x+2, y, label)
	}
	return vy + 3
}

// byNameArrows draws to the right of the pods, for each pod and port
// reached by name, one line from each container that reaches it to the
// line of the port in the pod that serves it.
func byNameArrows(c *canvas, pods []*podBox, W int) {
	byName := map[string]*podBox{}
	for _, pb := range pods {
		byName[pb.pod.Name] = pb
	}
	type target struct {
		pod  string
		port int
	}
	var order []target
	rows := map[target][]int{}
	for _, pb := range pods {
		for _, b := range pb.ctrs {
			for _, r := range b.to {
				if byName[r.host] == nil || r.host == pb.pod.Name {
					continue
				}
				t := target{r.host, r.port}
				if rows[t] == nil {
					order = append(order, t)
				}
				row := b.y + 1 + b.refAt[r.String()]
				c.hline(b.x+b.w-1, W+2+3*indexOf(order, t), row)
				rows[t] = append(rows[t], row)
			}
		}
	}
	for k, t := range order {
		rail := W + 2 + 3*k
		tp := byName[t.pod]
		tb := tp.ctrs[0]
		row := tb.y + 1
		for _, b := range tp.ctrs {
			if l, ok := b.ports[t.port]; ok {
				tb, row = b, b.y+1+l
				break
			}
		}
		c.hline(tb.x+tb.w, rail, row)
		c.write(tb.x+tb.w, row, "<")
		all := append(rows[t], row)
		sort.Ints(all)
		c.vline(rail, all[0], all[len(all)-1])
	}
}

func indexOf[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
