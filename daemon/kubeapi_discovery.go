package daemon

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Aggregated discovery: a client that asks /api or /apis for an
// apidiscovery.k8s.io APIGroupDiscoveryList (kubectl and client-go since
// 1.26 ask first) gets every group, version and resource in one answer
// instead of one request per group version. v2beta1 is what kubectl 1.26
// to 1.29 ask for; the API server served it until 1.33.

// aggregatedDiscoveryVersion returns the apidiscovery.k8s.io version the
// request's Accept header asks for first, or "" when it prefers the legacy
// documents.
func aggregatedDiscoveryVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] == "" {
			if mt == "application/json" || mt == "*/*" || mt == "application/*" {
				return ""
			}
			continue
		}
		if mt != "application/json" || params["as"] != "APIGroupDiscoveryList" || params["g"] != apidiscoveryv2.SchemeGroupVersion.Group {
			continue
		}
		if v := params["v"]; v == "v2" || v == "v2beta1" {
			return v
		}
	}
	return ""
}

// writeAggregatedDiscovery answers /api (core) or /apis (no groups) as an
// APIGroupDiscoveryList of the given version.
func (k *kubeServer) writeAggregatedDiscovery(w http.ResponseWriter, r *http.Request, version string, core bool) {
	list := apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: apidiscoveryv2.SchemeGroupVersion.Group + "/" + version},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
	if core {
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{{
			Version: "v1", Resources: discoveryResources(), Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		}}})
	}
	var body any = &list
	if version == "v2beta1" {
		// The two versions have the same fields.
		var beta apidiscoveryv2beta1.APIGroupDiscoveryList
		raw, err := json.Marshal(&list)
		if err == nil {
			err = json.Unmarshal(raw, &beta)
		}
		if err != nil {
			k.writeErr(w, r, err)
			return
		}
		body = &beta
	}
	data, err := json.Marshal(body)
	if err != nil {
		k.writeErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json;g="+apidiscoveryv2.SchemeGroupVersion.Group+";v="+version+";as=APIGroupDiscoveryList")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
}

// discoveryResources describes the served resources for aggregated
// discovery, from the same table as the legacy APIResourceList.
func discoveryResources() []apidiscoveryv2.APIResourceDiscovery {
	var out []apidiscoveryv2.APIResourceDiscovery
	pods := -1
	for _, ar := range apiResourceList().APIResources {
		scope := apidiscoveryv2.ScopeCluster
		if ar.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		if parent, sub, ok := strings.Cut(ar.Name, "/"); ok && parent == "pods" && pods >= 0 {
			out[pods].Subresources = append(out[pods].Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  sub,
				ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: ar.Kind},
				Verbs:        ar.Verbs,
			})
			continue
		}
		out = append(out, apidiscoveryv2.APIResourceDiscovery{
			Resource: ar.Name, SingularResource: ar.SingularName, Scope: scope,
			ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: ar.Kind},
			Verbs:        ar.Verbs, ShortNames: ar.ShortNames, Categories: ar.Categories,
		})
		if ar.Name == "pods" {
			pods = len(out) - 1
		}
	}
	return out
}
