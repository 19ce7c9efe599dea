package manifest

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// walker compares a document's generic tree with the Go type it will be
// decoded into, field by field, the way the API server's strict field
// validation does, and at the same time with minipod's support table.
type walker struct {
	rules   map[string]FieldRule // the support table for this kind, by pattern
	fatal   problems             // unknown fields and wrong types: the object cannot be decoded
	refused problems             // fields minipod does not honour
	warned  problems             // fields that mean nothing on one host
}

// walk checks value v, found at path, against type t. pattern is path with
// list indices and map keys replaced by "[]", and init containers spelled
// as containers, to look up the support table. With support false only
// unknown fields and types are checked (inside a refused or warned field).
func (w *walker) walk(v any, t reflect.Type, path, pattern string, support bool) {
	if v == nil {
		return // null leaves any field unset
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if w.special(v, t, path) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(*jsonObject)
		if !ok {
			w.fatal.add(path, "expected an object, got %s", describe(v))
			return
		}
		fields := jsonFields(t)
		for _, key := range obj.keys {
			val := obj.values[key]
			ft, known := fields[key]
			if !known {
				w.fatal.add(path, "unknown field %q", key)
				continue
			}
			childPath := joinPath(path, key)
			childPattern := normalizePattern(joinPath(pattern, key))
			if !support {
				w.walk(val, ft, childPath, childPattern, false)
				continue
			}
			rule, found := w.rules[childPattern]
			switch {
			case found && rule.Status == Supported:
				w.walk(val, ft, childPath, childPattern, true)
			case found && rule.Status == NeedsCluster:
				if !asksNothing(childPattern, val) {
					w.refused.add(childPath, "needs a cluster: %s", rule.Note)
				}
				w.walk(val, ft, childPath, childPattern, false)
			case found && rule.Status == Warning:
				if !asksNothing(childPattern, val) {
					w.warned.add(childPath, "ignored by minipod (%s)", rule.Note)
				}
				w.walk(val, ft, childPath, childPattern, false)
			default:
				if !asksNothing(childPattern, val) {
					w.refused.add(childPath, "not supported by minipod")
				}
				w.walk(val, ft, childPath, childPattern, false)
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte: base64 in JSON
			s, ok := v.(string)
			if !ok {
				w.fatal.add(path, "expected a base64 string, got %s", describe(v))
				return
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				w.fatal.add(path, "invalid base64 data: %v", err)
			}
			return
		}
		list, ok := v.([]any)
		if !ok {
			w.fatal.add(path, "expected a list, got %s", describe(v))
			return
		}
		for i, item := range list {
			w.walk(item, t.Elem(), path+"["+strconv.Itoa(i)+"]", pattern+"[]", support)
		}
	case reflect.Map:
		obj, ok := v.(*jsonObject)
		if !ok {
			w.fatal.add(path, "expected an object (a map), got %s", describe(v))
			return
		}
		for _, key := range obj.keys {
			w.walk(obj.values[key], t.Elem(), keyPath(path, key), pattern+"[]", support)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.fatal.add(path, "expected a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.fatal.add(path, "expected a boolean (true or false), got %s", describe(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			w.fatal.add(path, "expected an integer, got %s", describe(v))
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			w.fatal.add(path, "expected an integer that fits in %d bits, got %s", t.Bits(), n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			w.fatal.add(path, "expected an integer, got %s", describe(v))
			return
		}
		if _, err := strconv.ParseUint(n.String(), 10, t.Bits()); err != nil {
			w.fatal.add(path, "expected a non-negative integer that fits in %d bits, got %s", t.Bits(), n)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			w.fatal.add(path, "expected a number, got %s", describe(v))
		}
	}
}

var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
	timeType        = reflect.TypeFor[metav1.Time]()
	microTimeType   = reflect.TypeFor[metav1.MicroTime]()
)

// special checks the types that decode themselves from JSON. It reports
// whether t was one of them.
func (w *walker) special(v any, t reflect.Type, path string) bool {
	switch t {
	case quantityType:
		var s string
		switch q := v.(type) {
		case string:
			s = q
		case json.Number:
			s = q.String()
		default:
			w.fatal.add(path, "expected a quantity such as \"100m\" or \"64Mi\", got %s", describe(v))
			return true
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			w.fatal.add(path, "invalid quantity %q: %v", truncate(s), err)
		}
		return true
	case intOrStringType:
		switch q := v.(type) {
		case string:
		case json.Number:
			if _, err := strconv.ParseInt(q.String(), 10, 32); err != nil {
				w.fatal.add(path, "expected an integer or a string, got %s", describe(v))
			}
		default:
			w.fatal.add(path, "expected an integer or a string, got %s", describe(v))
		}
		return true
	case timeType, microTimeType:
		s, ok := v.(string)
		if !ok {
			w.fatal.add(path, "expected a time (RFC 3339), got %s", describe(v))
			return true
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			w.fatal.add(path, "invalid time %q: expected RFC 3339", truncate(s))
		}
		return true
	}
	return false
}

// normalizePattern spells init containers as containers: both share the
// container rules of the support table.
func normalizePattern(p string) string {
	const init = "spec.initContainers[]"
	if strings.HasPrefix(p, init) {
		return "spec.containers[]" + p[len(init):]
	}
	return p
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of a struct's fields to their types,
// flattening embedded and `json:",inline"` structs as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	collectFields(t, m)
	fieldCache.Store(t, m)
	return m
}

func collectFields(t reflect.Type, m map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, m)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := m[name]; !taken {
			m[name] = f.Type
		}
	}
}
