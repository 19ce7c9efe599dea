package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/plan"
)

// dryRunPlan is what the test reads of `minipod run --dry-run -o json`:
// the plan's own types, and each variable's value, which the plan prints
// but does not read back.
type dryRunPlan struct {
	plan.Plan
	Init       []dryRunContainer `json:"initContainers"`
	Containers []dryRunContainer `json:"containers"`
}

type dryRunContainer struct {
	plan.Container
	Env []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
}

// TestDryRunIsWhatApplyCreates: for a few pods, the plan `minipod run
// --dry-run -o json` prints is what the daemon then creates: each
// container's OCI spec in containerd (process, env, user, capabilities,
// mounts and their options, namespaces, cgroup, hostname) and the pod's
// /etc files as a container reads them. Only what the plan names as known
// later differs: the UID and the pod IP. The image's own config (its
// environment here) the dry run reads from the daemon, which has the image.
func TestDryRunIsWhatApplyCreates(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, manifest string }{
		{"sidecar", `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: golden-sidecar}
spec:
  terminationGracePeriodSeconds: 0
  subdomain: docs
  hostAliases:
  - {ip: 192.0.2.10, hostnames: [collector, collector.local]}
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "while true; do date >> /var/log/app/access.log; sleep 5; done"]
    volumeMounts: [{name: logs, mountPath: /var/log/app}]
  - name: log-shipper
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "tail -F /logs/access.log"]
    volumeMounts: [{name: logs, mountPath: /logs, readOnly: true}]
  volumes:
  - name: logs
    emptyDir: {}
`},
		{"volumes", `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: golden-volumes}
data: {mode: teach, level: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: golden-volumes}
stringData: {token: never-print-me}
---
apiVersion: v1
kind: Pod
metadata: {name: vols, namespace: golden-volumes, labels: {app: vols, tier: demo}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    resources:
      limits: {memory: 64Mi, cpu: 250m}
    volumeMounts:
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /projected}
    - {name: conf, mountPath: /conf}
    - {name: conf, mountPath: /mode, subPath: mode}
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: all
    projected:
      sources:
      - configMap: {name: settings}
      - secret: {name: token}
      - downwardAPI:
          items:
          - {path: namespace, fieldRef: {fieldPath: metadata.namespace}}
  - name: conf
    configMap: {name: settings}
`},
		{"security", `apiVersion: v1
kind: Pod
metadata: {name: locked, namespace: golden-security}
spec:
  terminationGracePeriodSeconds: 0
  shareProcessNamespace: true
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
    fsGroup: 2000
  containers:
  - name: app
    image: docker.io/library/busybox:1.36
    command: ["sh", "-c", "echo $(GREETING) from $(POD_IP); sleep 3600"]
    env:
    - {name: NAME, value: world}
    - {name: GREETING, value: "hello $(NAME)"}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - {name: URL, value: "http://$(POD_IP):8080/$(NAME)"}
    - {name: LITERAL, value: "$$(NAME) and $(UNSET)"}
    - name: MY_NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: [ALL]
        add: [NET_BIND_SERVICE]
  - name: root-helper
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext:
      runAsUser: 0
      capabilities:
        drop: [NET_RAW, MKNOD]
        add: [SYS_TIME]
  - name: privileged-but-one
    image: docker.io/library/busybox:1.36
    command: ["sleep", "3600"]
    securityContext:
      privileged: true
      capabilities:
        drop: [ALL]
        add: [CHOWN]
`},
	}
	c, err := containerd.New(suite.containerd)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), e.ns)
	img, err := c.GetImage(ctx, "docker.io/library/busybox:1.36")
	if err != nil {
		t.Fatal(err)
	}
	imgSpec, err := img.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := e.writeFile(tc.name+".yaml", tc.manifest)
			out := e.mustRun("run", "--dry-run", "-o", "json", file)
			e.mustRun("run", file)
			var dry []json.RawMessage
			if err := json.Unmarshal([]byte(out), &dry); err != nil || len(dry) != 1 {
				t.Fatalf("dry run: %v, %d plans:\n%s", err, len(dry), out)
			}
			var first dryRunPlan
			if err := json.Unmarshal(dry[0], &first); err != nil {
				t.Fatal(err)
			}
			if len(first.Images) != 1 || first.Images[0].Config == nil || !slices.Equal(first.Images[0].Config.Env, imgSpec.Config.Env) ||
				!slices.Equal(first.Images[0].Config.Cmd, imgSpec.Config.Cmd) {
				t.Errorf("the dry run does not show busybox's config as the daemon has it (env %q, cmd %q): %+v", imgSpec.Config.Env, imgSpec.Config.Cmd, first.Images)
			}
			ns, name := first.Namespace, first.Name
			defer e.run("delete", "pod", name, "-n", ns, "--now")
			var pod corev1.Pod
			if err := json.Unmarshal([]byte(e.mustRun("get", "pod", name, "-n", ns, "-o", "json")), &pod); err != nil {
				t.Fatal(err)
			}
			uid := string(pod.UID)

			// The plan with what only the pod's creation knows put in:
			// the UID, the env's root, netns directory and network.
			text := string(dry[0])
			text = strings.ReplaceAll(text, "pod"+"<uid>", "pod"+strings.ReplaceAll(uid, "-", "_"))
			for _, c := range first.Containers {
				text = strings.ReplaceAll(text, `"`+plan.ContainerID("<uid>", c.Name), `"`+plan.ContainerID(uid, c.Name))
				text = strings.ReplaceAll(text, `/`+plan.ContainerID("<uid>", c.Name)+`"`, `/`+plan.ContainerID(uid, c.Name)+`"`)
			}
			text = strings.ReplaceAll(text, "<uid>", uid)
			text = strings.ReplaceAll(text, `"`+plan.DefaultStateRoot+`/`, `"`+e.root+`/`)
			text = strings.ReplaceAll(text, `"`+plan.DefaultNetNSDir+`/`, `"`+e.netnsDir+`/`)
			var p dryRunPlan
			if err := json.Unmarshal([]byte(text), &p); err != nil {
				t.Fatal(err)
			}
			p.Sandbox.Network = e.network
			// Each volume shows its own kind (downwardAPI and projected
			// volumes were shown as secrets).
			kinds := map[string]string{"logs": "emptyDir", "info": "downwardAPI", "all": "projected", "conf": "configMap"}
			for _, v := range p.Volumes {
				if v.Kind != kinds[v.Name] {
					t.Errorf("volume %s: kind %q in the dry run, want %q", v.Name, v.Kind, kinds[v.Name])
				}
			}

			for _, cp := range p.Containers {
				ctr, err := c.LoadContainer(ctx, cp.ID)
				if err != nil {
					t.Errorf("container %s: the plan's ID %q is not in containerd: %v", cp.Name, cp.ID, err)
					continue
				}
				spec, err := ctr.Spec(ctx)
				if err != nil {
					t.Fatal(err)
				}
				comparePlanSpec(t, cp, spec, pod.Status.PodIP)
				for _, f := range p.Sandbox.Files {
					want := string(f.Render(pod.Status.PodIP, nil))
					got, errs, code := e.run("exec", name, "-n", ns, "-c", cp.Name, "--", "cat", f.ContainerPath)
					if code != 0 || got != want {
						t.Errorf("container %s: %s reads (exit %d)\n%s%s\nthe plan says\n%s", cp.Name, f.ContainerPath, code, got, errs, want)
					}
				}
			}
		})
	}
}

// comparePlanSpec checks a container's OCI spec against its plan.
func comparePlanSpec(t *testing.T, cp dryRunContainer, spec *specs.Spec, podIP string) {
	t.Helper()
	fail := func(what string, got, want any) {
		t.Errorf("container %s: %s is %v in containerd, %v in the plan", cp.Name, what, got, want)
	}
	// The process: argv and env as planned, the image's own variables
	// included.
	var argv []string
	for _, a := range cp.Argv {
		argv = append(argv, strings.ReplaceAll(a, "<status.podIP>", podIP))
	}
	if !slices.Equal(spec.Process.Args, argv) {
		fail("argv", spec.Process.Args, argv)
	}
	var env []string
	for _, v := range cp.Env {
		env = append(env, v.Name+"="+strings.ReplaceAll(v.Value, "<status.podIP>", podIP))
	}
	if !slices.Equal(spec.Process.Env, env) {
		fail("env", spec.Process.Env, env)
	}
	// Who it runs as, and with what privileges.
	s := cp.Security
	if s.User != "" {
		user := fmt.Sprint(spec.Process.User.UID)
		if strings.Contains(s.User, ":") {
			user += fmt.Sprintf(":%d", spec.Process.User.GID)
		}
		if user != s.User {
			fail("user", user, s.User)
		}
	}
	for _, g := range s.SupplementalGroups {
		if !slices.Contains(spec.Process.User.AdditionalGids, uint32(g)) {
			fail("supplementary groups", spec.Process.User.AdditionalGids, s.SupplementalGroups)
		}
	}
	if !s.AllCapabilities {
		caps := spec.Process.Capabilities
		for what, set := range map[string][]string{"bounding": caps.Bounding, "effective": caps.Effective, "permitted": caps.Permitted} {
			if !slices.Equal(set, s.Capabilities) && !(len(set) == 0 && len(s.Capabilities) == 0) {
				fail(what+" capabilities", set, s.Capabilities)
			}
		}
	}
	if spec.Process.NoNewPrivileges != s.NoNewPrivileges {
		fail("noNewPrivileges", spec.Process.NoNewPrivileges, s.NoNewPrivileges)
	}
	if spec.Root.Readonly != s.ReadOnlyRootFS {
		fail("read-only root", spec.Root.Readonly, s.ReadOnlyRootFS)
	}
	if (spec.Linux.Seccomp != nil) != (s.Seccomp == "RuntimeDefault" || s.Seccomp == "Localhost") {
		fail("seccomp", spec.Linux.Seccomp != nil, s.Seccomp)
	}
	// Where it lives: cgroup, namespaces, hostname.
	if spec.Linux.CgroupsPath != cp.CgroupPath {
		fail("cgroup", spec.Linux.CgroupsPath, cp.CgroupPath)
	}
	for _, n := range cp.Namespaces {
		i := slices.IndexFunc(spec.Linux.Namespaces, func(ln specs.LinuxNamespace) bool { return string(ln.Type) == n.Type })
		switch {
		case n.Path == "" && i >= 0:
			fail(n.Type+" namespace", spec.Linux.Namespaces[i], "the host's")
		case n.Path != "" && (i < 0 || spec.Linux.Namespaces[i].Path != n.Path):
			fail(n.Type+" namespace", spec.Linux.Namespaces, n.Path)
		}
	}
	if spec.Hostname != cp.Hostname {
		fail("hostname", spec.Hostname, cp.Hostname)
	}
	if r := cp.Resources; r.MemoryLimit > 0 || r.CPUQuota > 0 {
		lr := spec.Linux.Resources
		if lr == nil || lr.Memory == nil || lr.Memory.Limit == nil || *lr.Memory.Limit != r.MemoryLimit {
			fail("memory limit", lr.Memory, r.MemoryLimit)
		}
		if lr == nil || lr.CPU == nil || lr.CPU.Quota == nil || *lr.CPU.Quota != r.CPUQuota || *lr.CPU.Period != r.CPUPeriod {
			fail("CPU quota", lr.CPU, r)
		}
	}
	// Its mounts: every planned one, at its path, with its options, in
	// the plan's order (the spec has the runtime's own besides).
	var got [][2]string
	for _, m := range spec.Mounts {
		got = append(got, [2]string{m.Destination, strings.Join(m.Options, ",")})
	}
	next := 0
	for _, m := range cp.Mounts {
		want := [2]string{m.ContainerPath, strings.Join(m.Options, ",")}
		i := slices.Index(got[next:], want)
		if i < 0 {
			fail("mount "+m.ContainerPath, got, want)
			continue
		}
		next += i + 1
	}
	if cp.TerminationMessagePath != "" && !slices.Contains(got, [2]string{cp.TerminationMessagePath, "rbind,rprivate,rw"}) {
		fail("termination message mount", got, cp.TerminationMessagePath)
	}
}
