package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

func TestCheckResourceValues(t *testing.T) {
	for _, tc := range []struct {
		name, q string
		res     corev1.ResourceName
		refused bool
	}{
		{"normal memory", "512Mi", corev1.ResourceMemory, false},
		{"large memory", "2Ti", corev1.ResourceMemory, false},
		{"absurd memory", "999999999999Ei", corev1.ResourceMemory, true},
		{"memory beyond 64Pi", "65Pi", corev1.ResourceMemory, true},
		{"normal cpu", "1500m", corev1.ResourceCPU, false},
		{"absurd cpu", "1e12", corev1.ResourceCPU, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{tc.res: resource.MustParse(tc.q)},
			}}}}}
			err := checkResourceValues(pod)
			if (err != nil) != tc.refused {
				t.Fatalf("refused=%v, want %v (%v)", err != nil, tc.refused, err)
			}
			if err != nil && !strings.Contains(err.Error(), "spec.containers[0].resources.limits["+string(tc.res)+"]") {
				t.Fatalf("error does not name the field: %v", err)
			}
		})
	}
}
