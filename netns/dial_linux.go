package netns

import (
	"context"
	"fmt"
	"net"
	goruntime "runtime"

	vnetns "github.com/vishvananda/netns"
)

// Dial connects to addr from inside the network namespace pinned at path,
// as a process of the pod would (127.0.0.1 is the pod's loopback). The
// socket is made on a thread that has switched to the namespace, which
// switches back before the thread is used again; a thread that cannot
// switch back is never unlocked, so that it dies with its goroutine.
func Dial(ctx context.Context, path, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			goruntime.UnlockOSThread()
			done <- result{err: fmt.Errorf("failed to open the daemon's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := vnetns.GetFromPath(path)
		if err != nil {
			goruntime.UnlockOSThread()
			done <- result{err: fmt.Errorf("failed to open network namespace %q: %w", path, err)}
			return
		}
		defer target.Close()
		if err := vnetns.Set(target); err != nil {
			goruntime.UnlockOSThread()
			done <- result{err: fmt.Errorf("failed to enter network namespace %q: %w", path, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err := vnetns.Set(orig); err != nil {
			// The thread stays in the pod's namespace: it is not
			// unlocked, and exits with this goroutine.
			if c != nil {
				c.Close()
			}
			done <- result{err: fmt.Errorf("failed to return from network namespace %q: %w", path, err)}
			return
		}
		goruntime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("failed to connect to %s in network namespace %q: %w", addr, path, err)
		}
		done <- result{c: c, err: err}
	}()
	r := <-done
	return r.c, r.err
}
