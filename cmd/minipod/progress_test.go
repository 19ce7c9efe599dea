package main

import (
	"strings"
	"testing"

	"github.com/minipod/minipod/api"
)

func TestProgressTerminal(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, true)
	p.Pull(api.PullProgress{Ref: "busybox", Status: "resolving"})
	p.Pull(api.PullProgress{Ref: "busybox", Status: "downloading", Current: 1200000, Total: 2400000})
	p.Done("pulled busybox")
	p.Spin("waiting for pod web: ContainerCreating")
	p.Spin("waiting for pod web: Running")
	p.Clear()
	want := "\rpulling busybox: resolving" +
		"\rpulling busybox: downloading 1.2MB/2.4MB (50%)" +
		"\r" + strings.Repeat(" ", 46) + "\r" + "pulled busybox\n" +
		"\r| waiting for pod web: ContainerCreating" +
		"\r/ waiting for pod web: Running" + strings.Repeat(" ", 10) +
		"\r" + strings.Repeat(" ", 30) + "\r"
	if got := b.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestProgressNotTerminal(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, false)
	p.Pull(api.PullProgress{Ref: "busybox", Status: "downloading", Current: 1, Total: 2})
	p.Spin("waiting for pod web: ContainerCreating")
	p.Done("pulled busybox")
	p.Clear()
	if got, want := b.String(), "pulled busybox\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPullLine(t *testing.T) {
	tests := []struct {
		ev   api.PullProgress
		want string
	}{
		{api.PullProgress{Ref: "a", Status: "resolving"}, "pulling a: resolving"},
		{api.PullProgress{Ref: "a", Status: "downloading", Current: 500}, "pulling a: downloading 500B"},
		{api.PullProgress{Ref: "a", Status: "downloading", Current: 5000, Total: 10000}, "pulling a: downloading 5.0kB/10.0kB (50%)"},
	}
	for _, tt := range tests {
		if got := pullLine(tt.ev); got != tt.want {
			t.Errorf("pullLine(%+v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}
