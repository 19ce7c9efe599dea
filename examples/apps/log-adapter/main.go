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
// so the collector only ever receives the common format. Delivery is the
// log-shipper's: a line counts as sent once the collector acknowledged it,
// and is sent again until it is (see ../internal/shipping).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minipod/minipod/examples/apps/internal/shipping"
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
		if err := shipping.Follow(ctx, "log-adapter", *file, lines); err != nil && ctx.Err() == nil {
			log.Fatalf("log-adapter: %v", err)
		}
	}()
	log.Printf("log-adapter: following %s (%s format), shipping JSON to %s as source %q", *file, *format, *to, *source)
	s := &shipping.Shipper{Name: "log-adapter", Addr: *to}
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			log.Printf("log-adapter: stopped after shipping %d lines", s.Shipped)
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
			_ = s.Send(ctx, string(b)) // fails only when stopping, handled above
		case <-idle.C:
			s.Check(ctx) // has the collector gone or moved?
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
