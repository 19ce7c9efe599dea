// Command log-collector is the central log server of the demos: every line
// received on its TCP port is printed on stdout, appended to a file, and
// kept in memory so that GET /lines on its HTTP port returns them all, in
// the order they arrived. It answers each line with "ok" once the line is
// stored: the shippers count a line as delivered only then, and send it
// again otherwise (see ../internal/shipping).
//
//	log-collector --listen :9000 --http :9001 --file /var/log/collector/all.log
//
// Try it: minipod logs log-collector -f, or wget -qO- http://log-collector:9001/lines
// from another pod.
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
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// store keeps every line received, writing each to stdout and the file.
type store struct {
	mu    sync.Mutex
	lines []string
	file  *os.File
}

func (s *store) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	fmt.Println(line)
	if _, err := fmt.Fprintln(s.file, line); err != nil {
		log.Printf("log-collector: failed to append to %s: %v", s.file.Name(), err)
	}
}

func (s *store) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func main() {
	listen := flag.String("listen", ":9000", "TCP address to receive log lines on")
	httpAddr := flag.String("http", ":9001", "HTTP address serving GET /lines")
	file := flag.String("file", "/var/log/collector/all.log", "file every received line is appended to")
	flag.Parse()

	if err := os.MkdirAll(filepath.Dir(*file), 0o755); err != nil {
		log.Fatalf("log-collector: failed to create the log directory: %v", err)
	}
	f, err := os.OpenFile(*file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatalf("log-collector: failed to open %q: %v", *file, err)
	}
	defer f.Close()
	s := &store{file: f}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("log-collector: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /lines", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, l := range s.all() {
			fmt.Fprintln(w, l)
		}
	})
	srv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		ln.Close()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("log-collector: %v", err)
		}
	}()

	log.Printf("log-collector: receiving lines on %s, serving them on http://%s/lines, appending to %s", *listen, *httpAddr, *file)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Print("log-collector: stopped")
				return
			}
			log.Printf("log-collector: accept: %v", err)
			continue
		}
		go receive(conn, s)
	}
}

// receive reads newline-terminated lines from one sender until it hangs up,
// and acknowledges each, once stored, with "ok".
func receive(conn net.Conn, s *store) {
	defer conn.Close()
	log.Printf("log-collector: %s connected", conn.RemoteAddr())
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			s.add(line)
		}
		if _, err := io.WriteString(conn, "ok\n"); err != nil {
			break
		}
	}
	log.Printf("log-collector: %s disconnected", conn.RemoteAddr())
}
