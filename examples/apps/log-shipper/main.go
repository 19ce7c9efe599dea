// Command log-shipper is the sidecar of the sidecar pattern: it follows a
// log file that the application in the same pod writes to a shared volume,
// and forwards every line, unchanged, over TCP to a central collector.
//
// A line counts as shipped only when the collector has answered "ok" for
// it. While the collector is away the shipper holds the line and tries
// again with back-off, looking the collector's name up anew each time;
// when a collector answers again, it gets every line from the one held
// on, each once. See ../internal/shipping for how.
//
//	log-shipper --file /var/log/webapp/access.log --to log-collector:9000
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/minipod/minipod/examples/apps/internal/shipping"
)

func main() {
	file := flag.String("file", "/var/log/webapp/access.log", "log file to follow (waited for until it exists)")
	to := flag.String("to", "log-collector:9000", "collector address, HOST:PORT")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	lines := make(chan string)
	go func() {
		if err := shipping.Follow(ctx, "log-shipper", *file, lines); err != nil && ctx.Err() == nil {
			log.Fatalf("log-shipper: %v", err)
		}
	}()
	log.Printf("log-shipper: following %s, shipping to %s", *file, *to)
	s := &shipping.Shipper{Name: "log-shipper", Addr: *to}
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			log.Printf("log-shipper: stopped after shipping %d lines", s.Shipped)
			return
		case line := <-lines:
			_ = s.Send(ctx, line) // fails only when stopping, handled above
		case <-idle.C:
			s.Check(ctx) // has the collector gone or moved?
		}
	}
}
