package runtime

import "testing"

func TestChanges(t *testing.T) {
	var c changes
	a := c.next()
	b := c.next()
	select {
	case <-a:
		t.Fatal("closed before any change")
	default:
	}
	c.notify()
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a watcher was not woken by the change")
		}
	}
	// A notification with nobody waiting is not kept for later watchers:
	// they read the state first, then wait.
	c.notify()
	select {
	case <-c.next():
		t.Fatal("a new watcher saw an old change")
	default:
	}
}
