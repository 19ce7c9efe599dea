package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	goyaml "sigs.k8s.io/yaml/goyaml.v2"
)

// The generic tree of one document: what the JSON says, before it becomes
// a Go type. Objects keep their keys in document order so that problems
// are reported in the order a person reads the file, and so that a key
// given twice is caught (encoding/json would keep the last one silently).
//
// Values are *jsonObject, []any, string, json.Number, bool or nil.
type jsonObject struct {
	keys   []string
	values map[string]any
}

func (o *jsonObject) get(key string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.values[key]
	return v, ok
}

func (o *jsonObject) getString(key string) string {
	v, _ := o.get(key)
	s, _ := v.(string)
	return s
}

// maxDepth bounds nesting; no Kubernetes object comes near it.
const maxDepth = 64

// errNotJSONValue is returned when the input holds no JSON value at all.
var errNotJSONValue = errors.New("no JSON value")

// readJSONValue reads one JSON value from dec into a tree.
func readJSONValue(dec *json.Decoder, path string, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return readJSONToken(dec, tok, path, depth)
}

func readJSONToken(dec *json.Decoder, tok json.Token, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &jsonObject{values: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("%s: object key is not a string", pathOrTop(path))
				}
				if _, dup := obj.values[key]; dup {
					return nil, fmt.Errorf("%s: duplicate field %q", pathOrTop(path), key)
				}
				v, err := readJSONValue(dec, joinPath(path, key), depth+1)
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, key)
				obj.values[key] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			list := []any{}
			for i := 0; dec.More(); i++ {
				v, err := readJSONValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected %q", rune(t))
	case string, json.Number, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// parseJSONTree parses data, which must hold exactly one JSON value.
func parseJSONTree(data []byte) (any, error) {
	dec := newJSONDecoder(data)
	v, err := readJSONValue(dec, "", 0)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errNotJSONValue
		}
		return nil, jsonSyntaxError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the top-level value")
	}
	return v, nil
}

func newJSONDecoder(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec
}

// jsonSyntaxError adds the line and column to encoding/json's syntax
// errors, which only know a byte offset.
func jsonSyntaxError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("line %d, column %d: %s", line, col, syn.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	return err
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	// Decoder.Token reports the offset of the offending character.
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// isEmpty reports whether a value asks for nothing: null, "", {} or [].
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case *jsonObject:
		return len(t.keys) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", truncate(t))
	case json.Number:
		return "number " + t.String()
	case bool:
		return fmt.Sprintf("boolean %t", t)
	case *jsonObject:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

// orderLike puts the keys of the tree's objects in the order of the same
// objects in the YAML document (YAMLToJSON sorts them). Keys it cannot
// match keep their place after the matched ones; it only reorders.
func orderLike(v any, y any) {
	switch t := v.(type) {
	case *jsonObject:
		ms, ok := y.(goyaml.MapSlice)
		if !ok {
			return
		}
		order := map[string]int{}
		for i, item := range ms {
			k := fmt.Sprint(item.Key)
			if _, seen := order[k]; !seen {
				order[k] = i
			}
			if child, ok := t.values[k]; ok {
				orderLike(child, item.Value)
			}
		}
		rank := func(k string) int {
			if i, ok := order[k]; ok {
				return i
			}
			return len(ms)
		}
		slices.SortStableFunc(t.keys, func(a, b string) int { return rank(a) - rank(b) })
	case []any:
		ys, ok := y.([]any)
		if !ok || len(ys) != len(t) {
			return
		}
		for i := range t {
			orderLike(t[i], ys[i])
		}
	}
}
