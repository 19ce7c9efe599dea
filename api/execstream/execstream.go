// Package execstream is the wire protocol of minipod's exec: the frames that
// carry a command's stdin, stdout, stderr and exit code over one connection.
//
// The client sends
//
//	POST /api/v1/namespaces/{ns}/pods/{name}/exec?container=C&command=sh&command=-c&command=...&stdin=true&tty=false
//	Connection: Upgrade
//	Upgrade: minipod-exec.v1
//
// If the pod cannot be found or the request is wrong, the server answers with
// a normal HTTP error (a metav1.Status body). Otherwise it answers
// "101 Switching Protocols" with the same Upgrade header, and from then on both
// sides exchange frames on the raw connection:
//
//	[1 byte stream id][4 byte big-endian payload length][payload]
//
// Streams:
//
//	0 Stdin      client -> server: bytes for the command's stdin
//	1 Stdout     server -> client: the command's stdout (stdout and stderr when tty)
//	2 Stderr     server -> client: the command's stderr
//	3 Exit       server -> client: the exit code as decimal text; the last frame
//	4 StdinClose client -> server: stdin has ended (empty payload)
//	5 Error      server -> client: a JSON metav1.Status; the last frame, sent
//	             instead of Exit when the command could not be run
//	6 Resize     client -> server: the terminal's size, JSON {"width":W,"height":H}
//
// The server closes the connection after the Exit or Error frame. A client
// that goes away ends the command's stdin and cancels the exec.
package execstream

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Protocol is the value of the Upgrade header.
const Protocol = "minipod-exec.v1"

// Stream identifies what a frame carries.
type Stream byte

// The streams of the exec protocol.
const (
	Stdin      Stream = 0
	Stdout     Stream = 1
	Stderr     Stream = 2
	Exit       Stream = 3
	StdinClose Stream = 4
	Error      Stream = 5
	Resize     Stream = 6
)

// MaxPayload bounds one frame's payload; larger writes are split.
const MaxPayload = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, s Stream, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("failed to write exec frame: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	var hdr [5]byte
	hdr[0] = byte(s)
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(append(hdr[:], payload...)); err != nil {
		return fmt.Errorf("failed to write exec frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame. It returns io.EOF when the connection ended
// cleanly between frames.
func ReadFrame(r io.Reader) (Stream, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, fmt.Errorf("failed to read exec frame: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return 0, nil, fmt.Errorf("failed to read exec frame: payload of %d bytes exceeds %d", n, MaxPayload)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("failed to read exec frame: %w", err)
	}
	return Stream(hdr[0]), payload, nil
}

// Writer serialises frames from several goroutines onto one connection.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame writes one frame; concurrent calls do not interleave.
func (fw *Writer) WriteFrame(s Stream, payload []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return WriteFrame(fw.w, s, payload)
}

// StreamWriter returns an io.Writer whose writes become frames of stream s,
// split at MaxPayload.
func (fw *Writer) StreamWriter(s Stream) io.Writer { return streamWriter{fw: fw, s: s} }

type streamWriter struct {
	fw *Writer
	s  Stream
}

func (sw streamWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > MaxPayload {
			chunk = chunk[:MaxPayload]
		}
		if err := sw.fw.WriteFrame(sw.s, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}
