package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// File is everything read from one manifest file: its objects, in the
// order written, defaulted and validated, and the warnings about fields
// that mean nothing on one host.
type File struct {
	Name       string
	Pods       []*corev1.Pod
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
	Warnings   []string // full lines, naming file, document, object and field
}

// Existing are the ConfigMaps and Secrets that exist already outside the
// file (those the daemon holds): a pod of the file may refer to them, as
// on a cluster a pod refers to objects created beforehand. Unasked, when
// not empty, says why they could not be looked up (no daemon answered);
// a reference found nowhere then says so.
type Existing struct {
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
	Unasked    string
	// Unresolved leaves references unresolved (delete -f: what a pod
	// refers to does not matter to deleting it).
	Unresolved bool
}

// ReadFile reads and parses a manifest file; path "-" reads stdin. Files
// larger than MaxSize are refused. A pod may refer only to the file's own
// ConfigMaps and Secrets.
func ReadFile(path string, stdin io.Reader) (*File, error) {
	return ReadFileWith(path, stdin, nil)
}

// ReadFileWith is ReadFile where a pod may also refer to the existing
// objects.
func ReadFileWith(path string, stdin io.Reader, existing *Existing) (*File, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("failed to read manifest from <stdin>: no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("failed to open manifest %q: %w", path, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read manifest %q: %w", Source{File: path}.String(), err)
	}
	if len(data) > MaxSize {
		return nil, tooLarge(path)
	}
	return ParseWith(path, data, existing)
}

func tooLarge(name string) *Error {
	return &Error{Source: Source{File: name}, Message: fmt.Sprintf("too large: more than %d bytes (4 MiB), the limit for a manifest; split it into several files", MaxSize)}
}

// Parse reads a manifest: YAML documents separated by "---", JSON, or a
// v1 List. It decodes every object strictly, refuses what minipod does not
// honour, applies the API server's defaults and validates each object,
// resolving the Pods' ConfigMap and Secret references against the file's
// own objects. It reports every problem at once: the error's Error() has
// one line per problem, and errors.As finds each *Error.
func Parse(name string, data []byte) (*File, error) {
	return ParseWith(name, data, nil)
}

// ParseWith is Parse where the pods' references may also resolve to the
// existing objects; the file's own objects come first.
func ParseWith(name string, data []byte, existing *Existing) (*File, error) {
	if len(data) > MaxSize {
		return nil, tooLarge(name)
	}
	objs := splitAndDecode(name, data)

	// Duplicates, and the references each namespace offers.
	type key struct{ kind, namespace, name string }
	first := map[key]int{}
	refs := map[string]*Refs{}
	nsRefs := func(ns string) *Refs {
		if refs[ns] == nil {
			r := &Refs{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}}
			if existing != nil {
				r.Unasked = existing.Unasked
				for _, cm := range existing.ConfigMaps {
					if namespaceOf(cm.Namespace) == namespaceOf(ns) {
						r.ConfigMaps[cm.Name] = cm
					}
				}
				for _, s := range existing.Secrets {
					if namespaceOf(s.Namespace) == namespaceOf(ns) {
						r.Secrets[s.Name] = s
					}
				}
			}
			refs[ns] = r
		}
		return refs[ns]
	}
	for i := range objs {
		d := &objs[i]
		var ns string
		switch {
		case d.pod != nil:
			ns = d.pod.Namespace
		case d.cm != nil:
			ns = d.cm.Namespace
			nsRefs(ns).ConfigMaps[d.cm.Name] = d.cm
		case d.secret != nil:
			ns = d.secret.Namespace
			nsRefs(ns).Secrets[d.secret.Name] = d.secret
		default:
			// Not decoded: make its name resolve, so that a pod referring
			// to it is not blamed for the object's own problems.
			ns = d.obj.namespace
			if ns == "" {
				ns = defaultNamespace
			}
			if d.obj.name != "" {
				switch d.obj.kind {
				case "ConfigMap":
					nsRefs(ns).ConfigMaps[d.obj.name] = nil
				case "Secret":
					nsRefs(ns).Secrets[d.obj.name] = nil
				}
			}
			continue
		}
		if d.obj.name == "" {
			continue
		}
		k := key{d.obj.kind, ns, d.obj.name}
		if j, dup := first[k]; dup {
			d.errs = append(d.errs, d.obj.errors(problems{{"metadata.name",
				fmt.Sprintf("duplicate value %q: %s", d.obj.name, sameAs(objs[j].obj.src, d.obj.src))}})...)
		} else {
			first[k] = i
		}
	}

	f := &File{Name: name}
	var errs []*Error
	for i := range objs {
		d := &objs[i]
		switch {
		case d.pod != nil:
			refs := nsRefs(d.pod.Namespace)
			if existing != nil && existing.Unresolved {
				refs = nil
			}
			ps := validatePod(d.pod, refs)
			ps = append(ps, refuseValues(d.pod)...)
			d.errs = append(d.errs, d.obj.errors(ps)...)
			f.Pods = append(f.Pods, d.pod)
		case d.cm != nil:
			d.errs = append(d.errs, d.obj.errors(validateConfigMap(d.cm))...)
			f.ConfigMaps = append(f.ConfigMaps, d.cm)
		case d.secret != nil:
			d.errs = append(d.errs, d.obj.errors(validateSecret(d.secret))...)
			f.Secrets = append(f.Secrets, d.secret)
		}
		f.Warnings = append(f.Warnings, d.warnings...)
		errs = append(errs, d.allErrors()...)
	}
	if len(errs) == 0 && len(objs) == 0 {
		errs = append(errs, &Error{Source: Source{File: name}, Message: "no objects found (" + supportedKinds + ")"})
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return f, nil
}

func sameAs(first, dup Source) string {
	if first.Doc == dup.Doc {
		return "the same name is used earlier in this document"
	}
	return fmt.Sprintf("the same name is used in document %d", first.Doc)
}

// unreadable stands for a document that could not be parsed.
func unreadable(src Source, msg string) decoded {
	return decoded{obj: object{src: src}, fatal: []*Error{{Source: src, Message: msg}}}
}

// splitAndDecode splits data into documents and decodes each, in order.
func splitAndDecode(name string, data []byte) []decoded {
	data = bytes.TrimPrefix(data, utf8BOM)
	var objs []decoded
	add := func(src Source, tree any) {
		if tree == nil {
			return // an empty document
		}
		if isList(tree) {
			objs = append(objs, decodeList(src, tree.(*jsonObject))...)
			return
		}
		objs = append(objs, decodeTree(src, tree, "", ""))
	}
	if isJSON(data) {
		dec := newJSONDecoder(data)
		for n := 1; ; n++ {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			src := Source{File: name, Doc: n}
			var tree any
			if err == nil {
				tree, err = readJSONToken(dec, tok, "", 0)
			}
			if err != nil {
				objs = append(objs, unreadable(src, "invalid JSON: "+jsonSyntaxError(data, err).Error()))
				break // cannot find where the next value starts
			}
			add(src, tree)
		}
		return objs
	}
	for _, doc := range splitYAML(data) {
		src := Source{File: name, Doc: doc.num}
		if !doc.content {
			continue // empty: counted, skipped
		}
		tree, err := yamlTree(doc.text)
		if err != nil {
			objs = append(objs, unreadable(src, "invalid YAML: "+oneLine(fileLines(err, doc.firstLine))))
			continue
		}
		add(src, tree)
	}
	return objs
}

// yamlDocument is one document of a YAML stream; its first line is line
// firstLine (0-based) of the file.
type yamlDocument struct {
	num       int
	firstLine int
	text      []byte
	content   bool // more than comments
}

// splitYAML splits a YAML stream into documents and numbers them as YAML
// does: "---" starts a document (even an empty one); text before the
// first "---" or after a "..." end marker is a document only if it has
// more than comments and directives.
func splitYAML(data []byte) []yamlDocument {
	var docs []yamlDocument
	cur := yamlDocument{}
	explicit := false
	start := 0 // offset of the current document's first line
	finish := func(end int) {
		if explicit || cur.content {
			cur.num = len(docs) + 1
			cur.text = data[start:end]
			docs = append(docs, cur)
		}
	}
	line, offset := 0, 0
	for offset < len(data) {
		end := bytes.IndexByte(data[offset:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += offset + 1
		}
		text := data[offset:end]
		switch {
		case marker(text, "---"):
			finish(offset)
			// The document starts after the marker, on the marker's line.
			cur = yamlDocument{firstLine: line}
			start, explicit = offset+3, true
			cur.content = len(bytes.TrimSpace(text[3:])) > 0
		case marker(text, "..."):
			finish(offset)
			cur = yamlDocument{firstLine: line + 1}
			start, explicit = end, false
		default:
			trimmed := bytes.TrimSpace(text)
			if len(trimmed) > 0 && trimmed[0] != '#' && text[0] != '%' {
				cur.content = true
			}
		}
		line++
		offset = end
	}
	finish(len(data))
	return docs
}

// oneLine joins a multi-line parser message into one line.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

var yamlLineRE = regexp.MustCompile(`\bline (\d+)`)

// fileLines turns the YAML parser's line numbers, which count from the
// document's first line, into the file's.
func fileLines(err error, firstLine int) string {
	return yamlLineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, convErr := strconv.Atoi(m[len("line "):])
		if convErr != nil {
			return m
		}
		return "line " + strconv.Itoa(n+firstLine)
	})
}

// marker reports whether line is the document marker m ("---" or "..."),
// alone or followed by white space.
func marker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[len(m):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n'
}

// namespaceOf is a namespace as given, or the default one when empty.
func namespaceOf(ns string) string {
	if ns == "" {
		return defaultNamespace
	}
	return ns
}
