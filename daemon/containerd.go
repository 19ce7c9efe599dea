package daemon

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

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

// runtimeHealth tells whether containerd answers, asking the backend at
// most once per healthCheckPeriod. While containerd does not answer, the
// pods keep running under their shims and the daemon still knows them; what
// it shows of them is as last known, and it says so (a Warning on every
// read of pods, the Node NotReady), as a kubelet whose container runtime is
// down reports its node NotReady.
type runtimeHealth struct {
	mu      sync.Mutex
	checked time.Time
	down    string // why containerd is unreachable, "" when it answers
	since   time.Time
	// wasDown tells that containerd has been unreachable since the daemon
	// started; since is then when it last changed.
	wasDown bool
}

const healthCheckPeriod = 2 * time.Second

// check returns why containerd is unreachable, or "" when it answers, and
// since when that has been so (zero when it has always answered).
func (h *runtimeHealth) check(ctx context.Context, b Backend) (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) < healthCheckPeriod {
		return h.down, h.sinceIfChanged()
	}
	down := ""
	info, err := b.Containerd(ctx)
	switch {
	case err != nil:
		down = err.Error()
	case info.Error != "":
		down = fmt.Sprintf("containerd at %s is unreachable: %s", info.Address, info.Error)
	}
	if (down == "") != (h.down == "") {
		h.since = time.Now()
	}
	h.wasDown = h.wasDown || down != ""
	h.checked, h.down = time.Now(), down
	return h.down, h.sinceIfChanged()
}

func (h *runtimeHealth) sinceIfChanged() time.Time {
	if !h.wasDown {
		return time.Time{}
	}
	return h.since
}

// warnIfRuntimeDown adds a Warning saying that containerd is unreachable and
// the pods' statuses are as last known, when that is so.
func (h *runtimeHealth) warnIfRuntimeDown(ctx context.Context, w http.ResponseWriter, b Backend) {
	if down, _ := h.check(ctx, b); down != "" {
		addWarnings(w, []string{down + "; the pods' statuses are as last known"})
	}
}
