package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
)

// resolvConf is the host's resolv.conf without loopback nameservers, which
// mean nothing inside the pod's network namespace (dnsPolicy Default; on one
// host ClusterFirst behaves the same).
func resolvConf(host []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				continue
			}
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// podResolvConf is the pod's /etc/resolv.conf from its DNS plan: the host's
// (without loopback nameservers) unless dnsPolicy is None, with dnsConfig's
// nameservers, searches and options merged in, as the kubelet merges them.
func podResolvConf(dns DNS, host []byte) []byte {
	var nameservers, searches, options []string
	if dns.Policy != "None" {
		sc := bufio.NewScanner(bytes.NewReader(resolvConf(host)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "nameserver":
				nameservers = append(nameservers, f[1])
			case "search", "domain":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	add := func(list []string, more []string) []string {
		for _, m := range more {
			if !slices.Contains(list, m) {
				list = append(list, m)
			}
		}
		return list
	}
	nameservers = add(nameservers, dns.Nameservers)
	searches = add(searches, dns.Searches)
	options = add(options, dns.Options)
	var b bytes.Buffer
	for _, n := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}
