package main

import (
	"fmt"
	"strconv"
	"strings"
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

// startFailureReasons are the Waiting reasons of a container that the
// runtime could not start (its image, its configuration or its task): the
// pod stays, and the container is tried again with back-off.
var startFailureReasons = map[string]bool{
	"RunContainerError":          true,
	"CreateContainerError":       true,
	"CreateContainerConfigError": true,
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"ErrImageNeverPull":          true,
	"InvalidImageName":           true,
}

// startFailure is the error of a pod that was created and kept, with a
// container that could not start: one line per container, then lines of
// advice, printed under the pod's name.
type startFailure struct{ lines []string }

func (e *startFailure) Error() string { return strings.Join(e.lines, "\n") }

// cannotStart tells why a pod that was created has a container that could
// not start, and what to try, or nil when every container started (or
// ran: one that crashes after its start is in its logs, not here).
func cannotStart(pod *corev1.Pod) error {
	ns := ""
	if pod.Namespace != "" && pod.Namespace != "default" {
		ns = " -n " + pod.Namespace
	}
	var failed, hints, pulls []string
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		reason, msg := "", ""
		last := cs.LastTerminationState.Terminated
		switch w, t := cs.State.Waiting, cs.State.Terminated; {
		case w != nil && startFailureReasons[w.Reason]:
			reason, msg = w.Reason, w.Message
		case w != nil && w.Reason == "CrashLoopBackOff" && last != nil && last.Reason == "StartError":
			reason, msg = "RunContainerError", last.Message
		case t != nil && t.Reason == "StartError":
			reason, msg = t.Reason, t.Message
		}
		if reason == "" {
			continue
		}
		failed = append(failed, fmt.Sprintf("container %q cannot start: %s: %s", cs.Name, reason, msg))
		if reason == "ErrImagePull" || reason == "ImagePullBackOff" {
			image := specImage(pod, cs.Name)
			if archive := demoImageArchive(image); archive != "" {
				pulls = append(pulls, fmt.Sprintf("  the image %s is one of the repository's demo images: scripts/build-demo-images.sh (or scripts/build-busybox-image.sh) builds it, then: minipod image load %s", image, archive))
			} else {
				pulls = append(pulls, fmt.Sprintf("  load the image %s (minipod image load FILE.tar) or push it to its registry: the container starts by itself once it is there", image))
			}
			continue
		}
		hints = append(hints, fmt.Sprintf("           minipod logs %s -c %s --previous%s", pod.Name, cs.Name, ns))
	}
	if len(failed) == 0 {
		return nil
	}
	lines := append(failed, fmt.Sprintf("  see why: minipod describe pod %s%s", pod.Name, ns))
	lines = append(lines, hints...)
	lines = append(lines, pulls...)
	lines = append(lines, fmt.Sprintf("  the pod stays, its containers retried with back-off, until: minipod delete pod %s%s", pod.Name, ns))
	return &startFailure{lines: lines}
}

// specImage is the image a container of the pod names.
func specImage(pod *corev1.Pod, name string) string {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.Name == name {
				return c.Image
			}
		}
	}
	return ""
}

// demoImages are the images the repository builds offline, by the
// archive scripts/build-demo-images.sh and scripts/build-busybox-image.sh
// write for each under _output/images.
var demoImages = map[string]string{
	"busybox:1.36":              "busybox",
	"busybox:latest":            "busybox",
	"minipod/webapp:1.0":        "webapp",
	"simple-webapp:1.0":         "webapp",
	"minipod/log-shipper:1.0":   "log-shipper",
	"log-agent:1.0":             "log-shipper",
	"minipod/log-adapter:1.0":   "log-adapter",
	"minipod/log-collector:1.0": "log-collector",
	"minipod/ambassador:1.0":    "ambassador",
	"minipod/kvdb:1.0":          "kvdb",
	"minipod/db-client:1.0":     "db-client",
}

// demoImageArchive is the archive that holds image when it is one of the
// repository's demo images, or "".
func demoImageArchive(image string) string {
	ref := strings.TrimPrefix(image, "docker.io/")
	ref = strings.TrimPrefix(ref, "library/")
	if !strings.Contains(ref, ":") && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	if name, ok := demoImages[ref]; ok {
		return "_output/images/" + name + ".tar"
	}
	return ""
}
