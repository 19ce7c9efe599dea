package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Source names where an object came from: a file (or "-" for standard
// input) and the 1-based number of the YAML document in it. Doc 0 means the
// object did not come from a numbered document (a whole file, or one object
// sent to the daemon's API).
type Source struct {
	File string
	Doc  int
}

// String renders the source as it begins every message:
// `pod.yaml: document 2`, `<stdin>: document 1`, `pod.yaml`.
func (s Source) String() string {
	file := s.File
	if file == "-" {
		file = "<stdin>"
	}
	switch {
	case file == "" && s.Doc == 0:
		return ""
	case s.Doc == 0:
		return file
	case file == "":
		return fmt.Sprintf("document %d", s.Doc)
	}
	return fmt.Sprintf("%s: document %d", file, s.Doc)
}

// Error is one problem with one manifest: where it is (file, document,
// object, field path) and what is wrong.
//
//	pod.yaml: document 2 (Pod "web"): spec.containers[0]: unknown field "imagePullPolice"
type Error struct {
	Source  Source
	Kind    string // object kind, "" when not known yet
	Name    string // object name, "" when not known
	Field   string // field path inside the object, "" for the object itself
	Message string
}

func (e *Error) Error() string {
	return location(e.Source, e.Kind, e.Name, e.Field) + e.Message
}

// location renders everything before the message, ending in ": ".
func location(src Source, kind, name, field string) string {
	var b strings.Builder
	b.WriteString(src.String())
	if kind != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		if !plain(kind) {
			kind = strconv.Quote(kind)
		}
		if name != "" {
			fmt.Fprintf(&b, "(%s %q)", kind, name)
		} else {
			fmt.Fprintf(&b, "(%s)", kind)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if field != "" {
		b.WriteString(field)
		b.WriteString(": ")
	}
	return b.String()
}

// plain reports whether s can be printed as is inside a message: no
// spaces, brackets, quotes or characters that are not printable.
func plain(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(`[]"'`, r)
	})
}

// keyPath is the path of a map entry: metadata.labels[app], or with the key
// quoted when it holds spaces, brackets or unprintable characters.
func keyPath(path, key string) string {
	if !plain(key) {
		key = strconv.Quote(key)
	}
	return path + "[" + key + "]"
}

// ErrorList is several problems found at once. Error() has one complete
// line per problem; errors.As finds each *Error in it.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see every problem.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// joinErrors returns nil, the single *Error, or an ErrorList.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return ErrorList(errs)
}

// fieldProblem is a problem found inside one object, before it is placed
// in its file and document.
type fieldProblem struct {
	field   string
	message string
}

// problems collects fieldProblems.
type problems []fieldProblem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fieldProblem{field: field, message: fmt.Sprintf(format, args...)})
}

// object names one object in its document, to place problems.
type object struct {
	src       Source
	kind      string
	name      string
	namespace string // as written, "" for the default
}

func (o object) errors(ps []fieldProblem) []*Error {
	errs := make([]*Error, 0, len(ps))
	for _, p := range ps {
		errs = append(errs, &Error{Source: o.src, Kind: o.kind, Name: o.name, Field: p.field, Message: p.message})
	}
	return errs
}

func (o object) warnings(ps []fieldProblem) []string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, location(o.src, o.kind, o.name, p.field)+p.message)
	}
	return lines
}
