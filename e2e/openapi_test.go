package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite daemon/openapi/*.json from what the kube-apiserver built by scripts/kube.sh serves")

// openAPIRoots are the schemas the daemon publishes: the core/v1 kinds it
// serves, their lists, and the meta/v1 kinds its answers carry. Every
// schema they reference is published with them.
var openAPIRoots = []string{
	"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList",
	"io.k8s.api.core.v1.ConfigMap", "io.k8s.api.core.v1.ConfigMapList",
	"io.k8s.api.core.v1.Secret", "io.k8s.api.core.v1.SecretList",
	"io.k8s.api.core.v1.Event", "io.k8s.api.core.v1.EventList",
	"io.k8s.api.core.v1.Namespace", "io.k8s.api.core.v1.NamespaceList",
	"io.k8s.api.core.v1.Node", "io.k8s.api.core.v1.NodeList",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Status",
	"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
	"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
}

// TestOpenAPISchemas checks that the schemas the daemon publishes in its
// OpenAPI v2 and v3 documents (daemon/openapi, read by `kubectl explain`
// and kubectl's client-side validation) are exactly those a kube-apiserver
// of the same release serves for the same kinds. With -update-openapi it
// writes them.
func TestOpenAPISchemas(t *testing.T) {
	kubectlBin, kubeconfig := startAPIServer(t)
	for _, doc := range []struct{ path, section, file string }{
		{"/openapi/v2", "definitions", "v2-definitions.json"},
		{"/openapi/v3/api/v1", "components.schemas", "v3-schemas.json"},
	} {
		raw, err := exec.Command(kubectlBin, "--kubeconfig", kubeconfig, "get", "--raw", doc.path).Output()
		if err != nil {
			t.Fatalf("failed to read %s from kube-apiserver: %v", doc.path, err)
		}
		want, err := pruneOpenAPI(raw, doc.section)
		if err != nil {
			t.Fatalf("%s: %v", doc.path, err)
		}
		file := filepath.Join(suite.repo, "daemon", "openapi", doc.file)
		if *updateOpenAPI {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the schemas kube-apiserver serves at %s; run: go test ./e2e -run TestOpenAPISchemas -update-openapi", file, doc.path)
		}
	}
}

// pruneOpenAPI returns, as indented JSON, the schemas of an OpenAPI
// document's section ("definitions" or "components.schemas") reachable
// from openAPIRoots.
func pruneOpenAPI(raw []byte, section string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	cur := any(doc)
	for _, key := range strings.Split(section, ".") {
		m, _ := cur.(map[string]any)
		cur = m[key]
	}
	all, _ := cur.(map[string]any)
	if all == nil {
		return nil, fmt.Errorf("no %s in the document", section)
	}
	kept := map[string]any{}
	todo := append([]string(nil), openAPIRoots...)
	for len(todo) > 0 {
		name := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if _, done := kept[name]; done {
			continue
		}
		schema, ok := all[name]
		if !ok {
			return nil, fmt.Errorf("no schema %s", name)
		}
		kept[name] = schema
		todo = append(todo, schemaRefs(schema)...)
	}
	out, err := json.MarshalIndent(kept, "", " ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaRefs lists the schema names a schema refers to ($ref), at any depth.
func schemaRefs(v any) []string {
	var refs []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				refs = append(refs, s[strings.LastIndex(s, "/")+1:])
				continue
			}
			refs = append(refs, schemaRefs(x)...)
		}
	case []any:
		for _, x := range v {
			refs = append(refs, schemaRefs(x)...)
		}
	}
	return refs
}
