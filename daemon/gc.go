package daemon

import (
	"net/http"
)

// gc serves POST /minipod/v1/gc?dryRun=true|false: it finds, and unless
// dryRun removes, host leftovers that belong to no pod.
func (s *server) gc(w http.ResponseWriter, r *http.Request) {
	dryRun, st := queryBool(r, "dryRun")
	if st != nil {
		writeStatus(w, st)
		return
	}
	rep, err := s.b.GC(r.Context(), dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
