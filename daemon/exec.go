package daemon

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/api/execstream"
)

// podExec runs a command in a container over the exec protocol described in
// package execstream: after an HTTP Upgrade to execstream.Protocol, frames
// [stream id][4 byte length][payload] carry stdin (0), stdout (1), stderr
// (2), the exit code (3), the end of stdin (4) and an error Status (5).
func (s *server) podExec(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	q := r.URL.Query()
	opts := api.ExecOptions{Container: q.Get("container"), Command: q["command"]}
	var st *metav1.Status
	if opts.Stdin, st = queryBool(r, "stdin"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.TTY, st = queryBool(r, "tty"); st != nil {
		writeStatus(w, st)
		return
	}
	if len(opts.Command) == 0 {
		writeStatus(w, badRequest("query parameter command is required: the command to run"))
		return
	}
	if r.Header.Get("Upgrade") != execstream.Protocol {
		writeStatus(w, badRequest("exec needs a connection upgraded to "+execstream.Protocol+" (send Connection: Upgrade and Upgrade: "+execstream.Protocol+")"))
		return
	}
	// Answer a missing pod with a plain 404 before the upgrade.
	if _, err := s.b.GetPod(r.Context(), ns, name); err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}

	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, err)
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + execstream.Protocol + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return
	}

	ctx, cancel := s.streamContext(r)
	defer cancel()
	fw := execstream.NewWriter(conn)
	stdio := api.ExecIO{
		Stdout: fw.StreamWriter(execstream.Stdout),
		Stderr: fw.StreamWriter(execstream.Stderr),
	}
	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if opts.Stdin {
		stdinR, stdinW = io.Pipe()
		stdio.Stdin = stdinR
		defer stdinR.Close()
	}
	resize := make(chan api.TermSize, 4)
	stdio.Resize = resize
	// Read the client's frames: stdin, the end of stdin, a terminal size, or
	// the end of the connection, which cancels the command.
	go func() {
		for {
			stream, payload, err := execstream.ReadFrame(brw.Reader)
			if err != nil {
				if stdinW != nil {
					stdinW.CloseWithError(io.ErrUnexpectedEOF)
				}
				cancel()
				return
			}
			if stream == execstream.Resize {
				var sz api.TermSize
				if json.Unmarshal(payload, &sz) == nil {
					select {
					case resize <- sz:
					default:
					}
				}
				continue
			}
			if stdinW == nil {
				continue
			}
			switch stream {
			case execstream.Stdin:
				if _, err := stdinW.Write(payload); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					stdinW.CloseWithError(err)
				}
			case execstream.StdinClose:
				stdinW.Close()
			}
		}
	}()

	code, err := s.b.Exec(ctx, ns, name, opts, stdio)
	if err != nil {
		data, _ := json.Marshal(Status(err))
		fw.WriteFrame(execstream.Error, data)
		return
	}
	fw.WriteFrame(execstream.Exit, []byte(strconv.Itoa(code)))
}
