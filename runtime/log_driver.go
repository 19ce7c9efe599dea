package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Container output is kept as the kubelet keeps it: one file per container
// run, each line "<RFC3339Nano time> <stream> <P|F> <text>", where F ends a
// line and P is a part of one: a line longer than maxLogLine is cut into P
// parts, and output that does not end with a newline is written as a P line
// (at the end of the stream, as containerd's CRI logger does, and after
// partialFlushDelay without more output, since the shim ends the stream
// only when the task is deleted).
const (
	maxLogLine        = 16 * 1024
	partialFlushDelay = 100 * time.Millisecond
)

// The kubelet's defaults for containerLogMaxSize and containerLogMaxFiles:
// a run's log is rotated when it would exceed the size, and at most that
// many files (the current one included) are kept.
const (
	DefaultLogMaxSize  = 10 * 1024 * 1024
	DefaultLogMaxFiles = 5
)

// LogRotation bounds a container's log files; a zero MaxSize never rotates.
type LogRotation struct {
	MaxSize  int64
	MaxFiles int
}

// Validate refuses what the kubelet refuses: a size that is not positive,
// fewer than two files.
func (o LogRotation) Validate() error {
	if o.MaxSize <= 0 {
		return fmt.Errorf("container log max size %d: must be greater than 0", o.MaxSize)
	}
	if o.MaxFiles < 2 {
		return fmt.Errorf("container log max files %d: must be at least 2", o.MaxFiles)
	}
	return nil
}

// The arguments of the log driver, as containerd's shim passes them: each
// key of the binary IO URI's query, then its value, in no fixed order.
const (
	logDriverArg   = "log-driver"
	logMaxSizeArg  = "--max-size"
	logMaxFilesArg = "--max-files"
)

// logDriverArgs are the query of the binary IO URI that runs the driver.
func logDriverArgs(path string, rot LogRotation) map[string]string {
	return map[string]string{
		logDriverArg:   path,
		logMaxSizeArg:  strconv.FormatInt(rot.MaxSize, 10),
		logMaxFilesArg: strconv.Itoa(rot.MaxFiles),
	}
}

// ParseLogDriverArgs reads the driver's command line (without the program
// name): the word log-driver, the log's path, and optional "--max-size
// BYTES" and "--max-files N" pairs, in any order (the word may be gone, as
// when the command line was routed to the log-driver command). Without the
// pairs the log is not rotated (a driver started by an older daemon).
func ParseLogDriverArgs(args []string) (string, LogRotation, error) {
	var path string
	var rot LogRotation
	for i := 0; i < len(args); i++ {
		switch k := args[i]; k {
		case logDriverArg:
		case logMaxSizeArg, logMaxFilesArg:
			if i+1 == len(args) {
				return "", rot, fmt.Errorf("log-driver: %s needs a value", k)
			}
			i++
			n, err := strconv.ParseInt(args[i], 10, 64)
			if err != nil || n < 0 {
				return "", rot, fmt.Errorf("log-driver: invalid %s %q", k, args[i])
			}
			if k == logMaxSizeArg {
				rot.MaxSize = n
			} else {
				rot.MaxFiles = int(n)
			}
		default:
			if path != "" || strings.HasPrefix(k, "-") {
				return "", rot, fmt.Errorf("log-driver: unexpected argument %q", k)
			}
			path = k
		}
	}
	if path == "" || !filepath.IsAbs(path) {
		return "", rot, fmt.Errorf("log-driver: want log-driver /ABSOLUTE/PATH, got %q", args)
	}
	if rot.MaxFiles < 2 {
		rot.MaxFiles = 2
	}
	return filepath.Clean(path), rot, nil
}

// RunLogDriver is the program containerd's shim runs for a container's
// output (`minipod log-driver PATH ...`): it reads stdout from fd 3 and
// stderr from fd 4, signals readiness by closing fd 5, and appends
// CRI-format lines to path until both streams end, rotating the file as rot
// says. The shim sends SIGTERM after it has closed the streams; the main
// program ignores it, so what is left is still written.
func RunLogDriver(path string, rot LogRotation) error {
	stdout, stderr, ready := os.NewFile(3, "stdout"), os.NewFile(4, "stderr"), os.NewFile(5, "ready")
	if stdout == nil || stderr == nil || ready == nil {
		return errors.New("log-driver is run by containerd's shim with the container's output on fds 3 and 4")
	}
	lf, err := openLogFile(path, rot)
	if err != nil {
		return err
	}
	defer lf.Close()
	ready.Close()
	w := &criWriter{w: lf}
	var wg sync.WaitGroup
	for _, s := range []struct {
		r    io.Reader
		name string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.copy(s.r, s.name)
		}()
	}
	wg.Wait()
	return nil
}

// criWriter turns streams into CRI log lines on w; the streams share w, a
// line is written whole.
type criWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *criWriter) writeLine(stream, tag string, text []byte) {
	var b bytes.Buffer
	b.Grow(len(text) + 48)
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(" " + stream + " " + tag + " ")
	b.Write(text)
	b.WriteByte('\n')
	_, _ = c.w.Write(b.Bytes())
}

// copy writes what r gives as CRI lines until r ends. A line is written when
// its newline comes; a line longer than maxLogLine in P parts of that size
// as it grows; what is left without a newline as a P line when r ends or
// when no more comes within partialFlushDelay.
func (c *criWriter) copy(r io.Reader, stream string) {
	var (
		pending []byte // the line so far, under c.mu
		gen     int    // counts the reads, so a timer knows it is stale
		timer   *time.Timer
	)
	flush := func() {
		if len(pending) > 0 {
			c.writeLine(stream, "P", pending)
			pending = pending[:0]
		}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		c.mu.Lock()
		gen++
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append(pending, data...)
				data = nil
			} else {
				pending = append(pending, data[:i]...)
				data = data[i+1:]
			}
			for len(pending) > maxLogLine {
				c.writeLine(stream, "P", pending[:maxLogLine])
				pending = append(pending[:0], pending[maxLogLine:]...)
			}
			if i >= 0 {
				c.writeLine(stream, "F", pending)
				pending = pending[:0]
			}
		}
		if err != nil {
			flush()
			if timer != nil {
				timer.Stop()
			}
			c.mu.Unlock()
			return
		}
		if len(pending) > 0 {
			mine := gen
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(partialFlushDelay, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				if gen == mine {
					flush()
				}
			})
		}
		c.mu.Unlock()
	}
}

// logFile is a run's log file, rotated as the kubelet rotates it: when a
// write would take it past MaxSize, it is renamed to PATH.<time> and a new
// PATH begun; of the renamed files, the newest MaxFiles-1 are kept.
type logFile struct {
	path string
	rot  LogRotation
	f    *os.File
	size int64
}

func openLogFile(path string, rot LogRotation) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("failed to open log %q: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to open log %q: %w", path, err)
	}
	return &logFile{path: path, rot: rot, f: f, size: st.Size()}, nil
}

func (l *logFile) Write(b []byte) (int, error) {
	if l.rot.MaxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.rot.MaxSize {
		// A log that cannot be rotated is still written.
		_ = l.rotate()
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	return n, err
}

// rotatedSuffix names a rotated file by the time of its rotation; it sorts
// as the time does.
const rotatedSuffix = "20060102-150405.000000000"

func (l *logFile) rotate() error {
	rotated := l.path + "." + time.Now().UTC().Format(rotatedSuffix)
	if err := os.Rename(l.path, rotated); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		// Go on in the renamed file rather than lose output.
		return err
	}
	l.f.Close()
	l.f, l.size = f, 0
	old := rotatedLogs(l.path)
	for len(old) > l.rot.MaxFiles-1 {
		_ = os.Remove(old[0])
		old = old[1:]
	}
	return nil
}

// rotatedLogs lists the rotated files of the log at path, oldest first.
func rotatedLogs(path string) []string {
	entries, _ := os.ReadDir(filepath.Dir(path))
	prefix := filepath.Base(path) + "."
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && len(e.Name()) == len(prefix)+len(rotatedSuffix) {
			out = append(out, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func (l *logFile) Close() error { return l.f.Close() }
