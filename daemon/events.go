package daemon

import (
	"context"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// listEvents serves an EventList; `fieldSelector=involvedObject.name=POD`
// narrows it to one pod, as kubectl asks for it.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) {
	pod := ""
	for _, sel := range strings.Split(r.URL.Query().Get("fieldSelector"), ",") {
		if k, v, ok := strings.Cut(sel, "="); ok && k == "involvedObject.name" {
			pod = v
		}
	}
	if watching, st := queryBool(r, "watch"); st != nil || watching {
		if st != nil {
			writeStatus(w, st)
			return
		}
		// Events come and are counted again; those of a deleted pod stay
		// for the runtime's event TTL, and their expiry is not reported.
		s.watch(w, r, func(ctx context.Context) ([]object, error) {
			events, err := s.b.ListEvents(ctx, r.PathValue("ns"), pod)
			objs := make([]object, len(events))
			for i := range events {
				objs[i] = object{key: events[i].Namespace + "/" + events[i].Name, obj: &events[i]}
			}
			return objs, err
		}, false)
		return
	}
	items, err := s.b.ListEvents(r.Context(), r.PathValue("ns"), pod)
	if err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		items = []corev1.Event{}
	}
	writeJSON(w, http.StatusOK, &corev1.EventList{
		TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"},
		Items:    items,
	})
}
