package daemon

import (
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

func (s *server) podLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := api.LogOptions{Container: q.Get("container")}
	var st *metav1.Status
	if opts.Follow, st = queryBool(r, "follow"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.Previous, st = queryBool(r, "previous"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.Timestamps, st = queryBool(r, "timestamps"); st != nil {
		writeStatus(w, st)
		return
	}
	if opts.TailLines, st = queryInt(r, "tailLines"); st != nil {
		writeStatus(w, st)
		return
	}
	since, st := queryInt(r, "sinceSeconds")
	if st != nil {
		writeStatus(w, st)
		return
	}
	if since != nil {
		opts.Since = time.Duration(*since) * time.Second
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	fw := newFlushWriter(w, "text/plain; charset=utf-8")
	err := s.b.Logs(ctx, r.PathValue("ns"), r.PathValue("name"), opts, fw)
	if err == nil {
		fw.start()
		return
	}
	if !fw.started {
		writeError(w, err)
		return
	}
	// The stream has begun; the client sees it end early.
	if ctx.Err() == nil {
		s.log.Warn("failed to stream logs", "namespace", r.PathValue("ns"), "pod", r.PathValue("name"), "error", err)
	}
}
