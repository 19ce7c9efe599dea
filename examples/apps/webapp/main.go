// Command webapp is the demo web application: it answers every HTTP request
// with a short page and writes one access-log line per request to a file,
// which a sidecar in the same pod reads from a shared volume.
//
//	webapp --listen :8080 --access-log /var/log/webapp/access.log [--format common|kv]
//
// --format common writes the Apache common log format:
//
//	10.77.0.1 - - [02/Jan/2006:15:04:05 +0000] "GET /hello HTTP/1.1" 200 27
//
// --format kv writes key=value pairs:
//
//	time=2006-01-02T15:04:05Z client=10.77.0.1 method=GET path=/hello status=200 bytes=27
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve HTTP on")
	accessLog := flag.String("access-log", "/var/log/webapp/access.log", "file to append access-log lines to")
	format := flag.String("format", "common", "access-log format: common (Apache common log) or kv (key=value)")
	flag.Parse()
	if *format != "common" && *format != "kv" {
		log.Fatalf("webapp: unknown --format %q: want common or kv", *format)
	}

	if err := os.MkdirAll(filepath.Dir(*accessLog), 0o755); err != nil {
		log.Fatalf("webapp: failed to create the log directory: %v", err)
	}
	f, err := os.OpenFile(*accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatalf("webapp: failed to open access log %q: %v", *accessLog, err)
	}
	defer f.Close()

	host, _ := os.Hostname()
	al := &accessLogger{w: f, format: *format}
	page := func(w http.ResponseWriter, r *http.Request) {
		body := fmt.Sprintf("hello from %s, you asked for %s\n", host, r.URL.Path)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		n, _ := fmt.Fprint(w, body)
		al.log(r, http.StatusOK, n)
	}

	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(page), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	log.Printf("webapp: serving on %s, access log (%s format) in %s", *listen, *format, *accessLog)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("webapp: %v", err)
	}
	log.Print("webapp: stopped")
}

// accessLogger writes one line per request; a mutex keeps concurrent
// requests' lines whole.
type accessLogger struct {
	mu     sync.Mutex
	w      *os.File
	format string
}

func (a *accessLogger) log(r *http.Request, status, bytes int) {
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	now := time.Now().UTC()
	var line string
	if a.format == "kv" {
		line = fmt.Sprintf("time=%s client=%s method=%s path=%s status=%d bytes=%d\n",
			now.Format(time.RFC3339), client, r.Method, r.URL.RequestURI(), status, bytes)
	} else {
		line = fmt.Sprintf("%s - - [%s] \"%s %s %s\" %d %d\n",
			client, now.Format("02/Jan/2006:15:04:05 -0700"), r.Method, r.URL.RequestURI(), r.Proto, status, bytes)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.WriteString(line); err != nil {
		log.Printf("webapp: failed to write access log: %v", err)
	}
}
