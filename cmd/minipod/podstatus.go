package main

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// podSummary is what `get pods` shows of a pod, computed the way kubectl
// does.
type podSummary struct {
	Ready    string // "1/2"
	Status   string // "Running", "Init:0/1", "CrashLoopBackOff", "Terminating", ...
	Restarts string // "0", or "3 (2m ago)" after a restart
}

// isSidecar reports whether an init container is a restartable one (a
// sidecar): it keeps running beside the app containers and counts as one.
func isSidecar(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// summarizePod computes READY, STATUS and RESTARTS of a pod at now.
func summarizePod(pod *corev1.Pod, now time.Time) podSummary {
	status := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		status = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			status = corev1.PodReasonSchedulingGated
		}
	}

	total := len(pod.Spec.Containers)
	initSpecs := map[string]*corev1.Container{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		initSpecs[c.Name] = c
		if isSidecar(c) {
			total++
		}
	}

	ready := 0
	// restarts of all containers, and of sidecars only (which keep counting
	// once the pod is initialized), with the time of their latest restart.
	var all, sidecars restartCount
	initializing := false
initLoop:
	for i, cs := range pod.Status.InitContainerStatuses {
		all.add(cs)
		sidecar := isSidecar(initSpecs[cs.Name])
		if sidecar {
			sidecars.add(cs)
		}
		term, wait := cs.State.Terminated, cs.State.Waiting
		switch {
		case term != nil && term.ExitCode == 0:
			// done
		case sidecar && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
		case term != nil:
			initializing = true
			switch {
			case term.Reason != "":
				status = "Init:" + term.Reason
			case term.Signal != 0:
				status = fmt.Sprintf("Init:Signal:%d", term.Signal)
			default:
				status = fmt.Sprintf("Init:ExitCode:%d", term.ExitCode)
			}
			break initLoop
		case wait != nil && wait.Reason != "" && wait.Reason != "PodInitializing":
			initializing = true
			status = "Init:" + wait.Reason
			break initLoop
		default:
			initializing = true
			status = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
			break initLoop
		}
	}

	restarts := all
	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		restarts = sidecars
		running := false
		// Walk backwards so that the first container's reason wins, as in kubectl.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts.add(cs)
			term, wait := cs.State.Terminated, cs.State.Waiting
			switch {
			case wait != nil && wait.Reason != "":
				status = wait.Reason
			case term != nil && term.Reason != "":
				status = term.Reason
			case term != nil && term.Signal != 0:
				status = fmt.Sprintf("Signal:%d", term.Signal)
			case term != nil:
				status = fmt.Sprintf("ExitCode:%d", term.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				ready++
			}
		}
		if status == "Completed" && running {
			if podConditionTrue(pod, corev1.PodReady) {
				status = "Running"
			} else {
				status = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == "NodeLost":
			status = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			status = "Terminating"
		}
	}

	r := strconv.Itoa(restarts.n)
	if restarts.n != 0 && !restarts.last.IsZero() {
		r = fmt.Sprintf("%d (%s ago)", restarts.n, age(restarts.last, now))
	}
	return podSummary{Ready: fmt.Sprintf("%d/%d", ready, total), Status: status, Restarts: r}
}

type restartCount struct {
	n    int
	last time.Time
}

func (r *restartCount) add(cs corev1.ContainerStatus) {
	r.n += int(cs.RestartCount)
	if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(r.last) {
		r.last = t.FinishedAt.Time
	}
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// age prints how long ago t was, as kubectl does (5s, 3m2s, 2d); "<unknown>"
// for a zero time.
func age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// ageOf is age of an object's creation.
func ageOf(meta metav1.ObjectMeta, now time.Time) string {
	return age(meta.CreationTimestamp.Time, now)
}
