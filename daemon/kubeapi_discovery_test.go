package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOpenAPISchemasCoverServedKinds checks that both OpenAPI documents
// carry a schema for every kind the API serves, and its list, tagged with
// its group, version and kind (how kubectl finds the schema to explain and
// validate), and that every schema referenced is there.
func TestOpenAPISchemasCoverServedKinds(t *testing.T) {
	docs, err := openAPIDocs()
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(docs.v2JSON, &v2); err != nil {
		t.Fatal(err)
	}
	var v3 struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(docs.v3, &v3); err != nil {
		t.Fatal(err)
	}
	for name, schemas := range map[string]map[string]json.RawMessage{"v2": v2.Definitions, "v3": v3.Components.Schemas} {
		for _, r := range kubeResources {
			for _, kind := range []string{r.kind, r.kind + "List"} {
				raw, ok := schemas["io.k8s.api.core.v1."+kind]
				if !ok {
					t.Errorf("OpenAPI %s: no schema for %s", name, kind)
					continue
				}
				var s struct {
					GVK []map[string]string `json:"x-kubernetes-group-version-kind"`
				}
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				if len(s.GVK) != 1 || s.GVK[0]["kind"] != kind || s.GVK[0]["version"] != "v1" || s.GVK[0]["group"] != "" {
					t.Errorf("OpenAPI %s: schema of %s is tagged %v", name, kind, s.GVK)
				}
			}
		}
		for from, raw := range schemas {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			for _, ref := range refsOf(v) {
				if _, ok := schemas[ref]; !ok {
					t.Errorf("OpenAPI %s: %s refers to %s, which is not published", name, from, ref)
				}
			}
		}
	}
}

func refsOf(v any) []string {
	var refs []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				refs = append(refs, s[strings.LastIndex(s, "/")+1:])
				continue
			}
			refs = append(refs, refsOf(x)...)
		}
	case []any:
		for _, x := range v {
			refs = append(refs, refsOf(x)...)
		}
	}
	return refs
}

// TestAggregatedDiscoveryAccept checks which Accept headers get aggregated
// discovery, and in which version.
func TestAggregatedDiscoveryAccept(t *testing.T) {
	for accept, want := range map[string]string{
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json": "v2",
		"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json":                                                                      "v2beta1",
		"application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList":    "v2",
		"application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList":                                                                          "",
		"application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json":                                                                           "",
		"": "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		r.Header.Set("Accept", accept)
		if got := aggregatedDiscoveryVersion(r); got != want {
			t.Errorf("Accept %q: got %q, want %q", accept, got, want)
		}
	}
}
