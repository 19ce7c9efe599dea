package main

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/manifest"
)

func TestImageKey(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := map[string]string{
		"busybox":                        "docker.io/library/busybox:latest",
		"busybox:1.36":                   "docker.io/library/busybox:1.36",
		"library/busybox":                "docker.io/library/busybox:latest",
		"docker.io/busybox":              "docker.io/library/busybox:latest",
		"me/app:v1":                      "docker.io/me/app:v1",
		"localhost:5000/app":             "localhost:5000/app:latest",
		"localhost/app:2":                "localhost/app:2",
		"127.0.0.1:5000/team/app:3":      "127.0.0.1:5000/team/app:3",
		"ghcr.io/o/r@" + digest:          "ghcr.io/o/r@" + digest,
		"docker.io/library/busybox:1.36": "docker.io/library/busybox:1.36",
		// What does not parse is kept, for the daemon to refuse by name.
		"busybox@sha256:0123": "busybox@sha256:0123",
	}
	for in, want := range tests {
		if got := imageKey(in); got != want {
			t.Errorf("imageKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// podWith is a pod as manifest.Read returns it: defaulted.
func podWith(name string, containers ...corev1.Container) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: containers}}
	manifest.DefaultPod(pod)
	return pod
}

func TestImagesToPull(t *testing.T) {
	present := []api.Image{{Name: "docker.io/library/busybox:1.36"}, {Name: "localhost:5000/app:v1"}}
	tests := []struct {
		name string
		pods []*corev1.Pod
		want []string
	}{
		{"IfNotPresent and present", []*corev1.Pod{podWith("a", corev1.Container{Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent})}, nil},
		{"IfNotPresent and missing", []*corev1.Pod{podWith("a", corev1.Container{Image: "nginx:1.27", ImagePullPolicy: corev1.PullIfNotPresent})}, []string{"nginx:1.27"}},
		{"Always pulls even when present", []*corev1.Pod{podWith("a", corev1.Container{Image: "busybox:1.36", ImagePullPolicy: corev1.PullAlways})}, []string{"busybox:1.36"}},
		{"Never", []*corev1.Pod{podWith("a", corev1.Container{Image: "nginx", ImagePullPolicy: corev1.PullNever})}, nil},
		{"unset policy: latest is Always", []*corev1.Pod{podWith("a", corev1.Container{Image: "busybox"})}, []string{"busybox"}},
		{"unset policy: tag is IfNotPresent", []*corev1.Pod{podWith("a", corev1.Container{Image: "localhost:5000/app:v1"})}, nil},
		{"each image once, in order", []*corev1.Pod{
			podWith("a", corev1.Container{Image: "nginx:1", ImagePullPolicy: corev1.PullAlways}, corev1.Container{Image: "redis:7", ImagePullPolicy: corev1.PullIfNotPresent}),
			podWith("b", corev1.Container{Image: "docker.io/library/nginx:1", ImagePullPolicy: corev1.PullAlways}),
		}, []string{"nginx:1", "redis:7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imagesToPull(tt.pods, present); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPodImages(t *testing.T) {
	pod := podWith("a", corev1.Container{Image: "busybox:1.36"}, corev1.Container{Image: "localhost:5000/app"})
	pod.Spec.InitContainers = []corev1.Container{{Image: "docker.io/library/alpine:3"}}
	pulled := []string{"docker.io/library/busybox:1.36", "nginx:1", "alpine:3", "localhost:5000/app:latest"}
	want := []string{"docker.io/library/busybox:1.36", "alpine:3", "localhost:5000/app:latest"}
	if got := podImages(pod, pulled); !reflect.DeepEqual(got, want) {
		t.Errorf("podImages = %q, want %q", got, want)
	}
}
