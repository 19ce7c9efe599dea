package main

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/runtime"
)

// normalizeImageRef writes an image reference the way containerd stores
// it: busybox -> docker.io/library/busybox:latest, localhost:5000/app ->
// localhost:5000/app:latest. A digest is kept and then needs no tag.
func normalizeImageRef(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	domain, rest, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !(strings.ContainsAny(domain, ".:") || domain == "localhost") {
		domain, rest = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	last := rest[strings.LastIndex(rest, "/")+1:]
	if !strings.Contains(last, ":") && !hasDigest {
		rest += ":latest"
	}
	out := domain + "/" + rest
	if hasDigest {
		out += "@" + digest
	}
	return out
}

// pullPolicy is a container's imagePullPolicy, defaulted as Kubernetes
// does when unset: Always for :latest or no tag, else IfNotPresent.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if strings.Contains(c.Image, "@") {
		return corev1.PullIfNotPresent
	}
	if strings.HasSuffix(normalizeImageRef(c.Image), ":latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
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
// present images (some container says IfNotPresent).
func needsImageList(pods []*corev1.Pod) bool {
	for _, pod := range pods {
		for _, c := range podContainers(pod) {
			if pullPolicy(c) == corev1.PullIfNotPresent {
				return true
			}
		}
	}
	return false
}

// imagesToPull returns the images to pull before the pods are created, each
// once, in the order the pods name them: Always pulls, IfNotPresent pulls
// what present lacks, Never pulls nothing.
func imagesToPull(pods []*corev1.Pod, present []runtime.Image) []string {
	have := map[string]bool{}
	for _, img := range present {
		have[normalizeImageRef(img.Name)] = true
	}
	seen := map[string]bool{}
	var refs []string
	for _, pod := range pods {
		for _, c := range podContainers(pod) {
			key := normalizeImageRef(c.Image)
			if seen[key] {
				continue
			}
			switch pullPolicy(c) {
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

// podUsesImage reports whether one of the pod's containers runs ref.
func podUsesImage(pod *corev1.Pod, ref string) bool {
	key := normalizeImageRef(ref)
	for _, c := range podContainers(pod) {
		if normalizeImageRef(c.Image) == key {
			return true
		}
	}
	return false
}
