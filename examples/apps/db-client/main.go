// Command db-client is the application of the ambassador pattern. It always
// talks to its database at localhost:6379 and knows nothing of development,
// test or production: every few seconds it asks for the key "greeting",
// logs the answer, and serves it over HTTP. When the last question got no
// answer it says so, with 503 Service Unavailable, rather than serve an old
// answer: the pod's readiness probe asks the same URL, so the pod is Ready
// exactly when the database answers through the ambassador.
//
//	db-client --db localhost:6379 --key greeting --every 2s --http :8080
//
// Try it: wget -qO- http://<pod IP>:8080/
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
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	dbAddr := flag.String("db", "localhost:6379", "database address")
	key := flag.String("key", "greeting", "key to read")
	every := flag.Duration("every", 2*time.Second, "how often to read it")
	httpAddr := flag.String("http", ":8080", "HTTP address serving the last answer")
	flag.Parse()

	var (
		mu     sync.Mutex
		answer string
		failed = errors.New("no answer yet: starting")
	)
	srv := &http.Server{Addr: *httpAddr, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if failed != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "no answer from the database at %s: %v\n", *dbAddr, failed)
				return
			}
			fmt.Fprintln(w, answer)
		})}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("db-client: %v", err)
		}
	}()
	log.Printf("db-client: reading %q from %s every %s, serving the answer on %s", *key, *dbAddr, *every, *httpAddr)

	answered := false
	for {
		got, err := get(ctx, *dbAddr, *key)
		mu.Lock()
		answer, failed = got, err
		mu.Unlock()
		wait := *every
		switch {
		case err == nil:
			answered = true
			log.Printf("db-client: GET %s -> %s", *key, got)
		case !answered:
			// The containers of a pod start together: the ambassador may
			// not listen yet. Ask again soon.
			wait = 500 * time.Millisecond
			log.Printf("db-client: GET %s: %v (the ambassador may still be starting; asking again in %s)", *key, err, wait)
		default:
			log.Printf("db-client: GET %s: %v (serving 503 until the database answers again)", *key, err)
		}
		select {
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
			log.Print("db-client: stopped")
			return
		case <-time.After(wait):
		}
	}
}

// get asks the database for one key on a fresh connection.
func get(ctx context.Context, addr, key string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "GET %s\n", key); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if errors.Is(err, io.EOF) {
		return "", errors.New("the connection closed without an answer")
	}
	if err != nil {
		return "", err
	}
	reply = strings.TrimRight(reply, "\r\n")
	if v, ok := strings.CutPrefix(reply, "VALUE "); ok {
		return v, nil
	}
	return "", fmt.Errorf("database answered %q", reply)
}
