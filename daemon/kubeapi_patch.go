package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/minipod/minipod/manifest"
)

// patchPod serves PATCH of a pod in the three kinds kubectl sends (JSON
// patch, merge patch, strategic merge patch) and PUT of a whole pod. The
// patched pod may differ from the pod only in its labels and annotations:
// a running pod's spec is what it was created with (the API server lets a
// container's image change; minipod does not restart containers for it),
// and any other change is refused as the API server refuses pod updates.
func (k *kubeServer) patchPod(w http.ResponseWriter, r *http.Request, kr kubeRequest) {
	dry, st := dryRun(r)
	if st != nil {
		k.writeStatus(w, r, st)
		return
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPatch {
		switch types.PatchType(ctype) {
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		case types.ApplyYAMLPatchType:
		default:
			k.writeStatus(w, r, newStatus(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
				fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s (got %q)",
					types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, ctype)))
			return
		}
		// readBody checks the type of full objects; a patch has its own.
		r.Header.Set("Content-Type", "application/json")
	}
	body, ok := k.readBody(w, r)
	if !ok {
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	manager := r.URL.Query().Get("fieldManager")
	apply := types.PatchType(ctype) == types.ApplyYAMLPatchType
	var applied *unstructured.Unstructured
	if apply {
		if manager == "" {
			k.writeStatus(w, r, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
				`PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`))
			return
		}
		applied = &unstructured.Unstructured{}
		if err := yaml.Unmarshal(body, &applied.Object); err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("the apply patch is not YAML: %v", err)))
			return
		}
	}
	if manager == "" {
		manager = managerOf(r)
	}
	obj := k.store.get("pods", kr.namespace, kr.name)
	if obj == nil && apply {
		// Server-side apply of a pod that does not exist creates it.
		data, err := json.Marshal(applied.Object)
		if err != nil {
			k.writeErr(w, r, err)
			return
		}
		k.createPod(w, r, kr, data, dry)
		return
	}
	if obj == nil {
		k.objectNotFound(w, r, kr)
		return
	}
	cur := obj.(*corev1.Pod)
	fm, err := podFieldManager()
	if err != nil {
		k.writeErr(w, r, err)
		return
	}
	orig, err := json.Marshal(cur)
	if err != nil {
		k.writeErr(w, r, err)
		return
	}
	var patched []byte
	switch {
	case apply:
		// Without a schema, lists are atomic: the applied pod gets the
		// server's defaults first, so that a container list the client
		// sends as it was created equals the stored one instead of
		// conflicting with it.
		if st := defaultApplied(applied); st != nil {
			k.writeStatus(w, r, st)
			return
		}
		out, err := fm.Apply(cur.DeepCopy(), applied, manager, r.URL.Query().Get("force") == "true")
		if err != nil {
			var as apierrors.APIStatus
			if errors.As(err, &as) {
				st := as.Status()
				k.writeStatus(w, r, &st)
				return
			}
			k.writeStatus(w, r, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error()))
			return
		}
		if patched, err = json.Marshal(out); err != nil {
			k.writeErr(w, r, err)
			return
		}
	case r.Method == http.MethodPut:
		patched = body
	case types.PatchType(ctype) == types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(body)
		if err == nil {
			patched, err = p.Apply(orig)
		}
		if err != nil {
			k.writeStatus(w, r, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, fmt.Sprintf("the JSON patch does not apply: %v", err)))
			return
		}
	case types.PatchType(ctype) == types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(orig, body); err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("the merge patch does not apply: %v", err)))
			return
		}
	default:
		if patched, err = strategicpatch.StrategicMergePatch(orig, body, &corev1.Pod{}); err != nil {
			k.writeStatus(w, r, badRequest(fmt.Sprintf("the strategic merge patch does not apply: %v", err)))
			return
		}
	}
	var want corev1.Pod
	dec := json.NewDecoder(bytes.NewReader(patched))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		k.writeStatus(w, r, badRequest(fmt.Sprintf("Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: %v", err)))
		return
	}
	if st := checkPodUpdate(cur, &want); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if !apply {
		// Record who changed what, as the API server does for every
		// write.
		want.ManagedFields = cur.ManagedFields
		want = *fm.UpdateNoErrors(cur.DeepCopy(), want.DeepCopy(), manager).(*corev1.Pod)
	}
	if dry {
		out := cur.DeepCopy()
		out.Labels, out.Annotations, out.ManagedFields = want.Labels, want.Annotations, want.ManagedFields
		k.writeObject(w, r, http.StatusOK, nil, out)
		return
	}
	if _, err := k.b.UpdatePodMetadata(r.Context(), kr.namespace, kr.name, want.Labels, want.Annotations, want.ManagedFields); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			k.objectNotFound(w, r, kr)
			return
		}
		k.writeErr(w, r, err)
		return
	}
	if st := k.sync(r); st != nil {
		k.writeStatus(w, r, st)
		return
	}
	if obj := k.store.get("pods", kr.namespace, kr.name); obj != nil {
		k.writeObject(w, r, http.StatusOK, nil, obj)
		return
	}
	k.objectNotFound(w, r, kr)
}

// checkPodUpdate refuses an update of a pod that changes more than its
// labels and annotations, or that is based on an older resourceVersion.
func checkPodUpdate(cur, want *corev1.Pod) *metav1.Status {
	invalid := func(field, detail string) *metav1.Status {
		st := newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
			fmt.Sprintf("Pod %q is invalid: %s: %s", cur.Name, field, detail))
		st.Details = &metav1.StatusDetails{Name: cur.Name, Kind: "Pod",
			Causes: []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: field, Message: detail}}}
		return st
	}
	if want.Name != "" && want.Name != cur.Name {
		return invalid("metadata.name", fmt.Sprintf("Invalid value: %q: field is immutable", want.Name))
	}
	if want.Namespace != "" && want.Namespace != cur.Namespace {
		return invalid("metadata.namespace", fmt.Sprintf("Invalid value: %q: field is immutable", want.Namespace))
	}
	if want.UID != "" && want.UID != cur.UID {
		return invalid("metadata.uid", fmt.Sprintf("Invalid value: %q: field is immutable", want.UID))
	}
	if want.ResourceVersion != "" && want.ResourceVersion != cur.ResourceVersion {
		st := newStatus(http.StatusConflict, metav1.StatusReasonConflict,
			fmt.Sprintf("Operation cannot be fulfilled on pods %q: the object has been modified; please apply your changes to the latest version and try again", cur.Name))
		st.Details = &metav1.StatusDetails{Name: cur.Name, Kind: "pods"}
		return st
	}
	// What a client sends back of the spec may lack what the server
	// defaulted; compare the spec as the client sent it with the pod's,
	// both with the server's defaults.
	wantSpec := want.Spec.DeepCopy()
	if wantSpec.NodeName == "" {
		wantSpec.NodeName = cur.Spec.NodeName
	}
	withDefaults := &corev1.Pod{Spec: *wantSpec}
	manifest.DefaultPod(withDefaults)
	curPod := &corev1.Pod{Spec: *cur.Spec.DeepCopy()}
	manifest.DefaultPod(curPod)
	if !equality.Semantic.DeepEqual(withDefaults.Spec, curPod.Spec) {
		return invalid("spec", "Forbidden: pod updates may not change fields other than metadata.labels and metadata.annotations on minipod (a running pod keeps the spec it was created with; delete and create it again to change it)")
	}
	return nil
}

// podFieldManager tracks which client set which field of a pod
// (metadata.managedFields) and merges server-side apply patches, with
// apimachinery's field manager. Its types are deduced from the objects
// (lists are atomic), as no schema is served yet.
var podFieldManager = sync.OnceValues(func() (*managedfields.FieldManager, error) {
	return managedfields.NewDefaultFieldManager(managedfields.NewDeducedTypeConverter(),
		kubeScheme, kubeScheme, kubeScheme, corev1.SchemeGroupVersion.WithKind("Pod"), corev1.SchemeGroupVersion, "", nil)
})

// managerOf names the client of a write without fieldManager as the API
// server does: its User-Agent up to the first "/".
func managerOf(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	if i := strings.IndexByte(ua, '/'); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return "unknown"
	}
	return ua
}

// defaultApplied gives an applied pod minipod's defaults, in place.
func defaultApplied(u *unstructured.Unstructured) *metav1.Status {
	var pod corev1.Pod
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
		return badRequest(fmt.Sprintf("the apply patch is not a Pod: %v", err))
	}
	manifest.DefaultPod(&pod)
	obj, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(&pod)
	if err != nil {
		return badRequest(fmt.Sprintf("the apply patch is not a Pod: %v", err))
	}
	// Only the spec takes defaults; metadata stays as the client sent it.
	if spec, ok := obj["spec"]; ok {
		u.Object["spec"] = spec
	}
	return nil
}
