package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// errWatchEnded is the error of a watch the daemon ended (it is stopping).
var errWatchEnded = errors.New("the daemon ended the watch")

// WatchPods calls fn for every change to the pods of a namespace ("" for
// all of them): first ADDED for each pod there is, then ADDED, MODIFIED and
// DELETED as they come. It returns nil when ctx ends, fn's error if fn
// fails, and an error if the daemon ends the watch.
func (c *Client) WatchPods(ctx context.Context, namespace string, fn func(watch.EventType, *corev1.Pod) error) error {
	return c.watch(ctx, nsPath(namespace, "pods"), nil, func(typ watch.EventType, raw []byte) error {
		var p corev1.Pod
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("failed to decode a pod of the watch: %w", err)
		}
		return fn(typ, &p)
	})
}

// WatchEvents calls fn for every event of a namespace ("" for all), or of
// one pod: first each event there is, then each new one, and again each
// time an event is counted again. It returns as WatchPods does.
func (c *Client) WatchEvents(ctx context.Context, namespace, pod string, fn func(corev1.Event) error) error {
	q := url.Values{}
	if pod != "" {
		q.Set("fieldSelector", "involvedObject.name="+pod)
	}
	return c.watch(ctx, nsPath(namespace, "events"), q, func(_ watch.EventType, raw []byte) error {
		var e corev1.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("failed to decode an event of the watch: %w", err)
		}
		return fn(e)
	})
}

// watch reads the stream of metav1.WatchEvents of a list's watch.
func (c *Client) watch(ctx context.Context, path string, q url.Values, fn func(watch.EventType, []byte) error) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("watch", "true")
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev metav1.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errWatchEnded
			}
			return fmt.Errorf("failed to read the watch of %s: %w", path, err)
		}
		if err := fn(watch.EventType(ev.Type), ev.Object.Raw); err != nil {
			return err
		}
	}
}
