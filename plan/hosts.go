package plan

import (
	"bytes"
	"fmt"
	"strings"
)

// Placeholders of a pod file whose content is known only once the pod
// exists. Each stands alone: PodIPPlaceholder within a line, and
// PeersPlaceholder as a whole line.
const (
	// PodIPPlaceholder is the pod's IP, known once CNI ADD gives it (the
	// host's address with hostNetwork).
	PodIPPlaceholder = "<pod IP>"
	// PeersPlaceholder is the other running pods of the pod's namespace:
	// a blank line, a comment and one peerLine each, or nothing when none
	// runs. The daemon rewrites the file as pods come and go.
	PeersPlaceholder = "<pods of this namespace>"
)

// hostsPlaceholders says what fills each placeholder of /etc/hosts; the
// plan carries it with the file, so that a printed plan says it too.
var hostsPlaceholders = map[string]string{
	PodIPPlaceholder: "the pod's IP, given by CNI ADD (the host's address with hostNetwork); lines holding it are left out until then",
	PeersPlaceholder: "the other running pods of the namespace, one line each under a comment, none when none runs; rewritten in place as pods come and go",
}

// HostsTemplate is the pod's /etc/hosts as the kubelet writes it, with
// PodIPPlaceholder for the pod's IP and a PeersPlaceholder line for the
// pods of its namespace.
func (s *Sandbox) HostsTemplate() string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (minipod).\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	fmt.Fprintf(&b, "%s\t%s\n", PodIPPlaceholder, s.Hostname)
	if len(s.HostsExtra) > 0 {
		b.WriteString("\n# Entries added by HostAliases and the pod's subdomain.\n")
		for _, l := range s.HostsExtra {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString(PeersPlaceholder + "\n")
	return b.String()
}

// Render fills in the file's placeholders: podIP ("" while it is not
// known: the lines holding it are left out) and peers, the lines of the
// other running pods of the namespace (see PeerLine). A file without
// placeholders is its content.
func (f PodFile) Render(podIP string, peers []string) []byte {
	if len(f.Placeholders) == 0 {
		return []byte(f.Content)
	}
	var b bytes.Buffer
	for _, l := range strings.SplitAfter(f.Content, "\n") {
		switch {
		case l == "":
		case strings.TrimSuffix(l, "\n") == PeersPlaceholder:
			if len(peers) > 0 {
				b.WriteString("\n# Pods of this namespace, kept current by minipod.\n")
				for _, p := range peers {
					b.WriteString(p + "\n")
				}
			}
		case strings.Contains(l, PodIPPlaceholder):
			if podIP != "" {
				b.WriteString(strings.ReplaceAll(l, PodIPPlaceholder, podIP))
			}
		default:
			b.WriteString(l)
		}
	}
	return b.Bytes()
}

// PeerLine is the /etc/hosts line by which the other pods of a namespace
// reach a pod: "<ip>\t<name> <name>.<namespace>".
func PeerLine(ip, name, namespace string) string {
	return fmt.Sprintf("%s\t%s %s.%s", ip, name, name, namespace)
}
