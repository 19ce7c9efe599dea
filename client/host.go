package client

import (
	"context"
	"net/http"

	"github.com/minipod/minipod/api"
)

// HostView returns what a pod is on the host: its network namespace, veth
// and bridge, container processes and shim, volumes and cgroup.
func (c *Client) HostView(ctx context.Context, namespace, name string) (*api.HostView, error) {
	var out api.HostView
	path := "/minipod/v1" + objPath(namespace, "pods", name)[len("/api/v1"):] + "/host"
	if err := c.doJSON(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UI asks the daemon for a one-time login link to its live view.
func (c *Client) UI(ctx context.Context) (*api.UIInfo, error) {
	var out api.UIInfo
	if err := c.doJSON(ctx, http.MethodGet, "/minipod/v1/ui", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
