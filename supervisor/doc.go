// Package supervisor decides what becomes of a pod's containers while they
// run, as the kubelet's prober, lifecycle and computePodActions do, over a
// small host interface so that it links no container runtime:
//
//   - probe workers (Work) only record results (Results.Set), as the
//     kubelet's prober workers do with resultsManager.Set;
//   - Runner runs exec, httpGet, tcpSocket and sleep handlers for probes
//     and lifecycle hooks alike, exec through the Host;
//   - Policy.Decide is the one place that says whether a container is
//     killed (a failed startup or liveness probe, a failed postStart hook)
//     or restarted, and after which back-off.
//
// The runtime applies what is decided: it kills, restarts and records the
// container's state.
package supervisor
