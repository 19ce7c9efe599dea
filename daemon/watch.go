package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// object is one item of a watched list, with the key that identifies it.
type object struct {
	key string
	obj any
}

// watch serves `?watch=true` on a list as the API server does: one
// metav1.WatchEvent per line, first ADDED for every item, then ADDED,
// MODIFIED (and, with deletions, DELETED) as items change, until the client
// goes away or the server stops. It lists again each time the backend
// reports a change, never on a timer, and sends only what differs from
// what it sent last.
func (s *server) watch(w http.ResponseWriter, r *http.Request, list func(context.Context) ([]object, error), deletions bool) {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	fw := newFlushWriter(w, "application/json")
	enc := json.NewEncoder(fw)
	send := func(typ watch.EventType, raw []byte) bool {
		return enc.Encode(metav1.WatchEvent{Type: string(typ), Object: k8sruntime.RawExtension{Raw: raw}}) == nil
	}
	sent := map[string][]byte{}
	for {
		// Taken before the list, so that a change while it is read is not
		// missed.
		changed := s.b.Changed()
		objs, err := list(ctx)
		if err != nil {
			if !fw.started {
				writeError(w, err)
			}
			return
		}
		seen := make(map[string]bool, len(objs))
		for _, o := range objs {
			seen[o.key] = true
			raw, err := json.Marshal(o.obj)
			if err != nil {
				return
			}
			prev, known := sent[o.key]
			if known && bytes.Equal(prev, raw) {
				continue
			}
			typ := watch.Modified
			if !known {
				typ = watch.Added
			}
			sent[o.key] = raw
			if !send(typ, raw) {
				return
			}
		}
		for key, raw := range sent {
			if seen[key] {
				continue
			}
			delete(sent, key)
			if deletions && !send(watch.Deleted, raw) {
				return
			}
		}
		// The headers go out even while there is nothing to send.
		fw.start()
		if err := fw.rc.Flush(); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
