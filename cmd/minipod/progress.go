package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/minipod/minipod/api"
)

// progress draws what minipod is waiting for on stderr. On a terminal it
// keeps one line that it rewrites with \r (a pull's bytes, a spinner); on
// anything else it prints one line per finished step and nothing else.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int // of the line drawn last, to blank it out
	frame int
}

// newProgress returns a progress on w; tty says whether w is a terminal.
func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// draw replaces the current line with s (terminal only).
func (p *progress) draw(s string) {
	pad := ""
	if n := p.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", s, pad)
	p.width = len(s)
}

// clear blanks the current line (terminal only).
func (p *progress) clear() {
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

// Pull shows a pull's progress.
func (p *progress) Pull(ev api.PullProgress) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(pullLine(ev))
}

// pullLine is the line shown for a pull: "pulling busybox: downloading
// 1.2MB/2.2MB (54%)".
func pullLine(ev api.PullProgress) string {
	s := fmt.Sprintf("pulling %s: %s", ev.Ref, ev.Status)
	if ev.Total > 0 {
		s += fmt.Sprintf(" %s/%s (%d%%)", humanSize(ev.Current), humanSize(ev.Total), ev.Current*100/ev.Total)
	} else if ev.Current > 0 {
		s += " " + humanSize(ev.Current)
	}
	return s
}

// Done ends the current step with a line that stays: "pulled busybox".
func (p *progress) Done(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.clear()
	}
	fmt.Fprintln(p.w, line)
}

// spinnerFrames turn while minipod waits.
var spinnerFrames = []string{"|", "/", "-", "\\"}

// Spin shows "<frame> text" and turns the spinner one frame (terminal only).
func (p *progress) Spin(text string) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(spinnerFrames[p.frame%len(spinnerFrames)] + " " + text)
	p.frame++
}

// Clear removes whatever is drawn, before other output.
func (p *progress) Clear() {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}
