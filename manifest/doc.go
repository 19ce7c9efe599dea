// Package manifest reads pod definition files for minipod exactly as
// strictly as the Kubernetes API server would, into the real
// k8s.io/api/core/v1 types.
//
// A file holds YAML documents separated by "---", JSON, or a v1 List, of
// v1 Pods, ConfigMaps and Secrets. Each object is checked field by field
// against its Go type (unknown fields and wrong types are errors, with
// their path), then against minipod's support table in fields.go: fields
// the runtime does not honour are refused, fields that mean nothing on one
// host are accepted with a warning. The API server's defaults are applied
// and the objects validated as the API server validates them, ConfigMap
// and Secret references resolved against the file's own objects.
//
// Every problem names its file, document, object and field:
//
//	pod.yaml: document 2 (Pod "web"): spec.containers[0]: unknown field "imagePullPolice"
//
// The package is pure: it reads the named file or standard input and
// nothing else.
package manifest
