package runtime

import "strings"

// withTerm is the environment of a command given a terminal: the
// container's, plus TERM=xterm unless it sets TERM itself, so that programs
// that draw on the terminal (top, vi, less) know what it can do. docker
// exec -t and the kubelet's runtimes do the same. env is not modified.
func withTerm(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "TERM=") {
			return env
		}
	}
	return append(append([]string(nil), env...), "TERM=xterm")
}
