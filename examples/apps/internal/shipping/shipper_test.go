package shipping

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"
)

// collector is the protocol of examples/apps/log-collector: it stores each
// line and answers "ok".
type collector struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	conns []net.Conn
	done  chan struct{}
}

func listen(t *testing.T, addr string) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go func() {
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					c.mu.Lock()
					c.lines = append(c.lines, sc.Text())
					c.mu.Unlock()
					if _, err := conn.Write([]byte("ok\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

// stop closes the listener and every connection, as a collector that
// exits does.
func (c *collector) stop() {
	c.ln.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// TestShipperCollectorGoneAndBack: the collector stops while the shipper
// holds an open connection to it, lines keep coming, and a collector comes
// back at the same address: it receives every line written after the first
// one, each once, in order. A shipper that only writes loses the line it
// writes into the half-closed connection.
func TestShipperCollectorGoneAndBack(t *testing.T) {
	first := listen(t, "127.0.0.1:0")
	addr := first.ln.Addr().String()
	s := &Shipper{Name: "test", Addr: addr}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := s.Send(ctx, "line 0"); err != nil {
		t.Fatal(err)
	}
	first.stop()

	// Lines 1..3 come after the collector closed the shipper's connection;
	// line 1 is written into it, is not acknowledged, and goes again to
	// the second collector.
	sent := make(chan error, 1)
	go func() {
		for i := 1; i <= 3; i++ {
			if err := s.Send(ctx, fmt.Sprintf("line %d", i)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	second := listen(t, addr)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got, want := first.received(), []string{"line 0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first collector received %q, want %q", got, want)
	}
	if got, want := second.received(), []string{"line 1", "line 2", "line 3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("second collector received %q, want %q", got, want)
	}
	if s.Shipped != 4 {
		t.Fatalf("Shipped = %d, want 4", s.Shipped)
	}
}

// TestShipperCheckNoticesClose: between lines, Check drops a connection
// whose peer has closed, instead of leaving it in CLOSE_WAIT.
func TestShipperCheckNoticesClose(t *testing.T) {
	c := listen(t, "127.0.0.1:0")
	s := &Shipper{Name: "test", Addr: c.ln.Addr().String()}
	defer s.Close()
	ctx := context.Background()
	if err := s.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	s.Check(ctx)
	if s.conn == nil {
		t.Fatal("Check dropped an open, idle connection")
	}
	c.stop()
	deadline := time.Now().Add(5 * time.Second)
	for s.conn != nil {
		if time.Now().After(deadline) {
			t.Fatal("Check kept a connection the collector closed")
		}
		s.Check(ctx)
	}
}
