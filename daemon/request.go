package daemon

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/manifest"
)

// readObject reads a request body of at most MaxObjectBytes. On failure it
// has answered the request and returns false.
func readObject(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxObjectBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, newStatus(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", MaxObjectBytes)))
			return nil, false
		}
		writeStatus(w, badRequest(fmt.Sprintf("failed to read the request body: %v", err)))
		return nil, false
	}
	return data, true
}

// requestSource names a request body in decode and validation errors.
var requestSource = manifest.Source{File: "request"}

// setNamespace puts the URL's namespace on an object, or refuses an object
// that names another one.
func setNamespace(meta *metav1.ObjectMeta, ns string) *metav1.Status {
	if meta.Namespace == "" {
		meta.Namespace = ns
		return nil
	}
	if meta.Namespace != ns {
		return badRequest(fmt.Sprintf("the namespace of the object (%q) does not match the namespace of the request (%q)", meta.Namespace, ns))
	}
	return nil
}

func queryBool(r *http.Request, key string) (bool, *metav1.Status) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(fmt.Sprintf("query parameter %s=%q is not a boolean", key, v))
	}
	return b, nil
}

func queryInt(r *http.Request, key string) (*int64, *metav1.Status) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("query parameter %s=%q is not an integer", key, v))
	}
	return &n, nil
}
