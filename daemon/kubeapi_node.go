package daemon

import (
	"bufio"
	"bytes"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"

	"github.com/minipod/minipod/runtime"
)

// kubeVersion is the Kubernetes version minipod serves: that of the API
// types it is built with (k8s.io/api v0.X.Y is Kubernetes 1.X.Y).
func kubeVersion() version.Info {
	v := "v0.0.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" {
				v = d.Version
			}
		}
	}
	minor, patch := "0", "0"
	if parts := strings.SplitN(strings.TrimPrefix(v, "v0."), ".", 2); len(parts) == 2 {
		minor, patch = parts[0], strings.SplitN(parts[1], "-", 2)[0]
	}
	return version.Info{
		Major:      "1",
		Minor:      minor,
		GitVersion: "v1." + minor + "." + patch + "-minipod",
		GoVersion:  goruntime.Version(),
		Compiler:   goruntime.Compiler,
		Platform:   goruntime.GOOS + "/" + goruntime.GOARCH,
	}
}

// hostNode is the Node object that describes this host: the one node that
// every pod runs on.
func hostNode() *corev1.Node {
	name, _ := os.Hostname()
	if name == "" {
		name = "localhost"
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	kernel := unix.ByteSliceToString(uts.Release[:])
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	mem := int64(si.Totalram) * int64(si.Unit)
	res := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	addrs := []corev1.NodeAddress{}
	if ip := runtime.HostIP(); ip != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	v := kubeVersion()
	now := metav1.Now()
	var bootID string
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		bootID = strings.TrimSpace(string(b))
	}
	var machineID string
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		machineID = strings.TrimSpace(string(b))
	}
	started := now
	if si.Uptime > 0 {
		started = metav1.NewTime(now.Add(-time.Duration(si.Uptime) * time.Second))
	}
	return &corev1.Node{
		TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			UID:               types.UID(nodeUID(machineID, name)),
			CreationTimestamp: started,
			Labels: map[string]string{
				corev1.LabelHostname:   name,
				corev1.LabelOSStable:   goruntime.GOOS,
				corev1.LabelArchStable: goruntime.GOARCH,
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res.DeepCopy(),
			Phase:       corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				LastHeartbeatTime: now, LastTransitionTime: now,
				Reason: "KubeletReady", Message: "minipod is serving the pods of this host",
			}},
			Addresses: addrs,
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               machineID,
				BootID:                  bootID,
				KernelVersion:           kernel,
				OSImage:                 osImage(),
				ContainerRuntimeVersion: "containerd",
				KubeletVersion:          v.GitVersion,
				OperatingSystem:         goruntime.GOOS,
				Architecture:            goruntime.GOARCH,
			},
		},
	}
}

// nodeUID is stable for one host.
func nodeUID(machineID, name string) string {
	id := machineID
	if len(id) < 32 {
		id = strings.Repeat("0", 32)
	}
	return id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
}

func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return goruntime.GOOS
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return v
		}
	}
	return goruntime.GOOS
}
