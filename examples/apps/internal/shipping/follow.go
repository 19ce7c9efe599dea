// Package shipping is what the demo's log shipper (sidecar pattern) and
// log adapters (adapter pattern) have in common: following a log file on
// a shared volume, and delivering its lines to the central collector so
// that none is lost or sent twice when the collector goes away and comes
// back.
package shipping

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"
)

// Follow sends every line of path to out, from the start of the file, and
// keeps reading as lines are appended, like `tail -F`. It waits for the
// file to exist. If the file shrinks (it was truncated or replaced) it
// starts again from the top. name prefixes its log messages.
func Follow(ctx context.Context, name, path string, out chan<- string) error {
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
					break // partial holds the start of a line not yet finished
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
				log.Printf("%s: %s shrank, reading it again from the start", name, path)
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
