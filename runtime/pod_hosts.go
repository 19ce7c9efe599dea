package runtime

import (
	"bytes"
	"fmt"
	"strings"
)

// hostsFile is the pod's /etc/hosts, as the kubelet writes it.
func hostsFile(podIP, hostname string, extra []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (minipod).\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	if podIP != "" {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// podHostsExtra are the pod's /etc/hosts lines after its own: its
// subdomain FQDN and hostAliases (with the pod IP filled in), then the
// other pods of its namespace.
func podHostsExtra(plan *PodPlan, podIP string, peers []string) []string {
	var out []string
	if len(plan.Sandbox.HostsExtra) > 0 {
		out = append(out, "", "# Entries added by HostAliases and the pod's subdomain.")
		for _, l := range plan.Sandbox.HostsExtra {
			out = append(out, strings.ReplaceAll(l, "<pod IP>", podIP))
		}
	}
	if len(peers) > 0 {
		out = append(out, "", "# Pods of this namespace, kept current by minipod.")
		out = append(out, peers...)
	}
	return out
}

// peerLine is the /etc/hosts line by which the other pods of a namespace
// reach a pod: "<ip>\t<name> <name>.<namespace>".
func peerLine(ip, name, namespace string) string {
	return fmt.Sprintf("%s\t%s %s.%s", ip, name, name, namespace)
}
