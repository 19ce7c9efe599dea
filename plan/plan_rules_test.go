package plan

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMergeArgv(t *testing.T) {
	img := &ImageConfig{Entrypoint: []string{"/entry", "-e"}, Cmd: []string{"cmd1", "cmd2"}}
	noEntry := &ImageConfig{Cmd: []string{"/bin/sh"}}
	tests := []struct {
		name      string
		command   []string
		args      []string
		img       *ImageConfig
		wantArgv  []string
		wantKnown bool
		wantFrom  string // a word the explanation must contain
	}{
		{"image known, no command, no args", nil, nil, img, []string{"/entry", "-e", "cmd1", "cmd2"}, true, "ENTRYPOINT + CMD"},
		{"image known, command only", []string{"/bin/x"}, nil, img, []string{"/bin/x"}, true, "not used"},
		{"image known, args only", nil, []string{"a1", "a2"}, img, []string{"/entry", "-e", "a1", "a2"}, true, "ENTRYPOINT + args"},
		{"image known, command and args", []string{"/bin/x", "-c"}, []string{"a1"}, img, []string{"/bin/x", "-c", "a1"}, true, "command and args"},
		{"image known without ENTRYPOINT, no command, no args", nil, nil, noEntry, []string{"/bin/sh"}, true, "ENTRYPOINT + CMD"},
		{"image known without ENTRYPOINT, args only", nil, []string{"echo", "hi"}, noEntry, []string{"echo", "hi"}, true, "ENTRYPOINT + args"},
		{"image unknown, no command, no args", nil, nil, nil, nil, false, "unknown"},
		{"image unknown, command only", []string{"/bin/x"}, nil, nil, []string{"/bin/x"}, true, "not used"},
		{"image unknown, args only", nil, []string{"a1"}, nil, []string{"a1"}, false, "unknown"},
		{"image unknown, command and args", []string{"/bin/x"}, []string{"a1"}, nil, []string{"/bin/x", "a1"}, true, "command and args"},
		{"empty slices are absent", []string{}, []string{}, img, []string{"/entry", "-e", "cmd1", "cmd2"}, true, "ENTRYPOINT + CMD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv, known, from := mergeArgv(tc.command, tc.args, tc.img)
			if !reflect.DeepEqual(argv, tc.wantArgv) {
				t.Errorf("argv = %q, want %q", argv, tc.wantArgv)
			}
			if known != tc.wantKnown {
				t.Errorf("known = %v, want %v", known, tc.wantKnown)
			}
			if !strings.Contains(from, tc.wantFrom) {
				t.Errorf("from = %q, want it to mention %q", from, tc.wantFrom)
			}
		})
	}
}

// mergeArgv must not alias the slices it was given: a plan that is later
// edited must not change the pod or the image config.
func TestMergeArgvDoesNotAlias(t *testing.T) {
	command := make([]string, 1, 4)
	command[0] = "/bin/x"
	args := []string{"a"}
	img := &ImageConfig{Entrypoint: make([]string, 1, 4), Cmd: []string{"c"}}
	img.Entrypoint[0] = "/entry"

	for _, tc := range []struct {
		command, args []string
	}{{command, nil}, {command, args}, {nil, args}, {nil, nil}} {
		argv, _, _ := mergeArgv(tc.command, tc.args, img)
		argv[0] = "changed"
	}
	if command[0] != "/bin/x" || args[0] != "a" || img.Entrypoint[0] != "/entry" || img.Cmd[0] != "c" {
		t.Errorf("mergeArgv aliased its inputs: command %q args %q image %+v", command, args, img)
	}
}

func TestFieldValue(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "team-a", UID: "u-1",
		Labels:      map[string]string{"app": "web", "tier.io/x": "front"},
		Annotations: map[string]string{"note": "hi"},
	}}
	noUID := pod.DeepCopy()
	noUID.UID = ""
	tests := []struct {
		pod          *corev1.Pod
		path         string
		want, defers string
		wantErr      bool
	}{
		{pod, "metadata.name", "web", "", false},
		{pod, "metadata.namespace", "team-a", "", false},
		{pod, "metadata.uid", "u-1", "", false},
		{noUID, "metadata.uid", "", "metadata.uid", false},
		{pod, "status.podIP", "", "status.podIP", false},
		{pod, "status.hostIP", "", "status.hostIP", false},
		{pod, "spec.nodeName", "", "spec.nodeName", false},
		{pod, "metadata.labels['app']", "web", "", false},
		{pod, "metadata.labels['tier.io/x']", "front", "", false},
		{pod, "metadata.labels['absent']", "", "", false},
		{pod, "metadata.annotations['note']", "hi", "", false},
		{pod, "spec.serviceAccountName", "default", "", false},
		{pod, "status.podIPs", "", "status.podIP", false},
		{pod, "status.hostIPs", "", "status.hostIP", false},
		{pod, "spec.schedulerName", "", "", true},
		{pod, "metadata.labels", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, deferred, err := fieldValue(tc.pod, tc.path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("fieldValue(%q) error = %v, want error %v", tc.path, err, tc.wantErr)
			}
			if got != tc.want || deferred != tc.defers {
				t.Errorf("fieldValue(%q) = %q, deferred %q; want %q, deferred %q", tc.path, got, deferred, tc.want, tc.defers)
			}
		})
	}
}

func TestMergeImageEnv(t *testing.T) {
	tests := []struct {
		name  string
		image []string
		pod   []EnvVar
		want  []EnvVar
	}{
		{"no image env", nil, []EnvVar{{Name: "A", Value: "1"}}, []EnvVar{{Name: "A", Value: "1"}}},
		{"image only", []string{"PATH=/bin", "EMPTY=", "NOEQ"}, nil,
			[]EnvVar{{Name: "PATH", Value: "/bin", From: "image"}, {Name: "EMPTY", From: "image"}, {Name: "NOEQ", From: "image"}}},
		{"value with =", []string{"OPTS=a=b"}, nil, []EnvVar{{Name: "OPTS", Value: "a=b", From: "image"}}},
		{"pod overrides image", []string{"PATH=/bin", "HOME=/root"}, []EnvVar{{Name: "PATH", Value: "/mine"}},
			[]EnvVar{{Name: "HOME", Value: "/root", From: "image"}, {Name: "PATH", Value: "/mine"}}},
		{"pod overrides with an empty value", []string{"DEBUG=1"}, []EnvVar{{Name: "DEBUG"}}, []EnvVar{{Name: "DEBUG"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeImageEnv(tc.image, tc.pod); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("mergeImageEnv = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProjectFiles(t *testing.T) {
	mode := func(m int32) *int32 { return &m }
	data := map[string][]byte{"b": []byte("B"), "a": []byte("A"), "c.conf": []byte("C")}
	tests := []struct {
		name     string
		items    []corev1.KeyToPath
		def      *int32
		optional bool
		want     []VolumeFile
		wantErr  string
	}{
		{name: "every key, sorted, mode 0644 by default", want: []VolumeFile{
			{Path: "a", Key: "a", Mode: 0o644, Data: []byte("A")},
			{Path: "b", Key: "b", Mode: 0o644, Data: []byte("B")},
			{Path: "c.conf", Key: "c.conf", Mode: 0o644, Data: []byte("C")},
		}},
		{name: "defaultMode", def: mode(0o400), want: []VolumeFile{
			{Path: "a", Key: "a", Mode: 0o400, Data: []byte("A")},
			{Path: "b", Key: "b", Mode: 0o400, Data: []byte("B")},
			{Path: "c.conf", Key: "c.conf", Mode: 0o400, Data: []byte("C")},
		}},
		{name: "items in their order, item mode over defaultMode, paths cleaned", def: mode(0o440),
			items: []corev1.KeyToPath{{Key: "c.conf", Path: "etc//app/./c.conf", Mode: mode(0o600)}, {Key: "a", Path: "first"}},
			want: []VolumeFile{
				{Path: "etc/app/c.conf", Key: "c.conf", Mode: 0o600, Data: []byte("C")},
				{Path: "first", Key: "a", Mode: 0o440, Data: []byte("A")},
			}},
		{name: "missing key", items: []corev1.KeyToPath{{Key: "nope", Path: "x"}}, wantErr: `key "nope" not found`},
		{name: "missing key of an optional source is skipped", optional: true,
			items: []corev1.KeyToPath{{Key: "nope", Path: "x"}, {Key: "b", Path: "y"}},
			want:  []VolumeFile{{Path: "y", Key: "b", Mode: 0o644, Data: []byte("B")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := projectFiles("vol", data, tc.items, tc.def, tc.optional)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `volume "vol"`) {
					t.Fatalf("error = %v, want one naming volume \"vol\" and %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("projectFiles = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Plan refuses references it cannot resolve, naming what is missing. The
// pods are built directly: manifest.Parse would refuse most of them first.
func TestPlanErrors(t *testing.T) {
	base := func(mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}
		mut(p)
		return p
	}
	yes := true
	tests := []struct {
		name    string
		pod     *corev1.Pod
		wantErr string // empty: Plan succeeds
	}{
		{"nil pod", nil, "no pod"},
		{"configMap volume not found", base(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}
		}), `configMap "cm" not found`},
		{"optional configMap volume not found", base(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Optional: &yes}}}}
		}), ""},
		{"secret volume not found", base(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
		}), `secret "s" not found`},
		{"unsupported volume source", base(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "x", Path: "/"}}}}
		}), "no supported volume source"},
		{"volumeMount of no volume", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "ghost", MountPath: "/x"}}
		}), `volumeMount "ghost" names no volume`},
		{"envFrom configMap not found", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}
		}), `configMap "cm" not found`},
		{"optional envFrom secret not found", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Optional: &yes}}}
		}), ""},
		{"secretKeyRef not found", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "E", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}}
		}), `key "k" of secret "s" not found`},
		{"unsupported fieldRef", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "E", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.schedulerName"}}}}
		}), "not supported by minipod"},
		{"resourceFieldRef of an unknown resource", base(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "E", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.ephemeral-storage"}}}}
		}), "is not supported by minipod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Pod(tc.pod, Options{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Plan: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "failed to plan") {
				t.Fatalf("Plan error = %v, want \"failed to plan ...%s\"", err, tc.wantErr)
			}
		})
	}
}

// A later variable of the same name replaces an earlier one in place, and
// env overrides envFrom, as the kubelet does.
func TestPlanEnvOverride(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "i",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			Env:     []corev1.EnvVar{{Name: "B", Value: "from-env"}, {Name: "C", Value: "1"}, {Name: "C", Value: "2"}},
		}}},
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"A": "a", "B": "b"}}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "elsewhere"}, Data: map[string]string{"X": "x"}}
	p, err := Pod(pod, Options{ConfigMaps: []*corev1.ConfigMap{other, cm}})
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvVar{{Name: "A", Value: "a", From: "configMap cm"}, {Name: "B", Value: "from-env"}, {Name: "C", Value: "2"}}
	if got := p.Containers[0].Env; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %+v, want %+v", got, want)
	}
	if p.UID != unknownUID || !strings.Contains(p.PodDir, unknownUID) {
		t.Errorf("plan of a pod without UID: uid %q dir %q, want the %q placeholder", p.UID, p.PodDir, unknownUID)
	}
}

func TestPlanHostnameTruncated(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b" + strings.Repeat("c", 10)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"},
		Spec:       corev1.PodSpec{Hostname: long, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	p, err := Pod(pod, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("a", 62); p.Sandbox.Hostname != want {
		t.Errorf("hostname = %q, want %q (63 characters at most, no trailing '-')", p.Sandbox.Hostname, want)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "NAME": "web"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":              "plain",
		"$(A)":               "1",
		"x$(A)y$(NAME)z":     "x1ywebz",
		"$$(A)":              "$(A)",
		"$(MISSING)":         "$(MISSING)",
		"$(unterminated":     "$(unterminated",
		"cost $5":            "cost $5",
		"$":                  "$",
		"$$$(A)":             "$1",
		"$(A)$(A)":           "11",
		"a $(NAME) $$(NAME)": "a web $(NAME)",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
