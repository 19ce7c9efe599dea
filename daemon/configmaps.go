package daemon

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/manifest"
)

func (s *server) createConfigMap(w http.ResponseWriter, r *http.Request) {
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	cm, warnings, err := manifest.DecodeConfigMap(requestSource, data)
	if err != nil {
		writeStatus(w, badRequest(err.Error()))
		return
	}
	if st := setNamespace(&cm.ObjectMeta, r.PathValue("ns")); st != nil {
		writeStatus(w, st)
		return
	}
	addWarnings(w, warnings)
	created, err := s.b.CreateConfigMap(r.Context(), cm)
	if err != nil {
		writeError(w, err)
		return
	}
	created.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
	writeJSON(w, http.StatusCreated, created)
}

func (s *server) listConfigMaps(w http.ResponseWriter, r *http.Request) {
	items, err := s.b.ListConfigMaps(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.ConfigMap{}
	}
	writeJSON(w, http.StatusOK, &corev1.ConfigMapList{
		TypeMeta: metav1.TypeMeta{Kind: "ConfigMapList", APIVersion: "v1"},
		Items:    items,
	})
}

func (s *server) getConfigMap(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cm, err := s.b.GetConfigMap(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "configmaps", name)
		return
	}
	cm.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, cm)
}

func (s *server) deleteConfigMap(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.b.DeleteConfigMap(r.Context(), r.PathValue("ns"), name); err != nil {
		writeObjectError(w, err, "configmaps", name)
		return
	}
	writeJSON(w, http.StatusOK, success("configmaps", name))
}
