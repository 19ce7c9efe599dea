package daemon

import (
	"crypto/sha512"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
)

// The OpenAPI documents the API serves. Their paths describe, for each
// kind, the operations and the query parameters this server takes; their
// schemas are those a kube-apiserver of the same release serves for the
// same kinds (openapi/*.json, written and checked against a real
// kube-apiserver by e2e TestOpenAPISchemas), so that `kubectl explain`
// explains as on a cluster and kubectl's client-side validation names an
// unknown field. kubectl reads from the paths that the server validates
// fields itself (fieldValidation on PATCH), and sends
// fieldValidation=Strict: the server's decoding is always strict, and an
// unknown field is refused with its path.

//go:embed openapi/v2-definitions.json
var openAPIv2Definitions []byte

//go:embed openapi/v3-schemas.json
var openAPIv3Schemas []byte

// openAPIOperations lists the paths of the served resources and, for each,
// its operations (method -> action).
func openAPIPaths() map[string]map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range kubeResources {
		gvk := map[string]string{"group": "", "version": "v1", "kind": r.kind}
		coll, item := "/api/v1/"+r.name, "/api/v1/"+r.name+"/{name}"
		if r.namespaced {
			coll = "/api/v1/namespaces/{namespace}/" + r.name
			item = coll + "/{name}"
		}
		op := func(action, verb string, params ...string) map[string]any {
			o := map[string]any{
				"operationId":                     verb + "CoreV1" + map[bool]string{true: "Namespaced", false: ""}[r.namespaced] + r.kind,
				"x-kubernetes-action":             action,
				"x-kubernetes-group-version-kind": gvk,
				"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			}
			var ps []any
			for _, p := range params {
				ps = append(ps, map[string]any{"name": p, "in": "query", "type": "string", "uniqueItems": true})
			}
			if ps != nil {
				o["parameters"] = ps
			}
			return o
		}
		paths[coll] = map[string]any{"get": op("list", "list", "labelSelector", "fieldSelector", "resourceVersion", "watch")}
		paths[item] = map[string]any{
			"get":   op("get", "read"),
			"patch": op("patch", "patch", "dryRun", "fieldManager", "fieldValidation", "force"),
		}
		if hasVerb(r, "create") {
			paths[coll]["post"] = op("post", "create", "dryRun", "fieldManager", "fieldValidation")
		}
		if hasVerb(r, "delete") {
			paths[item]["delete"] = op("delete", "delete", "dryRun", "gracePeriodSeconds")
		}
	}
	return paths
}

var openAPIDocs = sync.OnceValues(func() (*openAPI, error) {
	v := kubeVersion()
	info := map[string]any{"title": "Kubernetes", "version": v.GitVersion}
	paths := openAPIPaths()
	v2JSON, err := json.Marshal(map[string]any{"swagger": "2.0", "info": info, "paths": paths, "definitions": json.RawMessage(openAPIv2Definitions)})
	if err != nil {
		return nil, err
	}
	doc, err := openapi_v2.ParseDocument(v2JSON)
	if err != nil {
		return nil, fmt.Errorf("failed to build the OpenAPI v2 document: %w", err)
	}
	v2PB, err := proto.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the OpenAPI v2 document: %w", err)
	}
	// OpenAPI v3 parameters carry a schema instead of a type.
	for _, item := range paths {
		for _, o := range item {
			params, _ := o.(map[string]any)["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				delete(pm, "type")
				delete(pm, "uniqueItems")
				pm["schema"] = map[string]any{"type": "string", "uniqueItems": true}
			}
		}
	}
	v3, err := json.Marshal(map[string]any{"openapi": "3.0.0", "info": info, "paths": paths,
		"components": map[string]any{"schemas": json.RawMessage(openAPIv3Schemas)}})
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(v3)
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	root, err := json.Marshal(map[string]any{"paths": map[string]any{
		"api/v1": map[string]any{"serverRelativeURL": "/openapi/v3/api/v1?hash=" + hash},
	}})
	if err != nil {
		return nil, err
	}
	return &openAPI{v2JSON: v2JSON, v2PB: v2PB, v3Root: root, v3: v3}, nil
})

type openAPI struct {
	v2JSON, v2PB []byte
	v3Root, v3   []byte
}

// serveOpenAPI answers /openapi/v2 (protobuf or JSON, as asked), and
// /openapi/v3 with its one group version, api/v1. It returns false for
// any other path.
func (k *kubeServer) serveOpenAPI(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/openapi/v2", "/swagger-2.0.0.pb-v1", "/openapi/v3", "/openapi/v3/api/v1":
	default:
		return false
	}
	docs, err := openAPIDocs()
	if err != nil {
		k.writeErr(w, r, err)
		return true
	}
	var data []byte
	ctype := "application/json"
	switch r.URL.Path {
	case "/openapi/v2", "/swagger-2.0.0.pb-v1":
		data = docs.v2JSON
		if strings.Contains(r.Header.Get("Accept"), "protobuf") || r.URL.Path == "/swagger-2.0.0.pb-v1" {
			data, ctype = docs.v2PB, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
		}
	case "/openapi/v3":
		data = docs.v3Root
	case "/openapi/v3/api/v1":
		data = docs.v3
	}
	w.Header().Set("Content-Type", ctype)
	w.Write(data)
	return true
}
