package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseCRILine(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	stamp := ts.Format(time.RFC3339Nano)
	tests := []struct {
		line        string
		ok          bool
		stream      string
		partial     bool
		text        string
		wantTimeSet bool
	}{
		{stamp + " stdout F hello world", true, "stdout", false, "hello world", true},
		{stamp + " stderr P part of a long", true, "stderr", true, "part of a long", true},
		{stamp + " stdout F ", true, "stdout", false, "", true},
		{stamp + " stdout F  leading and trailing spaces ", true, "stdout", false, " leading and trailing spaces ", true},
		{"2024-05-06T07:08:09+02:00 stdout F zone", true, "stdout", false, "zone", true},
		{stamp + " stdout F", false, "", false, "", false},
		{stamp + " stdout", false, "", false, "", false},
		{"not-a-time stdout F text", false, "", false, "", false},
		{"", false, "", false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, stream, partial, text, ok := parseCRILine(tc.line)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if stream != tc.stream || partial != tc.partial || text != tc.text {
				t.Errorf("= %q partial %v %q, want %q partial %v %q", stream, partial, text, tc.stream, tc.partial, tc.text)
			}
			if tc.wantTimeSet && got.IsZero() {
				t.Errorf("time is zero")
			}
		})
	}
	if got, _, _, _, _ := parseCRILine(stamp + " stdout F x"); !got.Equal(ts) {
		t.Errorf("time = %v, want %v", got, ts)
	}
}

type criRecord struct {
	stream  string
	partial bool
	text    string
}

// criLines parses what a criWriter wrote, failing on any malformed line.
func criLines(t *testing.T, out string) []criRecord {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("log does not end with a newline: %q", out)
	}
	var recs []criRecord
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		ts, stream, partial, text, ok := parseCRILine(l)
		if !ok {
			t.Fatalf("malformed CRI line %q", l)
		}
		if time.Since(ts) > time.Hour || ts.Location() != time.UTC {
			t.Errorf("line %q has time %v, want now in UTC", l, ts)
		}
		recs = append(recs, criRecord{stream, partial, text})
	}
	return recs
}

func TestCRIWriter(t *testing.T) {
	long := strings.Repeat("a", maxLogLine) + strings.Repeat("b", maxLogLine) + "tail"
	tests := []struct {
		name string
		in   string
		want []criRecord
	}{
		{"empty", "", nil},
		{"lines", "one\ntwo\n", []criRecord{{"stdout", false, "one"}, {"stdout", false, "two"}}},
		{"empty line kept", "a\n\nb\n", []criRecord{{"stdout", false, "a"}, {"stdout", false, ""}, {"stdout", false, "b"}}},
		// containerd's CRI logger writes what is left at the end of the
		// stream as a partial line: no newline is invented.
		{"last line without newline", "a\nb", []criRecord{{"stdout", false, "a"}, {"stdout", true, "b"}}},
		{"only a partial line", "no-newline-at-end", []criRecord{{"stdout", true, "no-newline-at-end"}}},
		{"line longer than 16 KiB: P parts then F", long + "\nnext\n", []criRecord{
			{"stdout", true, strings.Repeat("a", maxLogLine)},
			{"stdout", true, strings.Repeat("b", maxLogLine)},
			{"stdout", false, "tail"},
			{"stdout", false, "next"},
		}},
		{"line of exactly 16 KiB", strings.Repeat("c", maxLogLine) + "\n", []criRecord{
			{"stdout", false, strings.Repeat("c", maxLogLine)},
		}},
		{"line of 16 KiB + 1", strings.Repeat("d", maxLogLine+1) + "\n", []criRecord{
			{"stdout", true, strings.Repeat("d", maxLogLine)},
			{"stdout", false, "d"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := &criWriter{w: &out}
			w.copy(strings.NewReader(tc.in), "stdout")
			got := criLines(t, out.String())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %d records, want %d:\n got %.300s\nwant %.300s", len(got), len(tc.want), fmt.Sprint(got), fmt.Sprint(tc.want))
			}
			// The P parts and the F end put back together are the input.
			var joined strings.Builder
			for _, r := range got {
				joined.WriteString(r.text)
				if !r.partial {
					joined.WriteByte('\n')
				}
			}
			if joined.String() != tc.in {
				t.Errorf("joining the records does not give back the input")
			}
		})
	}
}

// stdout and stderr are copied concurrently into one file; every line keeps
// its stream and no line is torn.
func TestCRIWriterStreams(t *testing.T) {
	var outText, errText strings.Builder
	for i := range 200 {
		outText.WriteString("out " + strings.Repeat("o", i) + "\n")
		errText.WriteString("err " + strings.Repeat("e", i) + "\n")
	}
	var buf bytes.Buffer
	w := &criWriter{w: &buf}
	var wg sync.WaitGroup
	for _, s := range []struct{ in, stream string }{{outText.String(), "stdout"}, {errText.String(), "stderr"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.copy(strings.NewReader(s.in), s.stream)
		}()
	}
	wg.Wait()

	var gotOut, gotErr strings.Builder
	for _, r := range criLines(t, buf.String()) {
		if r.partial {
			t.Errorf("unexpected partial record %q", r.text)
		}
		switch r.stream {
		case "stdout":
			if !strings.HasPrefix(r.text, "out ") {
				t.Errorf("stdout record %q", r.text)
			}
			gotOut.WriteString(r.text + "\n")
		case "stderr":
			if !strings.HasPrefix(r.text, "err ") {
				t.Errorf("stderr record %q", r.text)
			}
			gotErr.WriteString(r.text + "\n")
		default:
			t.Errorf("record with stream %q", r.stream)
		}
	}
	if gotOut.String() != outText.String() || gotErr.String() != errText.String() {
		t.Errorf("streams were not kept apart in order")
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	five := write("five", "1\n2\n3\n4\n5\n")
	noEOL := write("noeol", "1\n2\n3")
	empty := write("empty", "")
	big := write("big", strings.Repeat("x", 200*1024)+"\nlast\n")
	tests := []struct {
		name string
		path string
		n    int
		want []string
	}{
		{"last two", five, 2, []string{"4", "5"}},
		{"zero", five, 0, nil},
		{"more than there are", five, 10, []string{"1", "2", "3", "4", "5"}},
		{"exactly all", five, 5, []string{"1", "2", "3", "4", "5"}},
		{"last line without newline", noEOL, 1, []string{"3"}},
		{"empty file", empty, 3, nil},
		{"a line longer than the first buffer", big, 1, []string{"last"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := tail(f, tc.n)
			if err != nil {
				t.Fatalf("tail: %v", err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("tail(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

// A partial line reaches the log while its stream is still open: the shim
// ends a container's streams only when its task is deleted, which can be
// long after the container exited.
func TestCRIWriterFlushesPartialLine(t *testing.T) {
	pr, pw := io.Pipe()
	var mu sync.Mutex
	var out bytes.Buffer
	w := &criWriter{w: writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(b)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.copy(pr, "stdout")
	}()
	defer func() {
		pw.Close()
		<-done
	}()
	if _, err := pw.Write([]byte("line1\nno-newline-at-end")); err != nil {
		t.Fatal(err)
	}
	want := []criRecord{{"stdout", false, "line1"}, {"stdout", true, "no-newline-at-end"}}
	var got []criRecord
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got = criLines(t, out.String())
		mu.Unlock()
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the stream still open, the log holds %v, want %v", got, want)
		}
	}
	// The rest of the line comes later: an F record ends it.
	if _, err := pw.Write([]byte(" and more\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	<-done
	want = append(want, criRecord{"stdout", false, " and more"})
	if got := criLines(t, out.String()); !reflect.DeepEqual(got, want) {
		t.Fatalf("log holds %v, want %v", got, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestParseLogDriverArgs(t *testing.T) {
	tests := []struct {
		args    []string
		path    string
		rot     LogRotation
		wantErr bool
	}{
		{[]string{"log-driver", "/l/0.log"}, "/l/0.log", LogRotation{MaxFiles: 2}, false},
		{[]string{"--max-files", "5", "log-driver", "/l/0.log", "--max-size", "1024"}, "/l/0.log", LogRotation{1024, 5}, false},
		{[]string{"--max-size", "1024", "--max-files", "3", "log-driver", "/l/0.log"}, "/l/0.log", LogRotation{1024, 3}, false},
		{[]string{"log-driver"}, "", LogRotation{}, true},
		{[]string{"log-driver", "relative.log"}, "", LogRotation{}, true},
		{[]string{"log-driver", "/l/0.log", "--max-size", "ten"}, "", LogRotation{}, true},
		{[]string{"log-driver", "/l/0.log", "--other", "1"}, "", LogRotation{}, true},
	}
	for _, tc := range tests {
		path, rot, err := ParseLogDriverArgs(tc.args)
		if (err != nil) != tc.wantErr || path != tc.path || rot != tc.rot {
			t.Errorf("ParseLogDriverArgs(%q) = %q, %+v, %v; want %q, %+v, error %v", tc.args, path, rot, err, tc.path, tc.rot, tc.wantErr)
		}
	}
	// What the runtime passes reads back the same.
	var args []string
	for k, v := range logDriverArgs("/l/3.log", LogRotation{4096, 4}) {
		args = append(args, k, v)
	}
	if path, rot, err := ParseLogDriverArgs(args); err != nil || path != "/l/3.log" || rot != (LogRotation{4096, 4}) {
		t.Errorf("round trip of %q: %q %+v %v", args, path, rot, err)
	}
}

// The log is rotated before a write would take it past MaxSize; MaxFiles
// files are kept, the current one included, and none exceeds the size.
func TestLogFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	lf, err := openLogFile(path, LogRotation{MaxSize: 1000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	w := &criWriter{w: lf}
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "line %03d %s\n", i, strings.Repeat("x", 40))
	}
	w.copy(strings.NewReader(in.String()), "stdout")
	lf.Close()
	rotated := rotatedLogs(path)
	if len(rotated) != 2 {
		t.Fatalf("%d rotated files, want 2 (MaxFiles 3 with the current one): %v", len(rotated), rotated)
	}
	var all strings.Builder
	for _, p := range append(rotated, path) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 {
			t.Errorf("%s has %d bytes, more than the 1000 of MaxSize", p, len(b))
		}
		for _, r := range criLines(t, string(b)) {
			all.WriteString(r.text + "\n")
		}
	}
	// The files kept are the end of the output, in order, with no gap.
	if got := all.String(); !strings.HasSuffix(in.String(), got) || !strings.HasSuffix(got, "line 199 "+strings.Repeat("x", 40)+"\n") {
		t.Errorf("the kept files do not hold the end of the output in order:\n%s", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the log directory, want 3", len(entries))
	}
}
