package shipping

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"
)

// Shipper delivers lines to the collector at Addr (HOST:PORT) over one TCP
// connection, one line at a time, and counts a line as shipped only once
// the collector has answered "ok" for it:
//
//	shipper -> collector:  10.77.0.1 - - [...] "GET /hello HTTP/1.1" 200 27
//	collector -> shipper:  ok
//
// Why the answer: writing to a connection whose peer has gone away still
// succeeds, into the kernel's send buffer (the socket is in CLOSE_WAIT
// once the peer has closed its end), so a sender that only writes never
// learns that its lines went nowhere. Only reading tells: end of file (the
// peer closed) or a reset. A line without its "ok" is therefore sent again
// on a new connection, to whatever address the name resolves to by then:
// a collector pod that comes back has a new IP. Every line reaches the
// collector once; the one duplicate this scheme cannot rule out is a line
// the collector stored whose "ok" was then lost on the way back.
type Shipper struct {
	Name    string // prefixes the log messages, e.g. "log-shipper"
	Addr    string
	Shipped int // lines the collector acknowledged

	conn net.Conn
	acks *bufio.Reader
}

// Send delivers line, connecting again as often as needed, with a back-off
// from 100ms to 5s. It returns an error only when ctx ends; the line was
// then not delivered.
func (s *Shipper) Send(ctx context.Context, line string) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.deliver(ctx, line)
		if err == nil {
			s.Shipped++
			log.Printf("%s: shipped line %d: %s", s.Name, s.Shipped, line)
			return nil
		}
		s.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Printf("%s: line %d not delivered: %v; trying again in %s", s.Name, s.Shipped+1, err, backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// deliver writes line on the connection, dialling one if there is none,
// and waits for the collector's "ok".
func (s *Shipper) deliver(ctx context.Context, line string) error {
	if s.conn == nil {
		conn, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return err
		}
		s.conn, s.acks = conn, bufio.NewReader(conn)
		log.Printf("%s: connected to %s (%s)", s.Name, s.Addr, conn.RemoteAddr())
	}
	_ = s.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(s.conn, line+"\n"); err != nil {
		return err
	}
	ack, err := s.acks.ReadString('\n')
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the collector at %s closed the connection before acknowledging it", s.conn.RemoteAddr())
	}
	if err != nil {
		return err
	}
	if ack != "ok\n" {
		return fmt.Errorf("the collector answered %q instead of ok", ack)
	}
	return nil
}

// Check is for the time between lines. It closes the connection when the
// collector has closed its end (it stopped), or when the name in Addr no
// longer resolves to the address connected to (the collector was
// replaced), so that the next line goes out on a fresh connection.
func (s *Shipper) Check(ctx context.Context) {
	if s.conn == nil {
		return
	}
	// Nothing to read within a millisecond: the connection is open and idle.
	_ = s.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := s.acks.Peek(1)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
	case err != nil:
		log.Printf("%s: the collector at %s closed the connection (%v); the next line goes to a new one", s.Name, s.conn.RemoteAddr(), err)
		s.Close()
		return
	default:
		log.Printf("%s: the collector at %s sent something unasked; dropping the connection", s.Name, s.conn.RemoteAddr())
		s.Close()
		return
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return
	}
	remote := s.conn.RemoteAddr().(*net.TCPAddr).IP
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		log.Printf("%s: %s no longer resolves (%v); leaving %s", s.Name, host, err, remote)
		s.Close()
		return
	}
	for _, a := range addrs {
		if remote.Equal(net.ParseIP(a)) {
			return
		}
	}
	log.Printf("%s: %s now resolves to %v, no longer to %s; the next line goes to a new connection", s.Name, host, addrs, remote)
	s.Close()
}

// Close drops the connection, if any.
func (s *Shipper) Close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.acks = nil, nil
	}
}
