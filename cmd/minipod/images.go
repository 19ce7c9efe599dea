package main

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/runtime"
)

// imageKey is the name containerd stores ref under (busybox ->
// docker.io/library/busybox:latest), or ref itself when it does not parse:
// the daemon then refuses it with the reason.
func imageKey(ref string) string {
	if name, err := runtime.NormalizeImage(ref); err == nil {
		return name
	}
	return ref
}

// podContainers lists a pod's init and app containers.
func podContainers(pod *corev1.Pod) []*corev1.Container {
	var cs []*corev1.Container
	for i := range pod.Spec.InitContainers {
		cs = append(cs, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		cs = append(cs, &pod.Spec.Containers[i])
	}
	return cs
}

// needsImageList reports whether deciding the pulls needs the list of
// present images (some container says IfNotPresent). The pods are
// defaulted, so every container has its pull policy.
func needsImageList(pods []*corev1.Pod) bool {
	for _, pod := range pods {
		for _, c := range podContainers(pod) {
			if c.ImagePullPolicy == corev1.PullIfNotPresent {
				return true
			}
		}
	}
	return false
}

// imagesToPull returns the images to pull before the pods are created, each
// once, in the order the pods name them: Always pulls, IfNotPresent pulls
// what present lacks, Never pulls nothing.
func imagesToPull(pods []*corev1.Pod, present []api.Image) []string {
	have := map[string]bool{}
	for _, img := range present {
		have[imageKey(img.Name)] = true
	}
	seen := map[string]bool{}
	var refs []string
	for _, pod := range pods {
		for _, c := range podContainers(pod) {
			key := imageKey(c.Image)
			if seen[key] {
				continue
			}
			switch c.ImagePullPolicy {
			case corev1.PullNever:
				continue
			case corev1.PullIfNotPresent:
				if have[key] {
					continue
				}
			}
			seen[key] = true
			refs = append(refs, c.Image)
		}
	}
	return refs
}

// podImages returns those of refs that one of the pod's containers runs.
func podImages(pod *corev1.Pod, refs []string) []string {
	var out []string
	for _, ref := range refs {
		key := imageKey(ref)
		for _, c := range podContainers(pod) {
			if imageKey(c.Image) == key {
				out = append(out, ref)
				break
			}
		}
	}
	return out
}
