package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"

	"github.com/minipod/minipod/internal/atomicfile"
	"github.com/minipod/minipod/runtime"
)

// ListenTCP listens on addr (host:port) for the API, and only on a loopback
// address: the API runs pods as root, so it must never be reachable from
// another host. On it every request needs the daemon's token (TokenFile)
// and must not come from a web page (see guardRequests); it is off unless
// asked for.
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
		return fmt.Errorf("refusing to serve the API on %q: only a loopback address (127.0.0.1:PORT or [::1]:PORT) is allowed, since the API runs pods as root: %w", addr, errdefs.ErrInvalidArgument)
	}
	return nil
}

// TokenFile is where the daemon keeps the bearer token of its TCP listener:
// api-token under its state root, mode 0600, readable by root only.
func TokenFile(root string) string { return filepath.Join(root, "api-token") }

// loadOrMakeToken returns the token in path, and makes a new one (32 random
// bytes, hex) when the file is missing, malformed, or readable by anyone
// but its owner. The file is written whole or not at all.
func loadOrMakeToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		fi, serr := os.Stat(path)
		tok := string(b)
		if serr == nil && fi.Mode().Perm() == 0o600 && ownedByMe(fi) && len(tok) == 64 {
			if _, err := hex.DecodeString(tok); err == nil {
				return tok, nil
			}
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("failed to make the API token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(tok), 0o600); err != nil {
		return "", fmt.Errorf("failed to write the API token: %w", err)
	}
	return tok, nil
}

func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
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

// tcpListener is the loopback TCP listener with what its requests must
// show.
type tcpListener struct {
	net.Listener
	guard *tcpGuard
}

// stateRoot is the daemon's state root, absolute.
func stateRoot(root string) string {
	if root == "" {
		root = runtime.DefaultStateRoot
	}
	if abs, err := filepath.Abs(root); err == nil {
		return abs
	}
	return root
}

// ensureToken makes sure the token of the TCP listener exists under the
// state root, and returns it.
func ensureToken(root string) (string, error) {
	root = stateRoot(root)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("failed to create state root %q: %w", root, err)
	}
	return loadOrMakeToken(TokenFile(root))
}

// listenTCPWithToken listens on addr for holders of token.
func listenTCPWithToken(addr, token string) (*tcpListener, error) {
	l, err := ListenTCP(addr)
	if err != nil {
		return nil, err
	}
	g, err := newTCPGuard(l.Addr(), token)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &tcpListener{Listener: l, guard: g}, nil
}
