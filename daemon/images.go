package daemon

import (
	"encoding/json"
	"net/http"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/runtime"
)

// APIVersion is the apiVersion of minipod's own objects (images).
const APIVersion = "minipod/v1"

// ImageList is the body of GET /minipod/v1/images and of the answer to
// POST /minipod/v1/images/load.
type ImageList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []runtime.Image `json:"items"`
}

// PullResult is the last line of a successful pull stream.
//
// POST /minipod/v1/images/pull?ref=REF answers with newline-delimited JSON:
// zero or more runtime.PullProgress objects (they have no "kind"), then one
// final object: a PullResult (kind "PullResult") or, when the pull failed
// after the stream began, a metav1.Status (kind "Status"). A pull that fails
// before any progress is answered with an ordinary error status code.
type PullResult struct {
	metav1.TypeMeta `json:",inline"`
	Image           runtime.Image `json:"image"`
}

func newImageList(images []runtime.Image) *ImageList {
	if images == nil {
		images = []runtime.Image{}
	}
	return &ImageList{TypeMeta: metav1.TypeMeta{Kind: "ImageList", APIVersion: APIVersion}, Items: images}
}

func (s *server) listImages(w http.ResponseWriter, r *http.Request) {
	images, err := s.b.ListImages(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newImageList(images))
}

// ImageConfigList is the answer of GET /minipod/v1/images/config: the
// configs of the images asked for (ref, repeated) that are present.
type ImageConfigList struct {
	metav1.TypeMeta `json:",inline"`
	Items           map[string]*runtime.ImageConfig `json:"items"`
}

func (s *server) imageConfigs(w http.ResponseWriter, r *http.Request) {
	refs := r.URL.Query()["ref"]
	if len(refs) == 0 {
		writeStatus(w, badRequest("query parameter ref is required: the images whose configs to read"))
		return
	}
	configs, err := s.b.ImageConfigs(r.Context(), refs)
	if err != nil {
		writeError(w, err)
		return
	}
	if configs == nil {
		configs = map[string]*runtime.ImageConfig{}
	}
	writeJSON(w, http.StatusOK, &ImageConfigList{TypeMeta: metav1.TypeMeta{Kind: "ImageConfigList", APIVersion: APIVersion}, Items: configs})
}

func (s *server) pullImage(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		writeStatus(w, badRequest("query parameter ref is required: the image to pull"))
		return
	}
	fw := newFlushWriter(w, "application/x-ndjson")
	enc := json.NewEncoder(fw)
	var mu sync.Mutex // the backend may report from several goroutines
	done := false
	progress := func(p runtime.PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			enc.Encode(p)
		}
	}
	img, err := s.b.PullImage(r.Context(), ref, progress)
	mu.Lock()
	defer mu.Unlock()
	done = true
	if err != nil {
		if !fw.started {
			writeError(w, err)
			return
		}
		enc.Encode(Status(err))
		return
	}
	enc.Encode(&PullResult{TypeMeta: metav1.TypeMeta{Kind: "PullResult", APIVersion: APIVersion}, Image: img})
}

func (s *server) loadImage(w http.ResponseWriter, r *http.Request) {
	images, err := s.b.LoadImage(r.Context(), r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newImageList(images))
}

func (s *server) removeImage(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		writeStatus(w, badRequest("query parameter ref is required: the image to remove"))
		return
	}
	if err := s.b.RemoveImage(r.Context(), ref); err != nil {
		writeObjectError(w, err, "images", ref)
		return
	}
	writeJSON(w, http.StatusOK, success("images", ref))
}
