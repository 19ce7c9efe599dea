package daemon

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/manifest"
)

func (s *server) createSecret(w http.ResponseWriter, r *http.Request) {
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	secret, warnings, err := manifest.DecodeSecret(requestSource, data)
	if err != nil {
		writeStatus(w, badRequest(err.Error()))
		return
	}
	if st := setNamespace(&secret.ObjectMeta, r.PathValue("ns")); st != nil {
		writeStatus(w, st)
		return
	}
	addWarnings(w, warnings)
	created, err := s.b.CreateSecret(r.Context(), secret)
	if err != nil {
		writeError(w, err)
		return
	}
	created.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	writeJSON(w, http.StatusCreated, created)
}

func (s *server) listSecrets(w http.ResponseWriter, r *http.Request) {
	items, err := s.b.ListSecrets(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.Secret{}
	}
	writeJSON(w, http.StatusOK, &corev1.SecretList{
		TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"},
		Items:    items,
	})
}

func (s *server) getSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	secret, err := s.b.GetSecret(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "secrets", name)
		return
	}
	secret.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, secret)
}

func (s *server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.b.DeleteSecret(r.Context(), r.PathValue("ns"), name); err != nil {
		writeObjectError(w, err, "secrets", name)
		return
	}
	writeJSON(w, http.StatusOK, success("secrets", name))
}
