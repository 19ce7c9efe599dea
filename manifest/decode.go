package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
	goyaml "sigs.k8s.io/yaml/goyaml.v2"
)

// MaxSize is the largest manifest minipod reads: 4 MiB.
const MaxSize = 4 << 20

const supportedKinds = "supported: v1 Pod, v1 ConfigMap, v1 Secret, v1 List"

var kindTypes = map[string]reflect.Type{
	"Pod":       reflect.TypeFor[corev1.Pod](),
	"ConfigMap": reflect.TypeFor[corev1.ConfigMap](),
	"Secret":    reflect.TypeFor[corev1.Secret](),
}

// decoded is one object read from a document, with what was found wrong
// with it so far.
type decoded struct {
	obj      object
	pod      *corev1.Pod
	cm       *corev1.ConfigMap
	secret   *corev1.Secret
	warnings []string
	fatal    []*Error // the object could not be decoded
	errs     []*Error // validation, in the order found
	refused  []*Error // fields minipod does not honour; reported after validation
}

func (d *decoded) ok() bool { return len(d.fatal) == 0 }

// allErrors lists the object's problems in reporting order.
func (d *decoded) allErrors() []*Error {
	errs := append(append([]*Error(nil), d.fatal...), d.errs...)
	return append(errs, d.refused...)
}

// DecodePod reads one Pod (JSON or YAML) as strictly as the API server:
// unknown fields and wrong types are errors; fields minipod does not honour
// are refused, fields that mean nothing on one host give warnings; the
// API server's defaults are applied. apiVersion and kind may be left out.
// References to ConfigMaps and Secrets are not resolved: call ValidatePod.
func DecodePod(src Source, data []byte) (*corev1.Pod, []string, error) {
	d := decodeSingle(src, data, "Pod")
	if err := singleError(&d, func() problems { return validatePod(d.pod, nil) }); err != nil {
		return nil, d.warnings, err
	}
	return d.pod, d.warnings, nil
}

// DecodeConfigMap reads one ConfigMap as DecodePod reads a Pod, and
// validates it.
func DecodeConfigMap(src Source, data []byte) (*corev1.ConfigMap, []string, error) {
	d := decodeSingle(src, data, "ConfigMap")
	if err := singleError(&d, func() problems { return validateConfigMap(d.cm) }); err != nil {
		return nil, d.warnings, err
	}
	return d.cm, d.warnings, nil
}

// DecodeSecret reads one Secret as DecodePod reads a Pod (merging
// stringData into data), and validates it.
func DecodeSecret(src Source, data []byte) (*corev1.Secret, []string, error) {
	d := decodeSingle(src, data, "Secret")
	if err := singleError(&d, func() problems { return validateSecret(d.secret) }); err != nil {
		return nil, d.warnings, err
	}
	return d.secret, d.warnings, nil
}

// singleError finishes a single-object decode. A Pod is validated (without
// references) only when something is refused, so that validation problems
// come first as they do for a file; ConfigMaps and Secrets need nothing
// outside themselves and are always validated.
func singleError(d *decoded, validate func() problems) error {
	if !d.ok() {
		return joinErrors(d.allErrors())
	}
	if d.pod == nil || len(d.refused) > 0 {
		d.errs = append(d.errs, d.obj.errors(validate())...)
	}
	return joinErrors(d.allErrors())
}

func decodeSingle(src Source, data []byte, kind string) decoded {
	fail := func(format string, args ...any) decoded {
		return decoded{obj: object{src: src, kind: kind}, fatal: []*Error{{Source: src, Kind: kind, Message: fmt.Sprintf(format, args...)}}}
	}
	if len(data) > MaxSize {
		return fail("too large: %d bytes, the limit is %d bytes (4 MiB)", len(data), MaxSize)
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	var tree any
	var err error
	if isJSON(data) {
		tree, err = parseJSONTree(data)
		if err != nil {
			return fail("invalid JSON: %v", err)
		}
	} else {
		tree, err = yamlTree(data)
		if err != nil {
			return fail("invalid YAML: %s", oneLine(err.Error()))
		}
	}
	if tree == nil {
		return fail("empty: expected a v1 %s", kind)
	}
	return decodeTree(src, tree, kind, "")
}

var utf8BOM = []byte("\xef\xbb\xbf")

// isJSON reports whether data is JSON rather than YAML: it starts with "{".
func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// yamlTree converts one YAML document to the generic tree (nil for an
// empty document). Keys given twice are errors.
func yamlTree(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	tree, err := parseJSONTree(j)
	if err != nil {
		return nil, err
	}
	// A second, order-keeping read, so problems are reported in the order
	// the document is written.
	var ordered goyaml.MapSlice
	if goyaml.Unmarshal(doc, &ordered) == nil {
		orderLike(tree, ordered)
	}
	return tree, nil
}

// decodeTree decodes one object. wantKind, when not empty, is the only kind
// accepted, and apiVersion and kind may then be left out. prefix places the
// object in its document (items[2] in a List) for problems found before
// the object is known.
func decodeTree(src Source, tree any, wantKind, prefix string) decoded {
	d := decoded{obj: object{src: src}}
	fatal := func(field, format string, args ...any) decoded {
		d.fatal = append(d.fatal, &Error{Source: src, Kind: d.obj.kind, Name: d.obj.name, Field: field, Message: fmt.Sprintf(format, args...)})
		return d
	}
	root, ok := tree.(*jsonObject)
	if !ok {
		return fatal(prefix, "expected an object (a v1 Pod, ConfigMap or Secret), got %s", describe(tree))
	}
	apiVersion, _ := root.get("apiVersion")
	kind, _ := root.get("kind")
	av, avOK := apiVersion.(string)
	k, kOK := kind.(string)
	if apiVersion != nil && !avOK {
		return fatal(joinPath(prefix, "apiVersion"), "expected a string, got %s", describe(apiVersion))
	}
	if kind != nil && !kOK {
		return fatal(joinPath(prefix, "kind"), "expected a string, got %s", describe(kind))
	}
	if meta, ok := root.get("metadata"); ok {
		if m, ok := meta.(*jsonObject); ok {
			d.obj.name = m.getString("name")
			d.obj.namespace = m.getString("namespace")
		}
	}
	if wantKind != "" {
		if k == "" {
			k = wantKind
		}
		if av == "" {
			av = "v1"
		}
		d.obj.kind = k
		if k != wantKind || av != "v1" {
			return fatal(joinPath(prefix, "kind"), "expected apiVersion \"v1\" kind %q, got apiVersion %q kind %q", wantKind, av, k)
		}
	}
	d.obj.kind = k
	switch {
	case k == "":
		return fatal(joinPath(prefix, "kind"), "required value (%s)", supportedKinds)
	case av == "":
		return fatal(joinPath(prefix, "apiVersion"), "required value (%s)", supportedKinds)
	}
	t, known := kindTypes[k]
	switch {
	case av != "v1" && (known || k == "List"):
		return fatal(joinPath(prefix, "apiVersion"), "apiVersion %q kind %q is not supported by minipod (%s)", av, k, supportedKinds)
	case !known:
		return fatal(joinPath(prefix, "kind"), "apiVersion %q kind %q is not supported by minipod (%s)", av, k, supportedKinds)
	}

	w := walker{rules: rulesByKey[k]}
	w.walk(root, t, "", "", true)
	d.fatal = d.obj.errors(w.fatal)
	d.refused = d.obj.errors(w.refused)
	d.warnings = d.obj.warnings(w.warned)
	if !d.ok() {
		return d
	}

	var buf bytes.Buffer
	encodeTree(&buf, root)
	target := reflect.New(t)
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(target.Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fatal(typeErr.Field, "expected %s, got JSON %s", typeErr.Type, typeErr.Value)
		}
		return fatal("", "failed to decode: %v", err)
	}
	switch obj := target.Interface().(type) {
	case *corev1.Pod:
		obj.APIVersion, obj.Kind = "v1", k
		DefaultPod(obj)
		d.pod = obj
	case *corev1.ConfigMap:
		obj.APIVersion, obj.Kind = "v1", k
		defaultConfigMap(obj)
		d.cm = obj
	case *corev1.Secret:
		obj.APIVersion, obj.Kind = "v1", k
		defaultSecret(obj)
		d.secret = obj
	}
	return d
}

// encodeTree writes the tree back as JSON, keys in document order.
func encodeTree(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case *jsonObject:
		buf.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			encodeTree(buf, t.values[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, item := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeTree(buf, item)
		}
		buf.WriteByte(']')
	default:
		b, _ := json.Marshal(t) // string, json.Number, bool or nil
		buf.Write(b)
	}
}

// decodeList decodes the items of a v1 List.
func decodeList(src Source, root *jsonObject) []decoded {
	list := object{src: src, kind: "List"}
	var ps problems
	var items []any
	for _, key := range root.keys {
		v := root.values[key]
		switch key {
		case "apiVersion", "kind":
		case "metadata":
			// kubectl writes `metadata: {resourceVersion: ""}`; accept only empty values.
			m, ok := v.(*jsonObject)
			if v != nil && !ok {
				ps.add("metadata", "expected an object, got %s", describe(v))
				continue
			}
			for _, mk := range m.keysOrNil() {
				if !isEmpty(m.values[mk]) {
					ps.add("metadata."+mk, "not supported by minipod")
				}
			}
		case "items":
			l, ok := v.([]any)
			if v != nil && !ok {
				ps.add("items", "expected a list, got %s", describe(v))
				continue
			}
			items = l
		default:
			ps.add("", "unknown field %q", key)
		}
	}
	out := []decoded{}
	if len(ps) > 0 {
		out = append(out, decoded{obj: list, fatal: list.errors(ps)})
	}
	for i, item := range items {
		prefix := fmt.Sprintf("items[%d]", i)
		if o, ok := item.(*jsonObject); ok && o.getString("kind") == "List" {
			out = append(out, decoded{obj: list, fatal: list.errors(problems{{prefix, "a List may not contain a List"}})})
			continue
		}
		d := decodeTree(src, item, "", prefix)
		if d.obj.kind == "" {
			d.obj.kind = "List"
			for _, e := range d.fatal {
				e.Kind = "List"
			}
		}
		out = append(out, d)
	}
	return out
}

func (o *jsonObject) keysOrNil() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

func isList(tree any) bool {
	o, ok := tree.(*jsonObject)
	return ok && o.getString("kind") == "List" && o.getString("apiVersion") == "v1"
}
