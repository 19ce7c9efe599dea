package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/minipod/minipod/api"
)

// GC asks the daemon to find, and unless dryRun remove, host leftovers that
// belong to no pod.
func (c *Client) GC(ctx context.Context, dryRun bool) (*api.GCReport, error) {
	var rep api.GCReport
	q := url.Values{"dryRun": {strconv.FormatBool(dryRun)}}
	if err := c.doJSON(ctx, http.MethodPost, "/minipod/v1/gc", q, nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
