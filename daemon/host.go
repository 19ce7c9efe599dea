package daemon

import (
	"net/http"
)

// hostView serves GET /minipod/v1/namespaces/{ns}/pods/{name}/host: what
// the pod is on the host (`minipod describe pod --host`).
func (s *server) hostView(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, err := s.b.HostView(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
