package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/client"
)

// globalOptions are the flags every command has.
type globalOptions struct {
	socket    string
	server    string
	tokenFile string
	namespace string
	verbose   bool
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	socket := os.Getenv("MINIPOD_SOCKET")
	if socket == "" {
		socket = api.DefaultSocket
	}
	cmd.PersistentFlags().StringVar(&g.socket, "socket", socket, "the daemon's unix socket (default from MINIPOD_SOCKET)")
	cmd.PersistentFlags().StringVar(&g.server, "server", os.Getenv("MINIPOD_SERVER"), "talk to the daemon's loopback TCP listener at 127.0.0.1:PORT (minipod daemon --listen-tcp) instead of the socket (default from MINIPOD_SERVER)")
	tokenFile := os.Getenv("MINIPOD_TOKEN_FILE")
	if tokenFile == "" {
		tokenFile = client.DefaultTokenFile
	}
	cmd.PersistentFlags().StringVar(&g.tokenFile, "token-file", tokenFile, "with --server: the daemon's API token, api-token under its --root (default from MINIPOD_TOKEN_FILE)")
	cmd.PersistentFlags().StringVarP(&g.namespace, "namespace", "n", "default", "the namespace of the objects")
	cmd.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "say more about what happens")
}

func (g *globalOptions) client() *client.Client {
	var c *client.Client
	if g.server != "" {
		c = client.NewTCP(g.server, g.tokenFile)
	} else {
		c = client.New(g.socket)
	}
	// The daemon's warnings go to stderr once each, as kubectl prints
	// the API server's.
	seen := map[string]bool{}
	var mu sync.Mutex
	c.OnWarning(func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if !seen[msg] {
			seen[msg] = true
			fmt.Fprintln(os.Stderr, "Warning: "+msg)
		}
	})
	return c
}

// exitError ends minipod with an exit code; its message (if any) has not
// been printed yet.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// silentExit ends minipod with code, having said everything already.
func silentExit(code int) error { return &exitError{code: code} }

// reportError prints err (each of its lines) on w and returns the exit code.
func reportError(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
		err = ee.err
	}
	for _, line := range errorLines(err) {
		fmt.Fprintln(w, line)
	}
	return code
}

// errorLines is how minipod shows an error: an answer of the daemon as
// kubectl shows one ("Error from server (NotFound): pods "web" not found"),
// anything else as "error: ...", one problem per line.
func errorLines(err error) []string {
	msg := strings.TrimRight(err.Error(), "\n")
	prefix := "error: "
	var se *client.StatusError
	if errors.As(err, &se) && se.Error() == msg {
		prefix = fmt.Sprintf("Error from server (%s): ", se.Status.Reason)
	}
	lines := strings.Split(msg, "\n")
	lines[0] = prefix + lines[0]
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" && prefix == "error: " {
			lines[i] = prefix + lines[i]
		}
	}
	return lines
}
