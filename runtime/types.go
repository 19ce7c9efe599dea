package runtime

import (
	"io"
	"time"
)

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
