package plan

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCPUConversions(t *testing.T) {
	for _, tc := range []struct {
		milli  int64
		shares uint64
		weight uint64
		quota  int64
	}{
		{0, 2, 1, 0},
		{1, 2, 1, 1000},
		{100, 102, 4, 10000},
		{250, 256, 10, 25000},
		{1000, 1024, 39, 100000},
		{2500, 2560, 98, 250000},
		{1000000, 262144, 10000, 100000000},
	} {
		if got := milliCPUToShares(tc.milli); got != tc.shares {
			t.Errorf("milliCPUToShares(%d) = %d, want %d", tc.milli, got, tc.shares)
		}
		if got := sharesToWeight(milliCPUToShares(tc.milli)); got != tc.weight {
			t.Errorf("cpu.weight of %dm = %d, want %d", tc.milli, got, tc.weight)
		}
		if got := milliCPUToQuota(tc.milli, cfsPeriod); got != tc.quota {
			t.Errorf("milliCPUToQuota(%d) = %d, want %d", tc.milli, got, tc.quota)
		}
	}
}

func container(name string, requests, limits map[corev1.ResourceName]string) corev1.Container {
	c := corev1.Container{Name: name}
	for k, v := range requests {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[k] = resource.MustParse(v)
	}
	for k, v := range limits {
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[k] = resource.MustParse(v)
	}
	return c
}

type rl = map[corev1.ResourceName]string

const (
	cpu = corev1.ResourceCPU
	mem = corev1.ResourceMemory
)

func podOf(init []corev1.Container, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{InitContainers: init, Containers: containers}}
}

// The pod's own cgroup, its parent and its containers' values, as the
// kubelet computes them.
func TestPodCgroupResources(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := container("sidecar", rl{cpu: "100m"}, nil)
	sidecar.RestartPolicy = &always
	tests := []struct {
		name       string
		pod        *corev1.Pod
		parent     string
		pod1       Resources
		containers []Resources
	}{
		{"BestEffort: 2 shares everywhere",
			podOf(nil, container("a", nil, nil), container("b", nil, nil)),
			"/minipod/besteffort/podu_1",
			Resources{CPUShares: 2},
			[]Resources{{CPUShares: 2}, {CPUShares: 2}}},
		{"Burstable: shares from the requests; no quota nor memory limit unless every container has one",
			podOf(nil, container("a", rl{cpu: "100m"}, rl{cpu: "500m", mem: "64Mi"}), container("b", nil, nil)),
			"/minipod/burstable/podu_1",
			Resources{CPUShares: 102},
			[]Resources{{CPUShares: 102, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 64 << 20}, {CPUShares: 2}}},
		{"Burstable with every limit: the sums of the limits",
			podOf(nil, container("a", rl{cpu: "100m", mem: "16Mi"}, rl{cpu: "500m", mem: "64Mi"}), container("b", nil, rl{cpu: "250m", mem: "32Mi"})),
			"/minipod/burstable/podu_1",
			Resources{CPUShares: 358, CPUQuota: 75000, CPUPeriod: 100000, MemoryLimit: 96 << 20},
			[]Resources{{CPUShares: 102, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 64 << 20}, {CPUShares: 256, CPUQuota: 25000, CPUPeriod: 100000, MemoryLimit: 32 << 20}}},
		{"Guaranteed: directly under the root",
			podOf(nil, container("a", nil, rl{cpu: "500m", mem: "64Mi"}), container("b", rl{cpu: "1", mem: "64Mi"}, rl{cpu: "1", mem: "64Mi"})),
			"/minipod/podu_1",
			Resources{CPUShares: 1536, CPUQuota: 150000, CPUPeriod: 100000, MemoryLimit: 128 << 20},
			[]Resources{{CPUShares: 512, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 64 << 20}, {CPUShares: 1024, CPUQuota: 100000, CPUPeriod: 100000, MemoryLimit: 64 << 20}}},
		{"an init container asking more than the app containers sets the pod's request",
			podOf([]corev1.Container{container("init", rl{cpu: "2"}, nil)}, container("a", rl{cpu: "500m"}, nil)),
			"/minipod/burstable/podu_1",
			Resources{CPUShares: 2048},
			[]Resources{{CPUShares: 512}}},
		{"a native sidecar adds to the app containers and to the init containers after it",
			podOf([]corev1.Container{sidecar, container("init", rl{cpu: "500m"}, nil)}, container("a", rl{cpu: "200m"}, nil)),
			"/minipod/burstable/podu_1",
			Resources{CPUShares: 614},
			[]Resources{{CPUShares: 204}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := podCgroupParent("u-1", QOSClass(tc.pod)); got != tc.parent {
				t.Errorf("pod cgroup %q, want %q", got, tc.parent)
			}
			if got := podCgroupResources(tc.pod); got != tc.pod1 {
				t.Errorf("pod cgroup values %+v, want %+v", got, tc.pod1)
			}
			for i := range tc.pod.Spec.Containers {
				if got := planResources(&tc.pod.Spec.Containers[i]); got != tc.containers[i] {
					t.Errorf("container %s: %+v, want %+v", tc.pod.Spec.Containers[i].Name, got, tc.containers[i])
				}
			}
		})
	}
}

func TestBurstableShares(t *testing.T) {
	pods := []*corev1.Pod{
		podOf(nil, container("a", rl{cpu: "100m"}, nil)),
		podOf(nil, container("a", rl{cpu: "200m"}, rl{cpu: "1"})),
		podOf(nil, container("a", nil, nil)),
		podOf(nil, container("a", nil, rl{cpu: "1", mem: "1Gi"})),
	}
	if got := BurstableShares(pods); got != 307 {
		t.Errorf("burstable cpu.shares = %d, want 307 (300m of the two Burstable pods)", got)
	}
	if got := BurstableShares(nil); got != 2 {
		t.Errorf("burstable cpu.shares without pods = %d, want 2", got)
	}
}

// The same values in cgroup v1's files and in cgroup v2's.
func TestCgroupFiles(t *testing.T) {
	r := Resources{CPUShares: 1536, CPUQuota: 150000, CPUPeriod: 100000, MemoryLimit: 128 << 20}
	v1 := []CgroupFile{
		{"cpu", "cpu.shares", "1536"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.cfs_quota_us", "150000"},
		{"memory", "memory.limit_in_bytes", "134217728"},
	}
	v2 := []CgroupFile{
		{"", "cpu.weight", "59"},
		{"", "cpu.max", "150000 100000"},
		{"", "memory.max", "134217728"},
	}
	if got := CgroupV1Files(r); !reflect.DeepEqual(got, v1) {
		t.Errorf("v1 files %v, want %v", got, v1)
	}
	if got := CgroupV2Files(r); !reflect.DeepEqual(got, v2) {
		t.Errorf("v2 files %v, want %v", got, v2)
	}
	bestEffort := Resources{CPUShares: 2}
	if got := CgroupV1Files(bestEffort); !reflect.DeepEqual(got, []CgroupFile{{"cpu", "cpu.shares", "2"}}) {
		t.Errorf("v1 files of BestEffort %v", got)
	}
	if got := CgroupV2Files(bestEffort); !reflect.DeepEqual(got, []CgroupFile{{"", "cpu.weight", "1"}}) {
		t.Errorf("v2 files of BestEffort %v", got)
	}
}
