package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/api/execstream"
)

// Exec runs a command in a container of a pod, streaming stdio (see package
// execstream for the protocol), and returns the command's exit code. When
// stdio.Stdin is set (and opts.Stdin), it is copied to the command until it
// ends; ctx ending cancels the command.
func (c *Client) Exec(ctx context.Context, namespace, name string, opts api.ExecOptions, stdio api.ExecIO) (int, error) {
	q := url.Values{"command": opts.Command}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	if opts.Stdin {
		q.Set("stdin", "true")
	}
	if opts.TTY {
		q.Set("tty", "true")
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPost,
		path:   objPath(namespace, "pods", name) + "/exec",
		query:  q,
		header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {execstream.Protocol}},
	})
	if err != nil {
		return -1, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return -1, fmt.Errorf("failed to exec in pod %q: the daemon answered %s instead of switching to %s", name, resp.Status, execstream.Protocol)
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return -1, fmt.Errorf("failed to exec in pod %q: the upgraded connection is not writable", name)
	}
	defer conn.Close()
	// Closing the connection when ctx ends unblocks the frame reader.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	fw := execstream.NewWriter(conn)
	if opts.Stdin && stdio.Stdin != nil {
		go func() {
			// A failed write means the connection is gone; the reader sees it.
			if _, err := io.Copy(fw.StreamWriter(execstream.Stdin), stdio.Stdin); err == nil {
				fw.WriteFrame(execstream.StdinClose, nil)
			}
		}()
	} else if opts.Stdin {
		fw.WriteFrame(execstream.StdinClose, nil)
	}

	if stdio.Resize != nil {
		go func() {
			for sz := range stdio.Resize {
				data, _ := json.Marshal(sz)
				if fw.WriteFrame(execstream.Resize, data) != nil {
					return
				}
			}
		}()
	}

	stdout, stderr := stdio.Stdout, stdio.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	r := bufio.NewReader(conn)
	for {
		stream, payload, err := execstream.ReadFrame(r)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return -1, fmt.Errorf("failed to exec in pod %q: the connection ended before the exit code: %w", name, err)
		}
		switch stream {
		case execstream.Stdout:
			if _, err := stdout.Write(payload); err != nil {
				return -1, fmt.Errorf("failed to write the output of exec in pod %q: %w", name, err)
			}
		case execstream.Stderr:
			if _, err := stderr.Write(payload); err != nil {
				return -1, fmt.Errorf("failed to write the output of exec in pod %q: %w", name, err)
			}
		case execstream.Exit:
			code, err := strconv.Atoi(string(payload))
			if err != nil {
				return -1, fmt.Errorf("failed to exec in pod %q: bad exit code %q", name, payload)
			}
			return code, nil
		case execstream.Error:
			var st metav1.Status
			if err := json.Unmarshal(payload, &st); err != nil {
				return -1, fmt.Errorf("failed to exec in pod %q: %s", name, payload)
			}
			return -1, &StatusError{Status: st}
		}
	}
}
