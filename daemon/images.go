package daemon

import (
	"encoding/json"
	"net/http"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

func newImageList(images []api.Image) *api.ImageList {
	if images == nil {
		images = []api.Image{}
	}
	return &api.ImageList{TypeMeta: metav1.TypeMeta{Kind: "ImageList", APIVersion: api.APIVersion}, Items: images}
}

func (s *server) listImages(w http.ResponseWriter, r *http.Request) {
	images, err := s.b.ListImages(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newImageList(images))
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
		configs = map[string]*api.ImageConfig{}
	}
	writeJSON(w, http.StatusOK, &api.ImageConfigList{TypeMeta: metav1.TypeMeta{Kind: "ImageConfigList", APIVersion: api.APIVersion}, Items: configs})
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
	progress := func(p api.PullProgress) {
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
	enc.Encode(&api.PullResult{TypeMeta: metav1.TypeMeta{Kind: "PullResult", APIVersion: api.APIVersion}, Image: img})
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
