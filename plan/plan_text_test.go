package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipod/minipod/internal/golden"
)

// TestPlanTextPeers: the dry run of the sidecar shows /etc/hosts as the
// daemon will write it, with the other pods of the namespace that run now
// (the collector the shipper reaches by name), a step for the cgroup, and
// the note on the pause container.
func TestPlanTextPeers(t *testing.T) {
	data, err := os.ReadFile("../examples/sidecar/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := planOf(t, "sidecar.yaml", data, nil)
	var text bytes.Buffer
	opts := TextOptions{PeersKnown: true, Peers: []Peer{{Name: "log-collector", IP: "10.77.0.2"}}}
	if err := p.WriteTextWith(&text, opts); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "plan-sidecar-peers.txt.golden"), text.Bytes())
	for _, want := range []string{
		"| 10.77.0.2  log-collector log-collector.default",
		"| <pod IP>  web",
		"cgroup /minipod/besteffort/pod",
		"No pause container",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the plan text lacks %q", want)
		}
	}
}

// TestPlanTextImages: with the daemon's answer, the dry run shows the
// config of an image on the host (what the container starts from) and
// says that an image not on the host is pulled first; without it, that
// the configs are not known.
func TestPlanTextImages(t *testing.T) {
	data, err := os.ReadFile("../examples/sidecar/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]*ImageConfig{"docker.io/minipod/webapp:1.0": {Entrypoint: []string{"/webapp"}, User: "65534", WorkingDir: "/srv", Env: []string{"PATH=/bin"}}}
	text := func(opts TextOptions) string {
		var b bytes.Buffer
		if err := planOf(t, "sidecar.yaml", data, images).WriteTextWith(&b, opts); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	known := text(TextOptions{ImagesKnown: true})
	for _, want := range []string{
		"- docker.io/minipod/webapp:1.0 is on this host; its config, which the containers below start from:",
		"-   entrypoint /webapp, cmd (none)",
		"-   user 65534, working dir /srv",
		"-   env PATH=/bin",
		"- docker.io/minipod/log-shipper:1.0 is not on this host: the run pulls it first",
		"runs /webapp --listen=:8080 --access-log=/var/log/webapp/access.log  (from the image's ENTRYPOINT + args of the pod)",
	} {
		if !strings.Contains(known, want) {
			t.Errorf("the plan text with the daemon's images lacks %q:\n%s", want, known)
		}
	}
	if strings.Contains(known, "config not known") {
		t.Errorf("the plan text with the daemon's images says a config is not known:\n%s", known)
	}
	if unknown := text(TextOptions{}); !strings.Contains(unknown, "docker.io/minipod/log-shipper:1.0 (pull IfNotPresent) [config not known yet]") {
		t.Errorf("the plan text without the daemon's answer does not say the shipper's config is not known:\n%s", unknown)
	}
}

// TestPlanTextWhyOnce: no reason is given twice in a plan's text, and every
// step with a reason of its own gives it.
func TestPlanTextWhyOnce(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.yaml)
			name := tc.name + ".yaml"
			if tc.file != "" {
				var err error
				if data, err = os.ReadFile(tc.file); err != nil {
					t.Fatal(err)
				}
				name = tc.file
			}
			var text bytes.Buffer
			if err := planOf(t, name, data, tc.images).WriteText(&text); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			whys := 0
			for _, l := range strings.Split(text.String(), "\n") {
				if why, ok := strings.CutPrefix(strings.TrimSpace(l), "why: "); ok {
					whys++
					if seen[why] {
						t.Errorf("reason given twice: %q", why)
					}
					seen[why] = true
				}
			}
			if whys < 6 {
				t.Errorf("only %d reasons in:\n%s", whys, text.String())
			}
		})
	}
}

// TestPlanTextObjects: a pod that reads a ConfigMap and a Secret has a
// step that says so, naming them once each.
func TestPlanTextObjects(t *testing.T) {
	for _, tc := range planCases {
		if tc.name != "configmap-secret" {
			continue
		}
		var text bytes.Buffer
		if err := planOf(t, tc.name+".yaml", []byte(tc.yaml), tc.images).WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "read ConfigMap app-config and Secret app-secret (those in the same file are created first)") {
			t.Errorf("no ConfigMap/Secret step in:\n%s", text.String())
		}
		return
	}
	t.Fatal("no configmap-secret case")
}
