package api

import (
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CreateOptions are the options of a pod's creation.
type CreateOptions struct {
	// PulledImages are images the caller pulled for this pod just before
	// asking (minipod run pulls first, to show progress): an
	// imagePullPolicy of Always is already satisfied for them, so they are
	// not pulled a second time.
	PulledImages []string
}

// DeleteOptions are the options of a pod deletion.
type DeleteOptions struct {
	// GracePeriodSeconds overrides the pod's terminationGracePeriodSeconds
	// when set; 0 means kill at once.
	GracePeriodSeconds *int64
}

// LogOptions select a container's log.
type LogOptions struct {
	Container  string
	Follow     bool
	Previous   bool
	Timestamps bool
	TailLines  *int64
	Since      time.Duration
}

// ExecOptions describe a command to run in a container.
type ExecOptions struct {
	Container string
	Command   []string
	Stdin     bool
	TTY       bool
}

// ExecIO is where an exec'd command's streams go. Stdin may be nil. With a
// TTY, Resize carries the terminal's size, first and at each change.
type ExecIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// Image is an image in minipod's containerd namespace.
type Image struct {
	Name    string    `json:"name"`
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// PullProgress reports how far a pull has come.
type PullProgress struct {
	Ref     string `json:"ref"`
	Status  string `json:"status"` // "resolving", "downloading", "unpacking", "done"
	Current int64  `json:"current"`
	Total   int64  `json:"total"`
}

// ImageList is the body of GET /minipod/v1/images and of the answer to
// POST /minipod/v1/images/load.
type ImageList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []Image `json:"items"`
}

// ImageConfig is the part of an image's config that shapes a container
// (plan.ImageConfig: what a pod's plan starts from).
type ImageConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`
}

// ImageConfigList is the answer of GET /minipod/v1/images/config?ref=REF
// (ref repeated): the configs of those images that are present, by ref as
// asked.
type ImageConfigList struct {
	metav1.TypeMeta `json:",inline"`
	Items           map[string]*ImageConfig `json:"items"`
}

// PullResult is the last line of a successful pull stream.
//
// POST /minipod/v1/images/pull?ref=REF answers with newline-delimited JSON:
// zero or more PullProgress objects (they have no "kind"), then one final
// object: a PullResult (kind "PullResult") or, when the pull failed after
// the stream began, a metav1.Status (kind "Status"). A pull that fails
// before any progress is answered with an ordinary error status code.
type PullResult struct {
	metav1.TypeMeta `json:",inline"`
	Image           Image `json:"image"`
}

// ContainerdInfo is the containerd a daemon uses, as `minipod doctor`
// reports it.
type ContainerdInfo struct {
	Address string `json:"address"`
	// Embedded: the daemon started this containerd itself, under its root.
	Embedded  bool   `json:"embedded"`
	Namespace string `json:"namespace"`
	// Version is containerd's, when it answers; Error says why it does not.
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// GCItem is one leftover.
type GCItem struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Removed bool   `json:"removed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// GCReport is what GC found, and removed unless DryRun.
type GCReport struct {
	DryRun bool     `json:"dryRun"`
	Items  []GCItem `json:"items"`
}

// GC kinds, in the leak checker's words.
const (
	GCContainer     = "container"
	GCSnapshot      = "snapshot"
	GCNetNS         = "netns"
	GCIPReservation = "ip reservation"
	GCMount         = "mount"
	GCPodDir        = "pod dir"
	GCLogDir        = "log dir"
	GCCgroup        = "pod cgroup"
	GCLease         = "lease"
	GCShim          = "shim"
)

// UIInfo is what `minipod ui` gets from the daemon.
type UIInfo struct {
	// URL is a one-time login link to the live view.
	URL string `json:"url"`
	// Address is where the live view listens.
	Address string `json:"address"`
}
