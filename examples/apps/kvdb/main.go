// Command kvdb is the demo database: a tiny key-value server speaking one
// line per request over TCP.
//
//	GET key          -> VALUE <value>  or  NOT_FOUND
//	SET key value    -> OK
//
// It starts with the pairs in $SEED, separated by ";", such as
// SEED="greeting=hello from dev;env=dev". Try it from another container:
//
//	echo "GET greeting" | nc db-dev 6379
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

type db struct {
	mu   sync.Mutex
	data map[string]string
}

func (d *db) handle(line string) string {
	cmd, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch strings.ToUpper(cmd) {
	case "GET":
		key := strings.TrimSpace(rest)
		d.mu.Lock()
		v, ok := d.data[key]
		d.mu.Unlock()
		if !ok {
			return "NOT_FOUND"
		}
		return "VALUE " + v
	case "SET":
		key, value, ok := strings.Cut(strings.TrimSpace(rest), " ")
		if !ok || key == "" {
			return "ERR usage: SET key value"
		}
		d.mu.Lock()
		d.data[key] = value
		d.mu.Unlock()
		return "OK"
	default:
		return "ERR unknown command; use GET key or SET key value"
	}
}

func main() {
	listen := flag.String("listen", ":6379", "TCP address to serve on")
	flag.Parse()

	d := &db{data: map[string]string{}}
	for _, pair := range strings.Split(os.Getenv("SEED"), ";") {
		if k, v, ok := strings.Cut(pair, "="); ok && strings.TrimSpace(k) != "" {
			d.data[strings.TrimSpace(k)] = v
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("kvdb: %v", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()

	log.Printf("kvdb: serving %d keys on %s", len(d.data), *listen)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Print("kvdb: stopped")
				return
			}
			log.Printf("kvdb: accept: %v", err)
			continue
		}
		go serve(conn, d)
	}
}

func serve(conn net.Conn, d *db) {
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		answer := d.handle(sc.Text())
		log.Printf("kvdb: %s: %q -> %q", conn.RemoteAddr(), sc.Text(), answer)
		if _, err := fmt.Fprintln(conn, answer); err != nil {
			return
		}
	}
}
