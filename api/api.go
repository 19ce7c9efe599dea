package api

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/minipod/minipod.sock"

// APIVersion is the apiVersion of minipod's own objects (images).
const APIVersion = "minipod/v1"

// Reasons minipod uses where Kubernetes has no StatusReason of its own.
const (
	ReasonFailedPrecondition metav1.StatusReason = "FailedPrecondition"
	ReasonNotImplemented     metav1.StatusReason = "NotImplemented"
)
