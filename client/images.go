package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

// PullImage pulls ref, calling fn (if not nil) with each progress report.
func (c *Client) PullImage(ctx context.Context, ref string, fn func(api.PullProgress)) (api.Image, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/minipod/v1/images/pull", query: url.Values{"ref": {ref}}})
	if err != nil {
		return api.Image{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var probe metav1.TypeMeta
		if err := json.Unmarshal(line, &probe); err != nil {
			return api.Image{}, fmt.Errorf("failed to pull image %q: bad line from the daemon: %w", ref, err)
		}
		switch probe.Kind {
		case "":
			var p api.PullProgress
			if err := json.Unmarshal(line, &p); err != nil {
				return api.Image{}, fmt.Errorf("failed to pull image %q: bad progress from the daemon: %w", ref, err)
			}
			if fn != nil {
				fn(p)
			}
		case "Status":
			var st metav1.Status
			if err := json.Unmarshal(line, &st); err != nil {
				return api.Image{}, fmt.Errorf("failed to pull image %q: bad status from the daemon: %w", ref, err)
			}
			return api.Image{}, &StatusError{Status: st}
		default:
			var res api.PullResult
			if err := json.Unmarshal(line, &res); err != nil {
				return api.Image{}, fmt.Errorf("failed to pull image %q: bad result from the daemon: %w", ref, err)
			}
			return res.Image, nil
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return api.Image{}, ctx.Err()
		}
		return api.Image{}, fmt.Errorf("failed to pull image %q: %w", ref, err)
	}
	return api.Image{}, fmt.Errorf("failed to pull image %q: the daemon ended the stream without a result", ref)
}

// LoadImage sends an OCI or Docker archive to the daemon and returns the
// images it held.
func (c *Client) LoadImage(ctx context.Context, archive io.Reader) ([]api.Image, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/minipod/v1/images/load", body: archive, ctype: "application/x-tar"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list api.ImageList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("failed to decode the loaded images: %w", err)
	}
	return list.Items, nil
}

// ListImages lists the images in minipod's containerd namespace.
func (c *Client) ListImages(ctx context.Context) ([]api.Image, error) {
	var list api.ImageList
	if err := c.doJSON(ctx, http.MethodGet, "/minipod/v1/images", nil, nil, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// ImageConfigs returns the configs of those of refs that are present, by
// ref as given.
func (c *Client) ImageConfigs(ctx context.Context, refs []string) (map[string]*api.ImageConfig, error) {
	var list api.ImageConfigList
	if err := c.doJSON(ctx, http.MethodGet, "/minipod/v1/images/config", url.Values{"ref": refs}, nil, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// RemoveImage removes an image.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	return c.doJSON(ctx, http.MethodDelete, "/minipod/v1/images", url.Values{"ref": {ref}}, nil, nil)
}

// Containerd tells which containerd the daemon uses, and whether it answers.
func (c *Client) Containerd(ctx context.Context) (api.ContainerdInfo, error) {
	var info api.ContainerdInfo
	err := c.doJSON(ctx, http.MethodGet, "/minipod/v1/containerd", nil, nil, &info)
	return info, err
}
