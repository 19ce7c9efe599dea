package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lesson follows an example's README.md as a learner does. Every command
// it runs must be a line of the README's code blocks, word for word; it
// runs in bash from the repository's root, with `minipod` on PATH talking
// to the test's daemon. What the test expects to see must be written in
// the README too: a README that promises something the test does not find
// fails, and so does a test that checks something the README does not say.
type lesson struct {
	t      *testing.T
	e      *env
	path   string
	text   string
	cmds   map[string]bool
	path0  string   // a directory holding only the minipod binary, first on PATH
	assign []string // NAME=value set by the README's earlier commands
}

// commentAt splits a README code line into its command and its comment
// ("    minipod get pods -o wide      # the IPs").
var commentAt = regexp.MustCompile(`\s{2,}#\s`)

func (e *env) lesson(readme string) *lesson {
	e.t.Helper()
	p := filepath.Join(suite.repo, readme)
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	l := &lesson{t: e.t, e: e, path: readme, text: string(b), cmds: map[string]bool{}}
	for _, line := range strings.Split(l.text, "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		cmd := strings.TrimSpace(line)
		if loc := commentAt.FindStringIndex(cmd); loc != nil {
			cmd = strings.TrimSpace(cmd[:loc[0]])
		}
		l.cmds[cmd] = true
	}
	l.path0 = e.t.TempDir()
	if err := os.Symlink(suite.bin, filepath.Join(l.path0, "minipod")); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// says fails unless the README contains each of texts.
func (l *lesson) says(texts ...string) {
	l.t.Helper()
	for _, s := range texts {
		if !strings.Contains(l.text, s) {
			l.t.Fatalf("%s does not say %q, which the test checks", l.path, s)
		}
	}
}

// step is a command the README tells the learner to run; the test does
// the equivalent (building the images is done once for the whole suite).
func (l *lesson) step(cmd string) {
	l.t.Helper()
	if !l.cmds[cmd] {
		l.t.Fatalf("%s has no command %q", l.path, cmd)
	}
}

// sh runs a command of the README and returns its stdout and stderr
// together, and its exit code.
func (l *lesson) sh(cmd string) (string, int) {
	l.t.Helper()
	l.step(cmd)
	name, isAssign := assignment(cmd)
	script := cmd
	if isAssign {
		script = cmd + ` && printf '%s' "$` + name + `"`
	}
	c := exec.Command("bash", "-c", script)
	c.Dir = suite.repo
	c.Env = append(os.Environ(), "MINIPOD_SOCKET="+l.e.socket, "PATH="+l.path0+":"+os.Getenv("PATH"))
	c.Env = append(c.Env, l.assign...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() { done <- c.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = c.Process.Kill()
		<-done
		l.t.Fatalf("%q did not end within 90s", cmd)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("%q: %v", cmd, err)
	}
	if isAssign {
		if code != 0 || out.Len() == 0 {
			l.t.Fatalf("%q set %s to %q (exit %d): %s", cmd, name, out.String(), code, errb.String())
		}
		l.assign = append(l.assign, name+"="+out.String())
		return out.String(), code
	}
	return out.String() + errb.String(), code
}

// assignment tells NAME of a command "NAME=$(...)".
func assignment(cmd string) (string, bool) {
	m := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=\$\(`).FindStringSubmatch(cmd)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ok runs cmd and requires it to succeed.
func (l *lesson) ok(cmd string) string {
	l.t.Helper()
	out, code := l.sh(cmd)
	if code != 0 {
		l.t.Fatalf("%s: %q: exit %d:\n%s", l.path, cmd, code, out)
	}
	return out
}

// see runs cmd and requires its output to hold each of wants, which the
// README must say.
func (l *lesson) see(cmd string, wants ...string) string {
	l.t.Helper()
	l.says(wants...)
	out := l.ok(cmd)
	for _, w := range wants {
		if !strings.Contains(out, w) {
			l.t.Fatalf("%s: %q shows no %q:\n%s", l.path, cmd, w, out)
		}
	}
	return out
}

// seeSoon runs cmd again until its output holds each of wants, for at most
// d: what the README says appears "within a few seconds".
func (l *lesson) seeSoon(d time.Duration, cmd string, wants ...string) string {
	l.t.Helper()
	l.says(wants...)
	var out string
	eventually(l.t, d, fmt.Sprintf("%q to show %q", cmd, wants), func() bool {
		out, _ = l.sh(cmd)
		for _, w := range wants {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	})
	return out
}

// fails runs cmd and requires it to fail with want in its output.
func (l *lesson) fails(cmd, want string) {
	l.t.Helper()
	l.says(want)
	out, code := l.sh(cmd)
	if code == 0 || !strings.Contains(out, want) {
		l.t.Fatalf("%s: %q: exit %d, want a failure saying %q:\n%s", l.path, cmd, code, want, out)
	}
}

// ready runs cmd (a `minipod get pods`) until each named pod's row reads
// READY and STATUS as the README says, e.g. "web 2/2 Running".
func (l *lesson) ready(d time.Duration, cmd string, rows ...string) {
	l.t.Helper()
	l.says(rows...)
	var out string
	eventually(l.t, d, fmt.Sprintf("%q to show %q", cmd, rows), func() bool {
		out, _ = l.sh(cmd)
		for _, r := range rows {
			want := strings.Fields(r)
			found := false
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == want[0] && f[1] == want[1] && f[2] == want[2] {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// TestExampleDiagrams: the boxes drawn in the READMEs are closed and
// aligned: below each ┌ and its ┐, every line down to the └ has a vertical
// line (or a junction) in both columns, and the └ meets a ┘.
func TestExampleDiagrams(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*", "README.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example READMEs: %v", err)
	}
	files = append(files, filepath.Join("..", "README.md"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range misalignedBoxes(string(b)) {
			t.Errorf("%s:%s", f, msg)
		}
	}
}

// misalignedBoxes describes every box of text whose sides do not line up.
func misalignedBoxes(text string) []string {
	const vertical = "│├┤┼┬┴┐┘┌└"
	var lines [][]rune
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, []rune(l))
	}
	at := func(i, c int) rune {
		if c < len(lines[i]) {
			return lines[i][c]
		}
		return ' '
	}
	var bad []string
	for i, l := range lines {
		for c, r := range l {
			if r != '┌' {
				continue
			}
			// Its ┐: the first on the line that no box nested in it claims.
			right, depth := -1, 0
			for k := c + 1; k < len(l) && right < 0; k++ {
				switch l[k] {
				case '┌':
					depth++
				case '┐':
					if depth == 0 {
						right = k
					}
					depth--
				}
			}
			if right < 0 {
				bad = append(bad, fmt.Sprintf("%d: a ┌ without its ┐", i+1))
				continue
			}
			for j := i + 1; ; j++ {
				if j == len(lines) {
					bad = append(bad, fmt.Sprintf("%d: the box never closes", i+1))
					break
				}
				if at(j, c) == '└' {
					if at(j, right) != '┘' {
						bad = append(bad, fmt.Sprintf("%d: the box of line %d ends at column %d with %q, not ┘", j+1, i+1, right, at(j, right)))
					}
					break
				}
				if !strings.ContainsRune(vertical, at(j, c)) || !strings.ContainsRune(vertical, at(j, right)) {
					bad = append(bad, fmt.Sprintf("%d: the box of line %d has %q and %q at its sides (columns %d and %d)", j+1, i+1, at(j, c), at(j, right), c, right))
					break
				}
			}
		}
	}
	return bad
}
