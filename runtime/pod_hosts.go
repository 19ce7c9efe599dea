package runtime

import (
	"os"
	"sort"

	podplan "github.com/minipod/minipod/plan"
)

// Pods of one namespace reach each other by name, as `<pod>` and
// `<pod>.<namespace>`: the daemon keeps every pod's /etc/hosts listing the
// other running pods of its namespace, rewritten in place (the file is
// bind-mounted into the containers, so its inode must stay) whenever a pod
// of the namespace comes or goes.

// peerLines are the /etc/hosts lines naming the running pods of a
// namespace, except the pod with UID self.
func (r *Runtime) peerLines(namespace, self string) []string {
	states := r.podStates()
	var lines []string
	for _, ps := range states {
		ps.mu.Lock()
		pod, ip, state := ps.rec.Pod, ps.rec.PodIP, ps.rec.State
		ps.mu.Unlock()
		if pod.Namespace != namespace || string(pod.UID) == self || ip == "" || state != StateRunning {
			continue
		}
		lines = append(lines, podplan.PeerLine(ip, pod.Name, pod.Namespace))
	}
	sort.Strings(lines)
	return lines
}

// refreshHosts rewrites the /etc/hosts of every running pod of a namespace.
func (r *Runtime) refreshHosts(namespace string) {
	states := r.podStates()
	for _, ps := range states {
		ps.mu.Lock()
		pod, ip, plan, state := ps.rec.Pod, ps.rec.PodIP, ps.rec.Plan, ps.rec.State
		ps.mu.Unlock()
		if pod.Namespace != namespace || plan == nil || state != StateRunning {
			continue
		}
		for _, f := range plan.Sandbox.Files {
			if f.ContainerPath != "/etc/hosts" {
				continue
			}
			if len(f.Placeholders) == 0 {
				// The plan of a pod created by a daemon whose plans did
				// not hold the file's content yet.
				f.Content, f.Placeholders = plan.Sandbox.HostsTemplate(), map[string]string{podplan.PodIPPlaceholder: ""}
			}
			content := f.Render(ip, r.peerLines(namespace, string(pod.UID)))
			if err := writeInPlace(f.HostPath, content); err != nil {
				r.log.Warn("failed to update a pod's hosts file", "pod", podKey(pod.Namespace, pod.Name), "err", err)
			}
		}
	}
}

// writeInPlace replaces a file's content without replacing the file, so
// that bind mounts of it see the new content.
func writeInPlace(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
