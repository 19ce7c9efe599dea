package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Kubeconfig asks the daemon for a kubeconfig that reaches its Kubernetes
// API (context "minipod", with the API's CA and a bearer token).
func (c *Client) Kubeconfig(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/minipod/v1/kubeconfig"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to read the kubeconfig from the daemon: %w", err)
	}
	return data, nil
}
