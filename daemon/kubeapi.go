package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/manifest"
)

// protobufType is the media type of Kubernetes' protobuf encoding.
const protobufType = "application/vnd.kubernetes.protobuf"

// DefaultKubeAPI is where the Kubernetes API listens unless told otherwise.
const DefaultKubeAPI = "127.0.0.1:6443"

// The scheme of the types the Kubernetes API serves, and apimachinery's
// JSON and YAML serializers over it.
var (
	kubeScheme  = k8sruntime.NewScheme()
	jsonEncoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, kubeScheme, kubeScheme, kjson.SerializerOptions{})
	yamlEncoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, kubeScheme, kubeScheme, kjson.SerializerOptions{Yaml: true})
	tableGVK    = metav1.SchemeGroupVersion.WithKind("Table")
	partialGVK  = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")
	statusGVK   = schema.GroupVersionKind{Version: "v1", Kind: "Status"}

	protobufSerializer = protobuf.NewSerializer(kubeScheme, kubeScheme)
	errWatchDone       = errors.New("watch ended")
)

func init() {
	if err := corev1.AddToScheme(kubeScheme); err != nil {
		panic(err)
	}
	if err := metav1.AddMetaToScheme(kubeScheme); err != nil {
		panic(err)
	}
}

// kubeResource describes one resource the API serves.
type kubeResource struct {
	name       string // plural, as in the URL
	kind       string
	namespaced bool
	shortNames []string
	verbs      []string
	// fields are the field selectors it supports, from an object.
	fields func(k8sruntime.Object) fields.Set
	// newList is an empty list of the resource.
	newList func() k8sruntime.Object
	// empty is an object of the kind with nothing set (watch bookmarks).
	empty func() k8sruntime.Object
}

var readVerbs = []string{"get", "list", "watch"}
var writeVerbs = []string{"create", "delete", "get", "list", "watch"}
var podVerbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}

func metaFields(o k8sruntime.Object) fields.Set {
	m, _ := meta.Accessor(o)
	set := fields.Set{"metadata.name": m.GetName()}
	if m.GetNamespace() != "" {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set
}

var kubeResources = []*kubeResource{
	{name: "pods", kind: "Pod", namespaced: true, shortNames: []string{"po"}, verbs: podVerbs,
		fields: func(o k8sruntime.Object) fields.Set {
			p := o.(*corev1.Pod)
			set := metaFields(o)
			set["spec.nodeName"] = p.Spec.NodeName
			set["spec.restartPolicy"] = string(p.Spec.RestartPolicy)
			set["spec.schedulerName"] = p.Spec.SchedulerName
			set["spec.serviceAccountName"] = p.Spec.ServiceAccountName
			set["spec.hostNetwork"] = strconv.FormatBool(p.Spec.HostNetwork)
			set["status.phase"] = string(p.Status.Phase)
			set["status.podIP"] = p.Status.PodIP
			set["status.nominatedNodeName"] = p.Status.NominatedNodeName
			return set
		},
		newList: func() k8sruntime.Object { return &corev1.PodList{} },
		empty:   func() k8sruntime.Object { return &corev1.Pod{} }},
	{name: "configmaps", kind: "ConfigMap", namespaced: true, shortNames: []string{"cm"}, verbs: writeVerbs,
		fields:  metaFields,
		newList: func() k8sruntime.Object { return &corev1.ConfigMapList{} },
		empty:   func() k8sruntime.Object { return &corev1.ConfigMap{} }},
	{name: "secrets", kind: "Secret", namespaced: true, verbs: writeVerbs,
		fields: func(o k8sruntime.Object) fields.Set {
			set := metaFields(o)
			set["type"] = string(o.(*corev1.Secret).Type)
			return set
		},
		newList: func() k8sruntime.Object { return &corev1.SecretList{} },
		empty:   func() k8sruntime.Object { return &corev1.Secret{} }},
	{name: "events", kind: "Event", namespaced: true, shortNames: []string{"ev"}, verbs: readVerbs,
		fields: func(o k8sruntime.Object) fields.Set {
			e := o.(*corev1.Event)
			set := metaFields(o)
			set["involvedObject.kind"] = e.InvolvedObject.Kind
			set["involvedObject.namespace"] = e.InvolvedObject.Namespace
			set["involvedObject.name"] = e.InvolvedObject.Name
			set["involvedObject.uid"] = string(e.InvolvedObject.UID)
			set["involvedObject.apiVersion"] = e.InvolvedObject.APIVersion
			set["involvedObject.resourceVersion"] = e.InvolvedObject.ResourceVersion
			set["involvedObject.fieldPath"] = e.InvolvedObject.FieldPath
			set["reason"] = e.Reason
			set["reportingComponent"] = e.ReportingController
			set["source"] = e.Source.Component
			set["type"] = e.Type
			return set
		},
		newList: func() k8sruntime.Object { return &corev1.EventList{} },
		empty:   func() k8sruntime.Object { return &corev1.Event{} }},
	{name: "namespaces", kind: "Namespace", shortNames: []string{"ns"}, verbs: readVerbs,
		fields: func(o k8sruntime.Object) fields.Set {
			set := metaFields(o)
			set["status.phase"] = string(o.(*corev1.Namespace).Status.Phase)
			return set
		},
		newList: func() k8sruntime.Object { return &corev1.NamespaceList{} },
		empty:   func() k8sruntime.Object { return &corev1.Namespace{} }},
	{name: "nodes", kind: "Node", shortNames: []string{"no"}, verbs: readVerbs,
		fields: func(o k8sruntime.Object) fields.Set {
			set := metaFields(o)
			set["spec.unschedulable"] = strconv.FormatBool(o.(*corev1.Node).Spec.Unschedulable)
			return set
		},
		newList: func() k8sruntime.Object { return &corev1.NodeList{} },
		empty:   func() k8sruntime.Object { return &corev1.Node{} }},
}

func findResource(name string) *kubeResource {
	for _, r := range kubeResources {
		if r.name == name {
			return r
		}
	}
	return nil
}

// kubeServer serves the Kubernetes core/v1 API of a backend.
type kubeServer struct {
	*server
	store    *kubeStore
	creds    *kubeCreds
	internal *internalStreams // where translated WebSocket streams go
}

// serveKube serves the Kubernetes API on l (TLS, every request
// authenticated with the daemon's bearer token) until ctx ends.
func serveKube(ctx context.Context, l net.Listener, b Backend, st *kubeStore, creds *kubeCreds, log *slog.Logger) error {
	stopping, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	s := &server{b: b, log: log, stopping: stopping}
	k := &kubeServer{server: s, store: st, creds: creds}
	k.internal = newInternalStreams(http.HandlerFunc(k.route), log)
	hs := &http.Server{
		Handler:           k.logRequests(k.authenticate(http.HandlerFunc(k.route))),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{creds.cert},
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(l, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("failed to serve the Kubernetes API on %q: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	stop() // ends watches and followed logs
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	k.internal.shutdown(sctx)
	s.background.Wait()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("failed to serve the Kubernetes API on %q: %w", l.Addr(), err)
	}
	return nil
}

// authenticate lets through requests that carry the daemon's bearer token;
// the others get 401, as the API server answers an unknown user.
func (k *kubeServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !k.creds.tokenOK(r.Header.Get("Authorization")) {
			k.writeStatus(w, r, newStatus(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// request is a parsed request on a resource.
type kubeRequest struct {
	res       *kubeResource
	namespace string
	name      string
	sub       string
}

func (k *kubeServer) route(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && k.serveOpenAPI(w, r) {
		return
	}
	switch r.URL.Path {
	case "/healthz", "/livez", "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
		return
	case "/version", "/version/":
		v := kubeVersion()
		k.writeObject(w, r, http.StatusOK, nil, &v)
		return
	case "/api", "/api/":
		if v := aggregatedDiscoveryVersion(r); v != "" {
			k.writeAggregatedDiscovery(w, r, v, true)
			return
		}
		k.writeObject(w, r, http.StatusOK, nil, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
		return
	case "/apis", "/apis/":
		if v := aggregatedDiscoveryVersion(r); v != "" {
			k.writeAggregatedDiscovery(w, r, v, false)
			return
		}
		k.writeObject(w, r, http.StatusOK, nil, &metav1.APIGroupList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
			Groups:   []metav1.APIGroup{},
		})
		return
	case "/api/v1", "/api/v1/":
		k.writeObject(w, r, http.StatusOK, nil, apiResourceList())
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok {
		k.notFound(w, r)
		return
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	var kr kubeRequest
	if parts[0] == "namespaces" && len(parts) >= 3 {
		kr.namespace, parts = parts[1], parts[2:]
		if kr.res = findResource(parts[0]); kr.res == nil || !kr.res.namespaced {
			k.notFound(w, r)
			return
		}
	} else if kr.res = findResource(parts[0]); kr.res == nil {
		k.notFound(w, r)
		return
	} else if kr.res.namespaced && len(parts) > 1 {
		k.notFound(w, r)
		return
	}
	switch len(parts) {
	case 1:
	case 2:
		kr.name = parts[1]
	case 3:
		kr.name, kr.sub = parts[1], parts[2]
	default:
		k.notFound(w, r)
		return
	}
	if kr.sub != "" && (kr.res.name != "pods" || !podSubresources[kr.sub]) {
		k.notFound(w, r)
		return
	}
	switch {
	case kr.sub == "log" && r.Method == http.MethodGet:
		k.podLog(w, r, kr)
	case kr.sub == "exec" && (r.Method == http.MethodGet || r.Method == http.MethodPost) && wantsWebSocketExec(r):
		k.translateExec(w, r, kr)
	case kr.sub == "exec" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		k.podExec(w, r, kr)
	case kr.sub == "portforward" && (r.Method == http.MethodGet || r.Method == http.MethodPost) && wantsWebSocketTunnel(r):
		k.tunnelPortForward(w, r, kr)
	case kr.sub == "portforward" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		k.podPortForward(w, r, kr)
	case kr.sub != "":
		k.writeStatus(w, r, newStatus(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource"))
	case r.Method == http.MethodGet && kr.name != "":
		k.get(w, r, kr)
	case r.Method == http.MethodGet:
		if watching, st := queryBool(r, "watch"); st != nil {
			k.writeStatus(w, r, st)
		} else if watching {
			k.watch(w, r, kr)
		} else {
			k.list(w, r, kr)
		}
	case r.Method == http.MethodPost && kr.name == "" && kr.namespace != "" && hasVerb(kr.res, "create"):
		k.create(w, r, kr)
	case r.Method == http.MethodDelete && kr.name != "" && hasVerb(kr.res, "delete"):
		k.delete(w, r, kr)
	case (r.Method == http.MethodPatch || r.Method == http.MethodPut) && kr.name != "" && kr.res.name == "pods":
		k.patchPod(w, r, kr)
	default:
		k.writeStatus(w, r, newStatus(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource"))
	}
}

// podSubresources are the pod subresources served.
var podSubresources = map[string]bool{"log": true, "exec": true, "portforward": true}

func hasVerb(res *kubeResource, verb string) bool {
	for _, v := range res.verbs {
		if v == verb {
			return true
		}
	}
	return false
}

func apiResourceList() *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: "v1",
	}
	for _, r := range kubeResources {
		ar := metav1.APIResource{
			Name: r.name, SingularName: strings.ToLower(r.kind), Namespaced: r.namespaced,
			Kind: r.kind, Verbs: r.verbs, ShortNames: r.shortNames,
		}
		if r.name == "pods" {
			ar.Categories = []string{"all"}
		}
		list.APIResources = append(list.APIResources, ar)
		if r.name == "pods" {
			list.APIResources = append(list.APIResources,
				metav1.APIResource{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
				metav1.APIResource{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
				metav1.APIResource{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}},
			)
		}
	}
	return list
}

func (k *kubeServer) notFound(w http.ResponseWriter, r *http.Request) {
	st := newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	st.Details = &metav1.StatusDetails{}
	k.writeStatus(w, r, st)
}

func (k *kubeServer) objectNotFound(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	st := newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", kr.res.name, kr.name))
	st.Details = &metav1.StatusDetails{Name: kr.name, Kind: kr.res.name}
	k.writeStatus(w, r, st)
}

// ---- encoding

// output is what a request asked for in its Accept header.
type output struct {
	yaml     bool
	table    bool
	protobuf bool
}

// negotiate picks the response format from the Accept header: JSON, YAML,
// or a meta.k8s.io/v1 Table (as JSON) where allowed. ok is false when
// nothing acceptable is offered.
func negotiate(r *http.Request, tableOK bool) (output, bool) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return output{}, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if as := params["as"]; as != "" {
			if as == "Table" && tableOK && params["g"] == metav1.GroupName && params["v"] == "v1" &&
				(mt == "application/json" || mt == "*/*" || mt == "application/*") {
				return output{table: true}, true
			}
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*", "application/json-patch+json":
			return output{}, true
		case "application/yaml":
			return output{yaml: true}, true
		case protobufType:
			return output{protobuf: true}, true
		}
	}
	return output{}, false
}

func (k *kubeServer) writeObject(w http.ResponseWriter, r *http.Request, code int, out *output, obj any) {
	o := output{}
	if out != nil {
		o = *out
	} else if oo, ok := negotiate(r, false); ok {
		o = oo
	}
	var (
		data []byte
		err  error
	)
	ctype := "application/json"
	switch v := obj.(type) {
	case k8sruntime.Object:
		enc := k8sruntime.Encoder(jsonEncoder)
		switch {
		case o.yaml:
			enc, ctype = yamlEncoder, "application/yaml"
		case o.protobuf:
			// What has no protobuf form (a Table) goes as JSON, which
			// the client accepts too.
			if pb, perr := k8sruntime.Encode(protobufSerializer, v); perr == nil {
				data, ctype = pb, protobufType
			}
		}
		if data == nil {
			data, err = k8sruntime.Encode(enc, v)
		}
	default:
		data, err = json.Marshal(v)
	}
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"failed to encode the response","reason":"InternalError","code":500}`)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(data)
}

func (k *kubeServer) writeStatus(w http.ResponseWriter, r *http.Request, st *metav1.Status) {
	st.TypeMeta = metav1.TypeMeta{Kind: statusGVK.Kind, APIVersion: statusGVK.Version}
	out := output{}
	k.writeObject(w, r, int(st.Code), &out, st)
}

// writeErr answers with the Status of a backend error.
func (k *kubeServer) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	k.writeStatus(w, r, Status(err))
}

// ---- selectors

type selection struct {
	labels labels.Selector
	fields fields.Selector
}

func parseSelection(r *http.Request, res *kubeResource) (selection, *metav1.Status) {
	q := r.URL.Query()
	sel := selection{labels: labels.Everything(), fields: fields.Everything()}
	if v := q.Get("labelSelector"); v != "" {
		ls, err := labels.Parse(v)
		if err != nil {
			return sel, badRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		sel.labels = ls
	}
	if v := q.Get("fieldSelector"); v != "" {
		fs, err := fields.ParseSelector(v)
		if err != nil {
			return sel, badRequest(fmt.Sprintf("invalid field selector %q: %v", v, err))
		}
		known := res.fields(res.empty())
		for _, req := range fs.Requirements() {
			if _, ok := known[req.Field]; !ok && req.Field != "metadata.namespace" {
				return sel, badRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		sel.fields = fs
	}
	return sel, nil
}

func (s selection) matches(res *kubeResource, obj k8sruntime.Object) bool {
	if obj == nil {
		return false
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if !s.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	set := res.fields(obj)
	if _, ok := set["metadata.namespace"]; !ok {
		set["metadata.namespace"] = ""
	}
	return s.fields.Matches(set)
}

// ---- read

func (k *kubeServer) sync(r *http.Request) *metav1.Status {
	if err := k.store.sync(r.Context()); err != nil {
		return Status(err)
	}
	return nil
}

// current syncs the store and returns the object the request names, or
// writes the error (the backend's, or NotFound) and returns false.
func (k *kubeServer) current(w http.ResponseWriter, r *http.Request, kr kubeRequest) (k8sruntime.Object, bool) {
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return nil, false
	}
	obj := k.store.get(kr.res.name, kr.namespace, kr.name)
	if obj == nil {
		k.objectNotFound(w, r, kr)
		return nil, false
	}
	return obj, true
}

func (k *kubeServer) get(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	out, ok := negotiate(r, true)
	if !ok {
		k.notAcceptable(w, r)
		return
	}
	obj, ok := k.current(w, r, kr)
	if !ok {
		return
	}
	if kr.res.name == "pods" {
		k.store.health.warnIfRuntimeDown(r.Context(), w, k.b)
	}
	if out.table {
		tbl, st := k.table(r, kr.res, []k8sruntime.Object{obj}, "")
		if st != nil {
			k.writeStatus(w, r, st)
			return
		}
		k.writeObject(w, r, http.StatusOK, &out, tbl)
		return
	}
	k.writeObject(w, r, http.StatusOK, &out, obj)
}

func (k *kubeServer) notAcceptable(w http.ResponseWriter, r *http.Request) {
	k.writeStatus(w, r, newStatus(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		fmt.Sprintf("only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (asked for %q)", r.Header.Get("Accept"))))
}

func (k *kubeServer) list(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	out, ok := negotiate(r, true)
	if !ok {
		k.notAcceptable(w, r)
		return
	}
	sel, st := parseSelection(r, kr.res)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	all, rv := k.store.list(kr.res.name, kr.namespace)
	items := all[:0:0]
	for _, o := range all {
		if sel.matches(kr.res, o) {
			items = append(items, o)
		}
	}
	rvText := strconv.FormatUint(rv, 10)
	if kr.res.name == "pods" {
		k.store.health.warnIfRuntimeDown(r.Context(), w, k.b)
	}
	if out.table {
		tbl, st := k.table(r, kr.res, items, rvText)
		if st != nil {
			k.writeStatus(w, r, st)
			return
		}
		k.writeObject(w, r, http.StatusOK, &out, tbl)
		return
	}
	list := kr.res.newList()
	if err := meta.SetList(list, items); err != nil {
		k.writeErr(w, r, err)
		return
	}
	la, _ := meta.ListAccessor(list)
	la.SetResourceVersion(rvText)
	list.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kr.res.kind + "List"))
	k.writeObject(w, r, http.StatusOK, &out, list)
}

// table builds the meta.k8s.io/v1 Table of objects, with the object or
// its metadata in each row as includeObject asks (metadata by default).
func (k *kubeServer) table(r *http.Request, res *kubeResource, objs []k8sruntime.Object, rv string) (*metav1.Table, *metav1.Status) {
	include := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	switch include {
	case "":
		include = metav1.IncludeMetadata
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
	default:
		return nil, badRequest(fmt.Sprintf("includeObject: unsupported value %q: must be None, Metadata or Object", include))
	}
	tbl := &metav1.Table{ColumnDefinitions: tableColumns[res.name]}
	tbl.SetGroupVersionKind(tableGVK)
	tbl.ResourceVersion = rv
	tbl.Rows = []metav1.TableRow{}
	for _, o := range objs {
		row := tableRow(o)
		switch include {
		case metav1.IncludeObject:
			row.Object.Object = o
		case metav1.IncludeMetadata:
			m, _ := meta.Accessor(o)
			pom := &metav1.PartialObjectMetadata{ObjectMeta: *metaOf(m)}
			pom.SetGroupVersionKind(partialGVK)
			row.Object.Object = pom
		}
		tbl.Rows = append(tbl.Rows, row)
	}
	return tbl, nil
}

func metaOf(m metav1.Object) *metav1.ObjectMeta {
	if om, ok := m.(*metav1.ObjectMeta); ok {
		return om.DeepCopy()
	}
	return &metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
}

// ---- watch

// watch streams the changes of a resource as the API server does: one
// WatchEvent per JSON document. Without a resourceVersion (or "0", or with
// sendInitialEvents=true) it starts with an ADDED for every object there is;
// with one, it replays the changes after it (410 Gone when it is older than
// the store keeps). An object that starts or stops matching the selectors is
// ADDED or DELETED. allowWatchBookmarks adds BOOKMARKs: the one that ends
// the initial events (sendInitialEvents) and one each minute the
// resourceVersion moved on with no change to send. timeoutSeconds ends it.
func (k *kubeServer) watch(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	out, ok := negotiate(r, true)
	// Watch events go as JSON (a protobuf client accepts it too).
	out = output{table: ok && out.table}
	sel, st := parseSelection(r, kr.res)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	q := r.URL.Query()
	bookmarks, st := queryBool(r, "allowWatchBookmarks")
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	sendInitial, st := queryBool(r, "sendInitialEvents")
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	timeout, st := queryInt(r, "timeoutSeconds")
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	rvText := q.Get("resourceVersion")
	var from uint64
	if rvText != "" && rvText != "0" {
		n, err := strconv.ParseUint(rvText, 10, 64)
		if err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("invalid resource version %q", rvText)))
			return
		}
		from = n
	}
	if q.Has("sendInitialEvents") && !bookmarks {
		k.writeStatus(w, r, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
			"sendInitialEvents is forbidden for watch unless the WatchBookmarks feature gate is enabled: allowWatchBookmarks must be true"))
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	ctx, cancel := k.streamContext(r)
	defer cancel()
	if timeout != nil && *timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, time.Duration(*timeout)*time.Second)
		defer c()
	}
	fw := newFlushWriter(w, "application/json")
	first := true
	send := func(typ watch.EventType, obj k8sruntime.Object) error {
		var payload k8sruntime.Object = obj
		if out.table && typ != watch.Bookmark && typ != watch.Error {
			tbl, st := k.table(r, kr.res, []k8sruntime.Object{obj}, "")
			if st != nil {
				return errWatchDone
			}
			if !first {
				tbl.ColumnDefinitions = nil
			}
			first = false
			payload = tbl
		}
		raw, err := k8sruntime.Encode(jsonEncoder, payload)
		if err != nil {
			return err
		}
		ev := &metav1.WatchEvent{Type: string(typ), Object: k8sruntime.RawExtension{Raw: raw}}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	bookmark := func(rv uint64, end bool) error {
		obj := kr.res.empty()
		obj.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kr.res.kind))
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(strconv.FormatUint(rv, 10))
		if end {
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
		return send(watch.Bookmark, obj)
	}
	inScope := func(obj k8sruntime.Object) bool {
		if obj == nil {
			return false
		}
		if kr.namespace != "" {
			m, _ := meta.Accessor(obj)
			if m.GetNamespace() != kr.namespace {
				return false
			}
		}
		return sel.matches(kr.res, obj)
	}

	if from == 0 || sendInitial {
		objs, rv := k.store.list(kr.res.name, kr.namespace)
		for _, o := range objs {
			if inScope(o) {
				if send(watch.Added, o) != nil {
					return
				}
			}
		}
		if sendInitial && bookmarks {
			if bookmark(rv, true) != nil {
				return
			}
		}
		from = rv
	}
	fw.start()
	if err := fw.rc.Flush(); err != nil {
		return
	}
	ticker := time.NewTicker(time.Minute)
	defer ticker.Stop()
	sentRV := from
	for {
		changes, rv, wake, err := k.store.since(kr.res.name, from)
		if err != nil {
			var exp errExpired
			if errors.As(err, &exp) {
				st := newStatus(http.StatusGone, metav1.StatusReasonExpired, err.Error())
				st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
				send(watch.Error, st)
			}
			return
		}
		for _, c := range changes {
			was, is := inScope(c.prev), inScope(c.obj)
			var err error
			switch {
			case c.typ == watch.Deleted && is:
				err = send(watch.Deleted, c.obj)
			case c.typ == watch.Deleted:
			case is && was:
				err = send(watch.Modified, c.obj)
			case is:
				err = send(watch.Added, c.obj)
			case was:
				err = send(watch.Deleted, c.obj)
			}
			if err != nil {
				return
			}
			sentRV = c.rv
		}
		from = rv
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-ticker.C:
			if bookmarks && from > sentRV {
				if bookmark(from, false) != nil {
					return
				}
				sentRV = from
			}
		}
	}
}

// ---- write

// dryRun reads the dryRun parameter: true for All, an error for anything
// else but none.
func dryRun(r *http.Request) (bool, *metav1.Status) {
	vals := r.URL.Query()["dryRun"]
	for _, v := range vals {
		if v != metav1.DryRunAll {
			return false, badRequest(fmt.Sprintf("Invalid dry run value %q: only %q is supported", v, metav1.DryRunAll))
		}
	}
	return len(vals) > 0, nil
}

func (k *kubeServer) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	mt := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ = mime.ParseMediaType(ct)
		if mt != "application/json" && mt != "application/yaml" && mt != protobufType {
			k.writeStatus(w, r, newStatus(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
				fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got %q)", ct)))
			return nil, false
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxObjectBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			k.writeStatus(w, r, newStatus(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", MaxObjectBytes)))
			return nil, false
		}
		k.writeStatus(w, r, badRequest(fmt.Sprintf("failed to read the request body: %v", err)))
		return nil, false
	}
	if mt == protobufType && len(data) > 0 {
		// client-go's default: decoded with apimachinery's protobuf
		// serializer, then read as JSON by the same strict decoding as
		// every other body.
		obj, _, err := protobufSerializer.Decode(data, nil, nil)
		if err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("failed to decode the protobuf body: %v", err)))
			return nil, false
		}
		if data, err = k8sruntime.Encode(jsonEncoder, obj); err != nil {
			k.writeErr(w, r, err)
			return nil, false
		}
	}
	return data, true
}

func (k *kubeServer) create(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	dry, st := dryRun(r)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	// Decoding is strict whatever fieldValidation asks: an unknown field is
	// an error naming it.
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore:
	default:
		k.writeStatus(w, r, badRequest(fmt.Sprintf("fieldValidation: unsupported value %q: must be Ignore, Warn or Strict", v)))
		return
	}
	data, ok := k.readBody(w, r)
	if !ok {
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	switch kr.res.name {
	case "pods":
		k.createPod(w, r, kr, data, dry)
	case "configmaps":
		cm, warnings, err := manifest.DecodeConfigMap(requestSource, data)
		if err != nil {
			k.writeStatus(w, r, badRequest(err.Error()))
			return
		}
		k.createObject(w, r, kr, &cm.ObjectMeta, cm, warnings, dry, func() error {
			_, err := k.b.CreateConfigMap(r.Context(), cm)
			return err
		})
	case "secrets":
		s, warnings, err := manifest.DecodeSecret(requestSource, data)
		if err != nil {
			k.writeStatus(w, r, badRequest(err.Error()))
			return
		}
		k.createObject(w, r, kr, &s.ObjectMeta, s, warnings, dry, func() error {
			_, err := k.b.CreateSecret(r.Context(), s)
			return err
		})
	}
}

// alreadyExists is the API server's Status for a name that is taken.
func alreadyExists(res, name string) *metav1.Status {
	st := newStatus(http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("%s %q already exists", res, name))
	st.Details = &metav1.StatusDetails{Name: name, Kind: res}
	return st
}

// createObject creates a ConfigMap or Secret and answers with it as stored.
func (k *kubeServer) createObject(w http.ResponseWriter, r *http.Request, kr kubeRequest, m *metav1.ObjectMeta, obj k8sruntime.Object, warnings []string, dry bool, create func() error) {
	if st := setNamespace(m, kr.namespace); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if k.store.get(kr.res.name, m.Namespace, m.Name) != nil {
		k.writeStatus(w, r, alreadyExists(kr.res.name, m.Name))
		return
	}
	addWarnings(w, warnings)
	if dry {
		m.CreationTimestamp = metav1.Now()
		m.UID = types.UID(uuid.NewString())
		obj.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kr.res.kind))
		k.writeObject(w, r, http.StatusCreated, nil, obj)
		return
	}
	if err := create(); err != nil {
		k.writeErr(w, r, err)
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if stored := k.store.get(kr.res.name, m.Namespace, m.Name); stored != nil {
		obj = stored
	}
	k.writeObject(w, r, http.StatusCreated, nil, obj)
}

// createPod admits the pod (admitPod), starts its creation and answers as
// soon as the pod exists (Pending), as the API server does; the runtime then
// pulls images and starts containers, which the pod's status and events
// show.
func (k *kubeServer) createPod(w http.ResponseWriter, r *http.Request, kr kubeRequest, data []byte, dry bool) {
	ctx := r.Context()
	pod, warnings, st := k.admitPod(ctx, kr.namespace, data)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if k.store.get("pods", pod.Namespace, pod.Name) != nil {
		k.writeStatus(w, r, alreadyExists("pods", pod.Name))
		return
	}
	addWarnings(w, warnings)
	if dry {
		pod.CreationTimestamp = metav1.Now()
		pod.UID = types.UID(uuid.NewString())
		pod.Spec.NodeName = k.store.nodeName
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort}
		k.writeObject(w, r, http.StatusCreated, nil, podObject(pod))
		return
	}
	errc := make(chan error, 1)
	k.background.Add(1)
	go func(pod *corev1.Pod) {
		defer k.background.Done()
		_, err := k.b.CreatePod(context.WithoutCancel(ctx), pod, api.CreateOptions{})
		if err != nil && !errors.Is(err, context.Canceled) {
			k.log.Warn("failed to create pod", "namespace", pod.Namespace, "pod", pod.Name, "error", err)
		}
		errc <- err
	}(pod.DeepCopy())
	// Answer once the pod is listed (the runtime lists it before it pulls
	// images), or with the error that stopped its creation.
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		k.store.mu.Lock()
		wake := k.store.wake
		k.store.mu.Unlock()
		if obj := k.store.get("pods", pod.Namespace, pod.Name); obj != nil {
			k.writeObject(w, r, http.StatusCreated, nil, obj)
			return
		}
		select {
		case err := <-errc:
			if err != nil {
				if errors.Is(err, errdefs.ErrAlreadyExists) {
					k.writeStatus(w, r, alreadyExists("pods", pod.Name))
					return
				}
				k.writeErr(w, r, err)
				return
			}
			errc = nil
			if st := k.sync(r); st != nil {
				k.writeStatus(w, r, st)
				return
			}
			if obj := k.store.get("pods", pod.Namespace, pod.Name); obj == nil {
				// Created and already deleted by someone else.
				pod.Status.Phase = corev1.PodPending
				k.writeObject(w, r, http.StatusCreated, nil, podObject(pod))
				return
			}
		case <-wake:
		case <-deadline.C:
			k.writeStatus(w, r, newStatus(http.StatusGatewayTimeout, metav1.StatusReasonTimeout,
				fmt.Sprintf("pod %q was not created within 30s; see the daemon's log", pod.Name)))
			return
		case <-ctx.Done():
			return
		}
	}
}

func (k *kubeServer) delete(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	dry, st := dryRun(r)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	grace, st := queryInt(r, "gracePeriodSeconds")
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	data, ok := k.readBody(w, r)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		var do metav1.DeleteOptions
		if err := json.Unmarshal(data, &do); err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("failed to decode DeleteOptions: %v", err)))
			return
		}
		if grace == nil {
			grace = do.GracePeriodSeconds
		}
		for _, v := range do.DryRun {
			if v != metav1.DryRunAll {
				k.writeStatus(w, r, badRequest(fmt.Sprintf("Invalid dry run value %q: only %q is supported", v, metav1.DryRunAll)))
				return
			}
			dry = true
		}
	}
	if grace != nil && *grace < 0 {
		k.writeStatus(w, r, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
			fmt.Sprintf("DeleteOptions.gracePeriodSeconds: Invalid value: %d: must be greater than or equal to 0", *grace)))
		return
	}
	obj, ok := k.current(w, r, kr)
	if !ok {
		return
	}
	if dry {
		k.writeObject(w, r, http.StatusOK, nil, obj)
		return
	}
	switch kr.res.name {
	case "pods":
		if k.store.markDeleting(kr.namespace, kr.name) {
			ns, name := kr.namespace, kr.name
			k.background.Add(1)
			go func() {
				defer k.background.Done()
				err := k.b.DeletePod(context.WithoutCancel(r.Context()), ns, name, api.DeleteOptions{GracePeriodSeconds: grace})
				if err != nil && !errors.Is(err, errdefs.ErrConflict) {
					k.store.unmarkDeleting(ns, name)
					k.log.Warn("failed to delete pod", "namespace", ns, "pod", name, "error", err)
				}
				_ = k.store.sync(context.WithoutCancel(r.Context()))
			}()
		}
		if st := k.sync(r); st != nil {
			k.writeStatus(w, r, st)
			return
		}
		if cur := k.store.get(kr.res.name, kr.namespace, kr.name); cur != nil {
			obj = cur
		}
		k.writeObject(w, r, http.StatusOK, nil, obj)
		return
	case "configmaps":
		err := k.b.DeleteConfigMap(r.Context(), kr.namespace, kr.name)
		if err != nil {
			k.writeErr(w, r, err)
			return
		}
	case "secrets":
		if err := k.b.DeleteSecret(r.Context(), kr.namespace, kr.name); err != nil {
			k.writeErr(w, r, err)
			return
		}
	}
	_ = k.store.sync(r.Context())
	k.writeObject(w, r, http.StatusOK, nil, obj)
}

// podLog serves pods/log with the daemon's own log streaming, once the pod
// is known to exist.
func (k *kubeServer) podLog(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if k.store.get("pods", kr.namespace, kr.name) == nil {
		k.objectNotFound(w, r, kr)
		return
	}
	r.SetPathValue("ns", kr.namespace)
	r.SetPathValue("name", kr.name)
	k.podLogs(w, r)
}
