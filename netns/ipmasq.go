package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// The bridge plugin's DEL removes its ipMasq rules only when it can still
// read the pod's addresses from the interface inside the namespace: a DEL
// with no namespace (the case minipod uses to free an IP after the namespace
// is gone) leaves one POSTROUTING rule and one chain per pod behind
// (containernetworking/plugins#810, unfixed in 1.1.1). removeMasq removes
// exactly those: POSTROUTING rules carrying the plugin's comment for this
// network and container, and their CNI- chains when every rule in them
// carries that comment too.

// masqNeeded reports whether a plugin of list is a bridge with ipMasq on.
func masqNeeded(list *libcni.NetworkConfigList) bool {
	for _, p := range list.Plugins {
		if p.Network.Type != "bridge" {
			continue
		}
		var conf struct {
			IPMasq bool `json:"ipMasq"`
		}
		if json.Unmarshal(p.Bytes, &conf) == nil && conf.IPMasq {
			return true
		}
	}
	return false
}

// removeMasq deletes the ipMasq rules the bridge plugin left for id.
func removeMasq(ctx context.Context, network, id string) error {
	out, err := exec.CommandContext(ctx, "iptables-save", "-t", "nat").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return fmt.Errorf("failed to read the nat table for ipMasq rules of %q: %w", id, err)
	}
	for _, args := range masqCleanup(string(out), network, id) {
		cmd := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("failed to remove ipMasq rule of %q (iptables %s): %w: %s", id, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// masqCleanup returns the iptables arguments (after -t nat) that remove the
// ipMasq rules of network and id from an `iptables-save -t nat` dump: the
// POSTROUTING rules first, then flushing and deleting their chains.
func masqCleanup(save, network, id string) [][]string {
	comment := "--comment " + strconv.Quote(fmt.Sprintf("name: %q id: %q", network, id))
	var (
		cmds   [][]string
		chains []string
		rules  = map[string][]string{} // chain -> its rules
	)
	for _, line := range strings.Split(save, "\n") {
		args := splitRule(line)
		if len(args) < 2 || args[0] != "-A" {
			continue
		}
		rules[args[1]] = append(rules[args[1]], line)
		if args[1] != "POSTROUTING" || !strings.Contains(line, comment) {
			continue
		}
		target := ""
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-j" {
				target = args[i+1]
			}
		}
		if !strings.HasPrefix(target, "CNI-") {
			continue
		}
		args[0] = "-D"
		cmds = append(cmds, args)
		chains = append(chains, target)
	}
	for _, chain := range chains {
		own := true
		for _, r := range rules[chain] {
			if !strings.Contains(r, comment) {
				own = false
			}
		}
		if own {
			cmds = append(cmds, []string{"-F", chain}, []string{"-X", chain})
		}
	}
	return cmds
}

// splitRule splits a line of iptables-save into arguments, undoing its
// double quotes and backslash escapes.
func splitRule(line string) []string {
	var (
		args   []string
		cur    strings.Builder
		inArg  bool
		quoted bool
	)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			quoted = !quoted
			inArg = true
		case !quoted && (ch == ' ' || ch == '\t'):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(ch)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}
