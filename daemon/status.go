package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/containerd/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
)

// statusClass maps an errdefs class to the HTTP code and reason of its Status.
var statusClasses = []struct {
	class  error
	code   int
	reason metav1.StatusReason
}{
	{errdefs.ErrNotFound, http.StatusNotFound, metav1.StatusReasonNotFound},
	{errdefs.ErrAlreadyExists, http.StatusConflict, metav1.StatusReasonAlreadyExists},
	{errdefs.ErrConflict, http.StatusConflict, metav1.StatusReasonConflict},
	{errdefs.ErrInvalidArgument, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid},
	{errdefs.ErrFailedPrecondition, http.StatusPreconditionFailed, api.ReasonFailedPrecondition},
	{errdefs.ErrUnavailable, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable},
	{errdefs.ErrPermissionDenied, http.StatusForbidden, metav1.StatusReasonForbidden},
	// A pod the host cannot admit (OutOfcpu, OutOfmemory), answered as the
	// API server answers a request over a quota.
	{errdefs.ErrResourceExhausted, http.StatusForbidden, metav1.StatusReasonForbidden},
	{errdefs.ErrNotImplemented, http.StatusNotImplemented, api.ReasonNotImplemented},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, metav1.StatusReasonTimeout},
	{context.Canceled, http.StatusGatewayTimeout, metav1.StatusReasonTimeout},
}

// Status returns the metav1.Status the API sends for err: its HTTP code and
// reason come from the error's errdefs class (500 InternalError when it has
// none), its message is the error text.
func Status(err error) *metav1.Status {
	code, reason := http.StatusInternalServerError, metav1.StatusReasonInternalError
	for _, c := range statusClasses {
		if errors.Is(err, c.class) {
			code, reason = c.code, c.reason
			break
		}
	}
	return newStatus(code, reason, err.Error())
}

func newStatus(code int, reason metav1.StatusReason, msg string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Reason:   reason,
		Code:     int32(code),
	}
}
