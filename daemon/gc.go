package daemon

import (
	"context"
	"net/http"

	"github.com/minipod/minipod/runtime"
)

// GarbageCollector removes host leftovers that belong to no pod; the
// runtime implements it.
type GarbageCollector interface {
	GC(ctx context.Context, dryRun bool) (*runtime.GCReport, error)
}

// gcHandler serves POST /minipod/v1/gc?dryRun=true|false.
func gcHandler(gc GarbageCollector) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dryRun, st := queryBool(r, "dryRun")
		if st != nil {
			writeStatus(w, st)
			return
		}
		rep, err := gc.GC(r.Context(), dryRun)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}
}
