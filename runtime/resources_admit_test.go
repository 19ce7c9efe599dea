package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestAdmitRequests(t *testing.T) {
	pod := func(cpu, mem string) *corev1.Pod {
		req := corev1.ResourceList{}
		if cpu != "" {
			req[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			req[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}}}
	}
	const capCPU, capMem = 2000, 4 << 30
	tests := []struct {
		name    string
		pod     *corev1.Pod
		running []*corev1.Pod
		want    []string
	}{
		{"best effort fits anywhere", pod("", ""), []*corev1.Pod{pod("2", "4Gi")}, nil},
		{"fits", pod("500m", "1Gi"), []*corev1.Pod{pod("1", "1Gi")}, nil},
		{"exactly fits", pod("1", "2Gi"), []*corev1.Pod{pod("1", "2Gi")}, nil},
		{"too much cpu", pod("100", ""), nil, []string{"OutOfcpu", "requested: 100000, used: 0, capacity: 2000"}},
		{"too much memory beside others", pod("", "3Gi"), []*corev1.Pod{pod("", "2Gi")}, []string{"OutOfmemory", "requested: 3221225472, used: 2147483648"}},
		{"both", pod("3", "1000Gi"), nil, []string{"OutOfcpu", "OutOfmemory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := admitRequests(tc.pod, tc.running, capCPU, capMem)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("admitRequests: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, errdefs.ErrResourceExhausted) {
				t.Fatalf("admitRequests = %v, want a ResourceExhausted error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
