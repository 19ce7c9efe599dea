package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

// StatusError is an error the daemon answered with. errors.Is matches it
// against the errdefs class of its reason (errdefs.ErrNotFound for
// NotFound, and so on).
type StatusError struct {
	Status metav1.Status
}

func (e *StatusError) Error() string { return e.Status.Message }

// Unwrap returns the errdefs class of the Status's reason, or nil.
func (e *StatusError) Unwrap() error {
	switch e.Status.Reason {
	case metav1.StatusReasonNotFound:
		return errdefs.ErrNotFound
	case metav1.StatusReasonAlreadyExists:
		return errdefs.ErrAlreadyExists
	case metav1.StatusReasonConflict:
		return errdefs.ErrConflict
	case metav1.StatusReasonInvalid, metav1.StatusReasonBadRequest, metav1.StatusReasonRequestEntityTooLarge:
		return errdefs.ErrInvalidArgument
	case api.ReasonFailedPrecondition:
		return errdefs.ErrFailedPrecondition
	case metav1.StatusReasonServiceUnavailable:
		return errdefs.ErrUnavailable
	case metav1.StatusReasonForbidden, metav1.StatusReasonUnauthorized:
		return errdefs.ErrPermissionDenied
	case api.ReasonNotImplemented:
		return errdefs.ErrNotImplemented
	case metav1.StatusReasonTimeout:
		return context.DeadlineExceeded
	case metav1.StatusReasonInternalError:
		return errdefs.ErrInternal
	}
	return nil
}

// decodeStatusError reads a non-2xx answer into a *StatusError; an answer
// without a Status body becomes one from its code and text.
func decodeStatusError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st metav1.Status
	if err := json.Unmarshal(data, &st); err == nil && st.Kind == "Status" {
		if st.Code == 0 {
			st.Code = int32(resp.StatusCode)
		}
		return &StatusError{Status: st}
	}
	return &StatusError{Status: metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     int32(resp.StatusCode),
		Reason:   reasonForCode(resp.StatusCode),
		Message:  fmt.Sprintf("the daemon answered %s: %s", resp.Status, string(data)),
	}}
}

func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnprocessableEntity:
		return metav1.StatusReasonInvalid
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	}
	return metav1.StatusReasonInternalError
}
