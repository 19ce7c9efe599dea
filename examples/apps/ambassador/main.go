// Command ambassador is the ambassador of the ambassador pattern: it listens
// on a port of localhost in its pod, where the application expects its
// database, and relays every connection to the real database chosen by its
// configuration. The application never learns which one that is.
//
//	DB_TARGET=db-dev:6379 ambassador --listen 127.0.0.1:6379
package main

import (
	"context"
	"flag"
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
	listen := flag.String("listen", "127.0.0.1:6379", "address the application connects to")
	flag.Parse()
	target := os.Getenv("DB_TARGET")
	if target == "" {
		log.Fatal("ambassador: DB_TARGET is not set; set it to the database's HOST:PORT, e.g. db-dev:6379")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("ambassador: %v", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()

	log.Printf("ambassador: relaying %s -> %s", *listen, target)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Print("ambassador: stopped")
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
