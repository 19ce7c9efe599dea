// Command log-shipper is the sidecar of the sidecar pattern: it follows a
// log file that the application in the same pod writes to a shared volume,
// and forwards every line, unchanged, over TCP to a central collector. When
// the collector cannot be reached it waits and reconnects (with back-off),
// then sends the line it was holding, so no line is skipped.
//
//	log-shipper --file /var/log/webapp/access.log --to log-collector:9000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	file := flag.String("file", "/var/log/webapp/access.log", "log file to follow (waited for until it exists)")
	to := flag.String("to", "log-collector:9000", "collector address, HOST:PORT")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	lines := make(chan string)
	go func() {
		if err := follow(ctx, *file, lines); err != nil && ctx.Err() == nil {
			log.Fatalf("log-shipper: %v", err)
		}
	}()
	log.Printf("log-shipper: following %s, shipping to %s", *file, *to)
	s := &shipper{addr: *to}
	for {
		select {
		case <-ctx.Done():
			s.close()
			log.Printf("log-shipper: stopped after shipping %d lines", s.sent)
			return
		case line := <-lines:
			_ = s.send(ctx, line) // fails only when stopping, handled above
		}
	}
}

// follow sends every line of path to out, from the start of the file, and
// keeps reading as lines are appended, like `tail -F`. If the file shrinks
// (it was truncated or replaced) it starts again from the top.
func follow(ctx context.Context, path string, out chan<- string) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var (
		f       *os.File
		r       *bufio.Reader
		offset  int64
		partial string
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		if f == nil {
			var err error
			f, err = os.Open(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("failed to open %q: %w", path, err)
			}
			if f != nil {
				r, offset, partial = bufio.NewReader(f), 0, ""
			}
		}
		if f != nil {
			for {
				chunk, err := r.ReadString('\n')
				offset += int64(len(chunk))
				partial += chunk
				if err == io.EOF {
					break
				}
				if err != nil {
					return fmt.Errorf("failed to read %q: %w", path, err)
				}
				select {
				case out <- strings.TrimRight(partial, "\r\n"):
				case <-ctx.Done():
					return ctx.Err()
				}
				partial = ""
			}
			if fi, err := os.Stat(path); err == nil && fi.Size() < offset {
				log.Printf("log-shipper: %s shrank, reading it again from the start", path)
				f.Close()
				f = nil
				continue
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// shipper holds one connection to the collector.
type shipper struct {
	addr string
	conn net.Conn
	sent int
}

// send writes line to the collector, (re)connecting as often as needed with
// a back-off from 100ms to 5s. It returns an error only when ctx ends.
func (s *shipper) send(ctx context.Context, line string) error {
	backoff := 100 * time.Millisecond
	for {
		if s.conn == nil {
			conn, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", s.addr)
			if err == nil {
				log.Printf("log-shipper: connected to %s", s.addr)
				s.conn = conn
			} else {
				log.Printf("log-shipper: cannot reach %s (%v), retrying in %s", s.addr, err, backoff)
			}
		}
		if s.conn != nil {
			_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err := io.WriteString(s.conn, line+"\n")
			if err == nil {
				s.sent++
				log.Printf("log-shipper: shipped line %d: %s", s.sent, line)
				return nil
			}
			log.Printf("log-shipper: lost %s (%v), reconnecting", s.addr, err)
			s.close()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *shipper) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
