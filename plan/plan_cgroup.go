package plan

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pods are placed in cgroups as the kubelet places them (cgroupfs driver,
// kubepods renamed minipod): Guaranteed pods directly under the root,
// Burstable ones under root/burstable, BestEffort ones under
// root/besteffort; each container in its pod's cgroup.
const (
	CgroupPodsRoot       = "/minipod"
	CgroupBurstableName  = "burstable"
	CgroupBestEffortName = "besteffort"
)

// The kubelet's conversions of CPU to cgroup values.
const (
	MinShares     = 2      // the least cpu.shares; BestEffort's
	maxShares     = 262144 // the most cpu.shares
	sharesPerCPU  = 1024
	minQuotaUS    = 1000   // the kernel's least CFS quota, 1ms
	cfsPeriod     = 100000 // µs, the kubelet's CFS period
	milliCPUToCPU = 1000
)

// qosCgroupParent is the cgroup a pod of that QoS class is placed under.
func QOSCgroupParent(qos corev1.PodQOSClass) string {
	switch qos {
	case corev1.PodQOSBurstable:
		return CgroupPodsRoot + "/" + CgroupBurstableName
	case corev1.PodQOSBestEffort:
		return CgroupPodsRoot + "/" + CgroupBestEffortName
	}
	return CgroupPodsRoot
}

// podCgroupName is a pod's cgroup's own name, pod<uid>.
func PodCgroupName(uid string) string {
	return "pod" + strings.ReplaceAll(uid, "-", "_")
}

// podCgroupParent is the cgroup path of a pod, relative to each hierarchy.
func podCgroupParent(uid string, qos corev1.PodQOSClass) string {
	return QOSCgroupParent(qos) + "/" + PodCgroupName(uid)
}

// milliCPUToShares converts CPU to cpu.shares as the kubelet does: no
// request is the least weight (2), not the kernel's default 1024.
func milliCPUToShares(milliCPU int64) uint64 {
	if milliCPU == 0 {
		return MinShares
	}
	shares := milliCPU * sharesPerCPU / milliCPUToCPU
	switch {
	case shares < MinShares:
		return MinShares
	case shares > maxShares:
		return maxShares
	}
	return uint64(shares)
}

// milliCPUToQuota converts a CPU limit to a CFS quota over period; 0 when
// there is no limit.
func milliCPUToQuota(milliCPU, period int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	quota := milliCPU * period / milliCPUToCPU
	if quota < minQuotaUS {
		quota = minQuotaUS
	}
	return quota
}

// sharesToWeight converts cpu.shares (cgroup v1, 2..262144) to cpu.weight
// (cgroup v2, 1..10000) as runc and the kubelet convert them.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < MinShares {
		shares = MinShares
	}
	if shares > maxShares {
		shares = maxShares
	}
	return 1 + (shares-2)*9999/262142
}

// podCPUMemory sums a pod's requests or limits of CPU (millicores) and
// memory (bytes) as the kubelet does: the app containers and the native
// sidecars together, or an init container (with the sidecars started
// before it) if that is more. each is called with every container's list.
func podCPUMemory(pod *corev1.Pod, of func(corev1.Container) corev1.ResourceList) (cpu, mem int64) {
	var sumCPU, sumMem, sideCPU, sideMem, initCPU, initMem int64
	for _, c := range pod.Spec.Containers {
		l := of(c)
		sumCPU += l.Cpu().MilliValue()
		sumMem += l.Memory().Value()
	}
	for _, c := range pod.Spec.InitContainers {
		l := of(c)
		ccpu, cmem := l.Cpu().MilliValue(), l.Memory().Value()
		if IsSidecar(&c) {
			sumCPU += ccpu
			sumMem += cmem
			sideCPU += ccpu
			sideMem += cmem
			ccpu, cmem = sideCPU, sideMem
		} else {
			ccpu += sideCPU
			cmem += sideMem
		}
		initCPU = max(initCPU, ccpu)
		initMem = max(initMem, cmem)
	}
	return max(sumCPU, initCPU), max(sumMem, initMem)
}

// requestsOf is a container's requests, a limit standing for a request
// that is not set (as the API server defaults it).
func requestsOf(c corev1.Container) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[name]; ok {
			out[name] = q
		} else if q, ok := c.Resources.Limits[name]; ok {
			out[name] = q
		}
	}
	return out
}

func limitsOf(c corev1.Container) corev1.ResourceList { return c.Resources.Limits }

// podCgroupResources is what a pod's own cgroup enforces, as the kubelet's
// ResourceConfigForPod computes it: cpu.shares from the sum of the CPU
// requests (2 for BestEffort); a CFS quota and a memory limit from the sums
// of the limits, for Guaranteed pods, and for Burstable ones only when
// every container sets that limit.
func podCgroupResources(pod *corev1.Pod) Resources {
	qos := QOSClass(pod)
	if qos == corev1.PodQOSBestEffort {
		return Resources{CPUShares: MinShares}
	}
	cpuReq, _ := podCPUMemory(pod, requestsOf)
	cpuLim, memLim := podCPUMemory(pod, limitsOf)
	cpuLimited, memLimited := true, true
	for _, c := range AllContainers(pod) {
		if c.Resources.Limits.Cpu().IsZero() {
			cpuLimited = false
		}
		if c.Resources.Limits.Memory().IsZero() {
			memLimited = false
		}
	}
	r := Resources{CPUShares: milliCPUToShares(cpuReq)}
	if qos == corev1.PodQOSGuaranteed || cpuLimited {
		r.CPUQuota, r.CPUPeriod = milliCPUToQuota(cpuLim, cfsPeriod), cfsPeriod
	}
	if qos == corev1.PodQOSGuaranteed || memLimited {
		r.MemoryLimit = memLim
	}
	return r
}

// burstableShares is the cpu.shares of the Burstable QoS cgroup, as the
// kubelet sets it: the sum of the CPU requests of the Burstable pods.
func BurstableShares(pods []*corev1.Pod) uint64 {
	var milli int64
	for _, p := range pods {
		if QOSClass(p) == corev1.PodQOSBurstable {
			cpu, _ := podCPUMemory(p, requestsOf)
			milli += cpu
		}
	}
	return milliCPUToShares(milli)
}

// cgroupFile is one value to write in a cgroup: Controller is the v1
// hierarchy that holds it ("" on cgroup v2).
type CgroupFile struct {
	Controller, Name, Value string
}

// cgroupV1Files are the files of cgroup v1 that enforce r, in the order
// they must be written (the period before the quota).
func CgroupV1Files(r Resources) []CgroupFile {
	var out []CgroupFile
	if r.CPUShares > 0 {
		out = append(out, CgroupFile{"cpu", "cpu.shares", strconv.FormatUint(r.CPUShares, 10)})
	}
	if r.CPUQuota > 0 {
		out = append(out,
			CgroupFile{"cpu", "cpu.cfs_period_us", strconv.FormatUint(r.CPUPeriod, 10)},
			CgroupFile{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(r.CPUQuota, 10)})
	}
	if r.MemoryLimit > 0 {
		out = append(out, CgroupFile{"memory", "memory.limit_in_bytes", strconv.FormatInt(r.MemoryLimit, 10)})
	}
	if r.PidsLimit > 0 {
		out = append(out, CgroupFile{"pids", "pids.max", strconv.FormatInt(r.PidsLimit, 10)})
	}
	return out
}

// cgroupV2Files are the files of cgroup v2 that enforce r: cpu.weight
// converted from the shares, cpu.max, memory.max.
func CgroupV2Files(r Resources) []CgroupFile {
	var out []CgroupFile
	if r.CPUShares > 0 {
		out = append(out, CgroupFile{"", "cpu.weight", strconv.FormatUint(sharesToWeight(r.CPUShares), 10)})
	}
	if r.CPUQuota > 0 {
		out = append(out, CgroupFile{"", "cpu.max", strconv.FormatInt(r.CPUQuota, 10) + " " + strconv.FormatUint(r.CPUPeriod, 10)})
	}
	if r.MemoryLimit > 0 {
		out = append(out, CgroupFile{"", "memory.max", strconv.FormatInt(r.MemoryLimit, 10)})
	}
	if r.PidsLimit > 0 {
		out = append(out, CgroupFile{"", "pids.max", strconv.FormatInt(r.PidsLimit, 10)})
	}
	return out
}

// PodRequests are the pod's CPU (milli-CPUs) and memory (bytes) requests,
// as the kubelet's admission and the scheduler count them.
func PodRequests(pod *corev1.Pod) (milliCPU, memory int64) {
	return podCPUMemory(pod, requestsOf)
}
