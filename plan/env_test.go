package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/minipod/minipod/manifest"
)

// planYAML plans the one pod of a manifest, as the CLI reads it.
func planYAML(t *testing.T, doc string, opts Options) *Plan {
	t.Helper()
	f, err := manifest.Parse("pod.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	opts.ConfigMaps, opts.Secrets = f.ConfigMaps, f.Secrets
	p, err := Pod(f.Pods[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The plan's env and argv are what the process gets, $(VAR) expanded,
// with a placeholder where a value is known only once the pod exists;
// Process fills those in and gives what apply hands containerd.
func TestPlanEnvExpanded(t *testing.T) {
	p := planYAML(t, `apiVersion: v1
kind: Pod
metadata: {name: env}
spec:
  containers:
  - name: app
    image: app:1
    command: ["sh", "-c", "echo $(GREETING) $(URL) $$(HOME) $(UNDEFINED)"]
    env:
    - {name: NAME, value: world}
    - {name: GREETING, value: "hello $(NAME)"}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - {name: URL, value: "http://$(POD_IP):8080/$(NAME)"}
    - {name: LATER, value: "$(AFTER)"}
    - {name: AFTER, value: x}
`, Options{Images: map[string]*ImageConfig{"app:1": {Env: []string{"PATH=/bin", "NAME=image"}}}})
	c := p.Containers[0]
	want := map[string][2]string{ // value in the plan, raw
		"PATH":     {"/bin", ""},
		"NAME":     {"world", ""},
		"GREETING": {"hello world", "hello $(NAME)"},
		"POD_IP":   {"<status.podIP>", ""},
		"URL":      {"http://<status.podIP>:8080/world", "http://$(POD_IP):8080/$(NAME)"},
		"LATER":    {"$(AFTER)", ""},
		"AFTER":    {"x", ""},
	}
	if len(c.Env) != len(want) {
		t.Fatalf("env = %+v, want %d variables", c.Env, len(want))
	}
	for _, e := range c.Env {
		if w := want[e.Name]; e.Value != w[0] || e.Raw != w[1] {
			t.Errorf("%s: value %q raw %q, want %q raw %q", e.Name, e.Value, e.Raw, w[0], w[1])
		}
	}
	if w := []string{"sh", "-c", "echo hello world http://<status.podIP>:8080/world $(HOME) $(UNDEFINED)"}; !slices.Equal(c.Argv, w) {
		t.Errorf("argv = %q, want %q", c.Argv, w)
	}
	env, argv := c.Process(Applied{PodIP: "10.77.0.9"})
	wantEnv := []string{"PATH=/bin", "NAME=world", "GREETING=hello world", "POD_IP=10.77.0.9", "URL=http://10.77.0.9:8080/world", "LATER=$(AFTER)", "AFTER=x"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("Process env = %q, want %q", env, wantEnv)
	}
	if w := []string{"sh", "-c", "echo hello world http://10.77.0.9:8080/world $(HOME) $(UNDEFINED)"}; !slices.Equal(argv, w) {
		t.Errorf("Process argv = %q, want %q", argv, w)
	}
	// Process twice gives the same: the plan is not changed by it.
	if env2, _ := c.Process(Applied{PodIP: "10.77.0.9"}); !slices.Equal(env2, env) {
		t.Errorf("second Process env = %q, want %q", env2, env)
	}
}

// downwardAPI and projected volumes are planned as what they are (they
// were shown as secrets); the runtime keeps them on a tmpfs.
func TestPlanVolumeKinds(t *testing.T) {
	p := planYAML(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: vols, labels: {app: vols}}
spec:
  containers:
  - name: app
    image: app:1
    volumeMounts:
    - {name: info, mountPath: /info}
    - {name: all, mountPath: /all}
    - {name: conf, mountPath: /conf}
  volumes:
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
  - name: all
    projected:
      sources:
      - configMap: {name: cm}
      - downwardAPI:
          items:
          - path: name
            fieldRef: {fieldPath: metadata.name}
  - name: conf
    configMap: {name: cm}
`, Options{})
	got := map[string]string{}
	for _, v := range p.Volumes {
		got[v.Name] = v.Kind + " " + v.Medium
	}
	want := map[string]string{"info": "downwardAPI Memory", "all": "projected Memory", "conf": "configMap "}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("volume %s: kind and medium %q, want %q", name, got[name], w)
		}
	}
}

// Each /etc file holds its content; /etc/hosts has placeholders that
// Render fills in, and names them.
func TestPlanPodFiles(t *testing.T) {
	p := planYAML(t, `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  subdomain: sub
  hostAliases:
  - {ip: 192.0.2.7, hostnames: [db]}
  dnsConfig:
    searches: [corp.test]
  containers:
  - {name: app, image: app:1}
`, Options{HostResolvConf: []byte("nameserver 127.0.0.53\nnameserver 192.0.2.53\n")})
	files := map[string]PodFile{}
	for _, f := range p.Sandbox.Files {
		files[f.ContainerPath] = f
	}
	if got := files["/etc/hostname"].Content; got != "web\n" {
		t.Errorf("/etc/hostname = %q", got)
	}
	if got, want := files["/etc/resolv.conf"].Content, "nameserver 192.0.2.53\nsearch corp.test\n"; got != want {
		t.Errorf("/etc/resolv.conf = %q, want %q", got, want)
	}
	hosts := files["/etc/hosts"]
	if _, ok := hosts.Placeholders[PodIPPlaceholder]; !ok {
		t.Errorf("/etc/hosts names no %s placeholder: %v", PodIPPlaceholder, hosts.Placeholders)
	}
	got := string(hosts.Render("10.77.0.4", []string{PeerLine("10.77.0.2", "db2", "default")}))
	want := "# Kubernetes-managed hosts file (minipod).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		"10.77.0.4\tweb\n\n# Entries added by HostAliases and the pod's subdomain.\n" +
		"10.77.0.4\tweb.sub.default.svc.cluster.local\tweb\n192.0.2.7\tdb\n" +
		"\n# Pods of this namespace, kept current by minipod.\n10.77.0.2\tdb2 db2.default\n"
	if got != want {
		t.Errorf("/etc/hosts rendered =\n%s\nwant\n%s", got, want)
	}
	if got := string(hosts.Render("", nil)); strings.Contains(got, "web") || strings.Contains(got, "<") {
		t.Errorf("/etc/hosts before the pod IP holds the pod's lines or a placeholder:\n%s", got)
	}
}
