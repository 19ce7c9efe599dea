package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeStatus(w http.ResponseWriter, st *metav1.Status) {
	writeJSON(w, int(st.Code), st)
}

func writeError(w http.ResponseWriter, err error) {
	writeStatus(w, Status(err))
}

// writeObjectError is writeError for a request on one named object: NotFound
// reads as Kubernetes says it (`pods "web" not found`).
func writeObjectError(w http.ResponseWriter, err error, resource, name string) {
	if errors.Is(err, errdefs.ErrNotFound) {
		st := newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", resource, name))
		st.Details = &metav1.StatusDetails{Name: name, Kind: resource}
		writeStatus(w, st)
		return
	}
	writeError(w, err)
}

func badRequest(msg string) *metav1.Status {
	return newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, msg)
}

func success(resource, name string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     http.StatusOK,
		Details:  &metav1.StatusDetails{Name: name, Kind: resource},
	}
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
	}
}

// flushWriter sends each write to the client at once. It writes the
// response header on the first write, so that an error before any output
// can still be answered with a Status.
type flushWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	started     bool
}

func newFlushWriter(w http.ResponseWriter, contentType string) *flushWriter {
	return &flushWriter{w: w, rc: http.NewResponseController(w), contentType: contentType}
}

func (fw *flushWriter) start() {
	if fw.started {
		return
	}
	fw.started = true
	fw.w.Header().Set("Content-Type", fw.contentType)
	fw.w.Header().Set("X-Content-Type-Options", "nosniff")
	fw.w.WriteHeader(http.StatusOK)
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.start()
	n, err := fw.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, fw.rc.Flush()
}
