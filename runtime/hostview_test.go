package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/internal/golden"
	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/plan"
)

// goldenUID is the pod UID of the goldens.
const goldenUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

// sidecarHostView is the host view of the sidecar example as the daemon
// would build it: from the pod's plan and status, then what it reads on the
// host.
func sidecarHostView(t *testing.T) *api.HostView {
	t.Helper()
	data, err := os.ReadFile("../examples/sidecar/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Parse("sidecar.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	f.Pods[0].UID = goldenUID
	p, err := plan.Pod(f.Pods[0], plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: goldenUID}}
	for _, c := range p.Containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name})
	}
	// The spec's ports and probes come from the manifest.
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 2}
	pod.Spec.Containers[0].ReadinessProbe.TCPSocket = &corev1.TCPSocketAction{}
	pod.Spec.Containers[0].ReadinessProbe.TCPSocket.Port.IntVal = 8080
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.77.0.3", HostIP: "192.0.2.2",
		ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "containerd://aaa111", Ready: true, RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "log-shipper", ContainerID: "containerd://bbb222", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
		}}
	v := newHostView(pod, p)
	v.Veth.Host, v.Veth.Index = "veth1a2b3c4d", 12
	v.Bridge = api.HostLink{Name: "minipod0", IP: "10.77.0.1/16"}
	v.Shim = api.HostProcess{PID: 4100, Command: "containerd-shim-runc-v2 -namespace minipod -id ..."}
	v.Containers[0].PID = 4242
	v.Cgroup.Memory, v.Cgroup.CPU, v.Cgroup.Pids = "unlimited", "unlimited", "unlimited"
	v.Listening = []api.HostSocket{{Address: "*", Port: 8080, PID: 4242, Process: "webapp --listen=:8080", Container: "app"}}
	v.Hosts = string(p.Sandbox.Files[0].Render("10.77.0.3", []string{plan.PeerLine("10.77.0.2", "log-collector", "default")}))
	return v
}

// TestHostViewText: `minipod describe pod web --host`, golden.
func TestHostViewText(t *testing.T) {
	v := sidecarHostView(t)
	var out bytes.Buffer
	if err := v.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "hostview-sidecar.txt.golden"), out.Bytes())
	for _, want := range []string{
		"pod IP     10.77.0.3 on eth0",
		"veth       veth1a2b3c4d (ifindex 12) on the host  <->  eth0 in the pod",
		"bridge     minipod0 10.77.0.1/16",
		"*:8080  webapp --listen=:8080 pid 4242 in app",
		"log-shipper  waiting (CrashLoopBackOff), not ready, 0 restarts",
		"probe      readiness: TCP connect to :8080 every 2s",
		"mounted by log-shipper at /var/log/webapp, read-only",
		"10.77.0.2\tlog-collector log-collector.default",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe --host lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		addr string
		port int
	}{
		{"0100007F:1F90", "127.0.0.1", 8080},
		{"00000000:2328", "*", 9000},
		{"00000000000000000000000000000000:1F90", "*", 8080},
		{"00000000000000000000000001000000:0050", "::1", 80},
	} {
		addr, port, ok := parseProcAddr(tc.in)
		if !ok || addr != tc.addr || port != tc.port {
			t.Errorf("parseProcAddr(%q) = %q, %d, %v; want %q, %d", tc.in, addr, port, ok, tc.addr, tc.port)
		}
	}
	if _, _, ok := parseProcAddr("zz:1"); ok {
		t.Error("parseProcAddr accepted garbage")
	}
}
