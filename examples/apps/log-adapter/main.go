// Command log-adapter is the adapter of the adapter pattern: it follows the
// log file of the application in its pod (on a shared volume), converts
// each line from the application's own format to the one JSON format the
// central collector expects, and forwards it there over TCP.
//
//	log-adapter --file /var/log/app/access.log --format common|kv --source NAME --to log-collector:9000
//
// Every line it sends is one JSON object with the same keys in the same
// order, whatever the application wrote:
//
//	{"time":"2006-01-02T15:04:05Z","client":"10.77.0.1","method":"GET","path":"/x","status":200,"bytes":27,"source":"NAME"}
//
// Lines it cannot parse are reported on its own stderr and not forwarded,
// so the collector only ever receives the common format.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// record is the common format. The field order is the JSON key order.
type record struct {
	Time   string `json:"time"`
	Client string `json:"client"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Bytes  int    `json:"bytes"`
	Source string `json:"source"`
}

func main() {
	file := flag.String("file", "/var/log/app/access.log", "log file to follow (waited for until it exists)")
	format := flag.String("format", "common", "the application's format: common (Apache common log) or kv (key=value)")
	source := flag.String("source", "", "value of the source key, naming the application (default: the pod's hostname)")
	to := flag.String("to", "log-collector:9000", "collector address, HOST:PORT")
	flag.Parse()
	parse, ok := parsers[*format]
	if !ok {
		log.Fatalf("log-adapter: unknown --format %q: want common or kv", *format)
	}
	if *source == "" {
		*source, _ = os.Hostname()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	lines := make(chan string)
	go func() {
		if err := follow(ctx, *file, lines); err != nil && ctx.Err() == nil {
			log.Fatalf("log-adapter: %v", err)
		}
	}()
	log.Printf("log-adapter: following %s (%s format), shipping JSON to %s as source %q", *file, *format, *to, *source)
	s := &shipper{addr: *to}
	for {
		select {
		case <-ctx.Done():
			s.close()
			log.Printf("log-adapter: stopped after shipping %d lines", s.sent)
			return
		case line := <-lines:
			rec, err := parse(line)
			if err != nil {
				log.Printf("log-adapter: skipping a line: %v", err)
				continue
			}
			rec.Source = *source
			b, err := json.Marshal(rec)
			if err != nil {
				log.Printf("log-adapter: skipping a line: %v", err)
				continue
			}
			_ = s.send(ctx, string(b)) // fails only when stopping, handled above
		}
	}
}

var parsers = map[string]func(string) (record, error){
	"common": parseCommon,
	"kv":     parseKV,
}

// commonLog matches the Apache common log format:
// host ident authuser [date] "method path proto" status bytes
var commonLog = regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+|-)$`)

func parseCommon(line string) (record, error) {
	m := commonLog.FindStringSubmatch(line)
	if m == nil {
		return record{}, fmt.Errorf("not in common log format: %q", line)
	}
	t, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
	if err != nil {
		return record{}, fmt.Errorf("bad time in %q: %w", line, err)
	}
	status, _ := strconv.Atoi(m[5])
	bytes, _ := strconv.Atoi(m[6]) // "-" means no body: 0
	return record{Time: t.UTC().Format(time.RFC3339), Client: m[1], Method: m[3], Path: m[4], Status: status, Bytes: bytes}, nil
}

// parseKV reads space separated key=value pairs; all six keys are required.
func parseKV(line string) (record, error) {
	kv := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return record{}, fmt.Errorf("not key=value: %q in %q", f, line)
		}
		kv[k] = v
	}
	for _, k := range []string{"time", "client", "method", "path", "status", "bytes"} {
		if kv[k] == "" {
			return record{}, fmt.Errorf("no %s= in %q", k, line)
		}
	}
	t, err := time.Parse(time.RFC3339, kv["time"])
	if err != nil {
		return record{}, fmt.Errorf("bad time in %q: %w", line, err)
	}
	status, err := strconv.Atoi(kv["status"])
	if err != nil {
		return record{}, fmt.Errorf("bad status in %q", line)
	}
	bytes, err := strconv.Atoi(kv["bytes"])
	if err != nil {
		return record{}, fmt.Errorf("bad bytes in %q", line)
	}
	return record{Time: t.UTC().Format(time.RFC3339), Client: kv["client"], Method: kv["method"], Path: kv["path"], Status: status, Bytes: bytes}, nil
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
				log.Printf("log-adapter: %s shrank, reading it again from the start", path)
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
				log.Printf("log-adapter: connected to %s", s.addr)
				s.conn = conn
			} else {
				log.Printf("log-adapter: cannot reach %s (%v), retrying in %s", s.addr, err, backoff)
			}
		}
		if s.conn != nil {
			_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err := io.WriteString(s.conn, line+"\n")
			if err == nil {
				s.sent++
				log.Printf("log-adapter: sent line %d: %s", s.sent, line)
				return nil
			}
			log.Printf("log-adapter: lost %s (%v), reconnecting", s.addr, err)
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
