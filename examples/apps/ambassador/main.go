// Command ambassador is the ambassador of the ambassador pattern: it listens
// on a port of localhost in its pod, where the application expects its
// database, and relays every connection to the real database chosen by its
// configuration. The application never learns which one that is.
//
//	DB_TARGET=db-dev:6379 ambassador --listen localhost:6379
//
// localhost is two addresses, 127.0.0.1 and ::1, and a client may try
// either first (Go tries ::1 first): the ambassador listens on both.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "localhost:6379", "address the application connects to (localhost: both 127.0.0.1 and ::1)")
	flag.Parse()
	target := os.Getenv("DB_TARGET")
	if target == "" {
		log.Fatal("ambassador: DB_TARGET is not set; set it to the database's HOST:PORT, e.g. db-dev:6379")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	lns, err := listenAll(*listen)
	if err != nil {
		log.Fatalf("ambassador: %v", err)
	}
	var wg sync.WaitGroup
	for _, ln := range lns {
		go func() {
			<-ctx.Done()
			ln.Close()
		}()
		log.Printf("ambassador: relaying %s -> %s", ln.Addr(), target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ctx, ln, target)
		}()
	}
	wg.Wait()
	log.Print("ambassador: stopped")
}

// listenAll listens on addr; for localhost, on each loopback address.
func listenAll(addr string) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "localhost" {
		ln, err := net.Listen("tcp", addr)
		return []net.Listener{ln}, err
	}
	var lns []net.Listener
	for _, ip := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
		if err != nil {
			log.Printf("ambassador: not listening on %s: %v", ip, err) // a host without IPv6
			continue
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("cannot listen on any address of localhost:%s", port)
	}
	return lns, nil
}

// serve relays every connection accepted on ln until ctx ends.
func serve(ctx context.Context, ln net.Listener, target string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Printf("ambassador: accept: %v", err)
			continue
		}
		go relay(ctx, conn, target)
	}
}

// relay copies bytes both ways between the application's connection and a
// new connection to target, until either side hangs up.
func relay(ctx context.Context, client net.Conn, target string) {
	defer client.Close()
	upstream, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", target)
	if err != nil {
		log.Printf("ambassador: %s -> %s: %v", client.RemoteAddr(), target, err)
		return
	}
	defer upstream.Close()
	log.Printf("ambassador: %s -> %s (%s)", client.RemoteAddr(), target, upstream.RemoteAddr())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(upstream, client)
		closeWrite(upstream)
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(client, upstream)
		closeWrite(client)
	}()
	wg.Wait()
}

// closeWrite tells the other side that no more data comes, keeping the
// connection open for its answer.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
