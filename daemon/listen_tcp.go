package daemon

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/containerd/errdefs"
)

// ListenTCP listens on addr (host:port) for the API, and only on a loopback
// address: the API runs pods as root and has no authentication, so it must
// never be reachable from another host. Anyone on this host who can connect
// to it can use it, so it is off unless asked for.
func ListenTCP(addr string) (net.Listener, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %q: %w", addr, err)
	}
	return l, nil
}

// checkLoopback refuses an address that is not a literal loopback IP with
// a port (names are refused: what they resolve to can change).
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("invalid TCP address %q: want 127.0.0.1:PORT or [::1]:PORT: %w", addr, errdefs.ErrInvalidArgument)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to serve the API on %q: only a loopback address (127.0.0.1:PORT or [::1]:PORT) is allowed, since the API runs pods as root and has no authentication: %w", addr, errdefs.ErrInvalidArgument)
	}
	return nil
}

// multiListener accepts on several listeners at once.
type multiListener struct {
	ls    []net.Listener
	conns chan net.Conn
	errc  chan error
	once  sync.Once
	done  chan struct{}
}

func newMultiListener(ls ...net.Listener) net.Listener {
	if len(ls) == 1 {
		return ls[0]
	}
	m := &multiListener{ls: ls, conns: make(chan net.Conn), errc: make(chan error, len(ls)), done: make(chan struct{})}
	for _, l := range ls {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					m.errc <- err
					return
				}
				select {
				case m.conns <- c:
				case <-m.done:
					c.Close()
					return
				}
			}
		}()
	}
	return m
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errc:
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *multiListener) Close() error {
	var errs []error
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.ls {
			errs = append(errs, l.Close())
		}
	})
	return errors.Join(errs...)
}

func (m *multiListener) Addr() net.Addr { return m.ls[0].Addr() }
