package daemon

import "net/http"

// GET /minipod/v1/containerd answers with the containerd the daemon uses
// (api.ContainerdInfo), for minipod doctor.
func (s *server) containerd(w http.ResponseWriter, r *http.Request) {
	info, err := s.b.Containerd(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
