// Package cnitest provides a fake netns.Network for tests of the code that
// attaches pods: it records calls and fails on demand, touching nothing on
// the host.
package cnitest

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/minipod/minipod/netns"
)

// Fake is a netns.Network that records the ids it was called with and
// returns FailAdd from Setup and FailDel from Remove when they are set. A
// failing Setup is still recorded in Added, as a real ADD may allocate an
// IP and then fail. Safe for concurrent use; do not copy after first use.
type Fake struct {
	FailAdd, FailDel error
	Added, Removed   []string

	mu sync.Mutex
}

var _ netns.Network = (*Fake)(nil)

// Name returns "fake".
func (f *Fake) Name() string { return "fake" }

// Setup records a.ID in Added and returns FailAdd, or an address in
// 10.77.0.0/16 that is distinct for each successful call.
func (f *Fake) Setup(_ context.Context, a netns.Attachment) (*netns.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Added = append(f.Added, a.ID)
	if f.FailAdd != nil {
		return nil, f.FailAdd
	}
	n := len(f.Added) + 1 // .1 is the gateway
	ifName := a.IfName
	if ifName == "" {
		ifName = netns.DefaultIfName
	}
	return &netns.Result{
		IP:        net.IPv4(10, 77, byte(n>>8), byte(n)).To4(),
		Gateway:   net.IPv4(10, 77, 0, 1).To4(),
		Interface: ifName,
		Mask:      net.CIDRMask(16, 32),
	}, nil
}

// Remove records a.ID in Removed and returns FailDel.
func (f *Fake) Remove(_ context.Context, a netns.Attachment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Removed = append(f.Removed, a.ID)
	return f.FailDel
}

// Calls returns copies of Added and Removed, for reading while other
// goroutines may still call the fake.
func (f *Fake) Calls() (added, removed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Added...), append([]string(nil), f.Removed...)
}

func (f *Fake) String() string {
	added, removed := f.Calls()
	return fmt.Sprintf("cnitest.Fake{Added: %q, Removed: %q}", added, removed)
}
