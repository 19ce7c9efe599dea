package runtime

import "sync"

// changes tells watchers that a pod's status or events may have changed,
// so that a watch (minipod get -w, events -w, the wait of minipod run)
// reads again when something happened instead of asking at a fixed rate.
// Notifications coalesce: a watcher that was busy reads once for many.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel that is closed at the next change.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// notify wakes every watcher waiting on next.
func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Changed returns a channel that is closed the next time a pod is added or
// removed, or a pod's status or events change. Take it before reading, so
// that a change during the read is not missed.
func (r *Runtime) Changed() <-chan struct{} {
	return r.changes.next()
}
