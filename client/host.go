package client

import (
	"context"
	"net/http"

	"github.com/minipod/minipod/runtime"
)

// HostView returns what a pod is on the host: its network namespace, veth
// and bridge, container processes and shim, volumes and cgroup.
func (c *Client) HostView(ctx context.Context, namespace, name string) (*runtime.HostView, error) {
	var out runtime.HostView
	path := "/minipod/v1" + objPath(namespace, "pods", name)[len("/api/v1"):] + "/host"
	if err := c.doJSON(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UI is where the daemon serves its live view, with a one-time login link.
type UI struct {
	URL     string `json:"url"`
	Address string `json:"address"`
}

// UI asks the daemon for a one-time login link to its live view.
func (c *Client) UI(ctx context.Context) (*UI, error) {
	var out UI
	if err := c.doJSON(ctx, http.MethodGet, "/minipod/v1/ui", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
