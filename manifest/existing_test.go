package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const refsPod = `apiVersion: v1
kind: Pod
metadata:
  name: refs
spec:
  containers:
  - name: app
    image: busybox
    envFrom:
    - configMapRef:
        name: settings
  volumes:
  - name: creds
    secret:
      secretName: creds
  - name: both
    projected:
      sources:
      - configMap:
          name: settings
          items:
          - key: mode
            path: mode
      - secret:
          name: creds
`

// TestParseWithExisting checks that a pod may refer to ConfigMaps and
// Secrets that exist outside its file (held by the daemon), in its own
// namespace only; that a reference found nowhere names its field, projected
// sources included; and that it says when nobody could be asked.
func TestParseWithExisting(t *testing.T) {
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"mode": "dev"}}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"}, Data: map[string][]byte{"token": []byte("x")}}

	if _, err := ParseWith("pod.yaml", []byte(refsPod), &Existing{ConfigMaps: []*corev1.ConfigMap{settings}, Secrets: []*corev1.Secret{creds}}); err != nil {
		t.Fatalf("references to existing objects were refused: %v", err)
	}

	// The same names in another namespace do not count.
	other := settings.DeepCopy()
	other.Namespace = "elsewhere"
	_, err := ParseWith("pod.yaml", []byte(refsPod), &Existing{ConfigMaps: []*corev1.ConfigMap{other}, Secrets: []*corev1.Secret{creds}})
	want := []string{
		`pod.yaml: document 1 (Pod "refs"): spec.containers[0].envFrom[0].configMapRef.name: not found: configMap "settings" in namespace "default"`,
		`pod.yaml: document 1 (Pod "refs"): spec.volumes[1].projected.sources[0].configMap.name: not found: configMap "settings" in namespace "default"`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in:\n%v", w, err)
		}
	}

	// A key the existing ConfigMap lacks is named.
	noMode := settings.DeepCopy()
	noMode.Data = map[string]string{"other": "x"}
	_, err = ParseWith("pod.yaml", []byte(refsPod), &Existing{ConfigMaps: []*corev1.ConfigMap{noMode}, Secrets: []*corev1.Secret{creds}})
	if w := `spec.volumes[1].projected.sources[0].configMap.items[0].key: not found: key "mode" is not in configMap "settings"`; err == nil || !strings.Contains(err.Error(), w) {
		t.Errorf("want %q in:\n%v", w, err)
	}

	// Nobody could be asked: each missing reference says so.
	_, err = ParseWith("pod.yaml", []byte(refsPod), &Existing{Unasked: "no daemon answered at /run/x.sock to look it up"})
	if err == nil || strings.Count(err.Error(), "no daemon answered at /run/x.sock to look it up") != 4 ||
		!strings.Contains(err.Error(), `spec.volumes[1].projected.sources[1].secret.name: not found: secret "creds"`) {
		t.Errorf("want four references saying no daemon answered:\n%v", err)
	}

	// Parse knows only the file.
	if _, err := Parse("pod.yaml", []byte(refsPod)); err == nil || strings.Contains(err.Error(), "daemon") {
		t.Errorf("Parse: %v", err)
	}
}
