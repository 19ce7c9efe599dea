package runtime

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckHostPaths(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	other := filepath.Join(root, "other")
	for _, d := range []string{state, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(other, "link")
	if err := os.Symlink(state, link); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{cfg: Config{Root: state}, objects: &objectStore{secretDir: "/run/minipod/secrets/x"}}
	cases := []struct {
		path    string
		refused bool
	}{
		{state, true},
		{state + "/", true},
		{filepath.Join(state, "pods", "x"), true},
		{root, true},
		{"/", true},
		{filepath.Join(link, "pods"), true},
		{filepath.Join(state, "..", "state"), true},
		{"/run/minipod/secrets", true},
		{other, false},
		{filepath.Join(root, "state2"), false},
		{"/nonexistent/minipod-test", false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Volumes: []corev1.Volume{
				{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tc.path}}},
			}}}
			err := r.checkHostPaths(pod)
			if (err != nil) != tc.refused {
				t.Fatalf("refused=%v, want %v (err %v)", err != nil, tc.refused, err)
			}
		})
	}
}
