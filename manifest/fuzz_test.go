package manifest

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, tc := range invalidCases {
		if len(tc.data) < 1<<16 {
			f.Add([]byte(tc.data))
		}
	}
	f.Add([]byte(cfgDoc + secretDoc + "---\n" + pod("envFrom:\n- configMapRef: {name: cfg}", "volumes:\n- name: s\n  secret: {secretName: sec}")))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"a","image":"b"}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err == nil {
			if file == nil || len(file.Pods)+len(file.ConfigMaps)+len(file.Secrets) == 0 {
				t.Fatalf("no error and no objects")
			}
			for _, p := range file.Pods {
				// What Parse returns must stand on its own.
				if err := ValidatePod(Source{File: "fuzz.yaml"}, p, Refs{}); err != nil && !strings.Contains(err.Error(), "not found") {
					t.Fatalf("Parse accepted a pod that ValidatePod refuses: %v", err)
				}
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error without *Error: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %q", err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "fuzz.yaml") {
				t.Fatalf("error line does not name the file: %q", line)
			}
		}
	})
}
