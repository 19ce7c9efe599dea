// Package api holds what the minipod daemon's API and its clients share: the
// interface the API serves (Backend), the options and objects of its own
// endpoints (images, exec, logs, gc, the host view), the Status reasons it
// adds to Kubernetes' own, and where the daemon listens by default.
//
// Pods, ConfigMaps, Secrets and Events travel as the real k8s.io/api/core/v1
// types. This package imports nothing of minipod's and no containerd code, so
// that a client builds on every OS and links none of the daemon's runtime
// (as the kubelet's CRI types live in k8s.io/cri-api and nerdctl's options
// in pkg/api/types).
package api
