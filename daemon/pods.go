package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minipod/minipod/api"
	"github.com/minipod/minipod/manifest"
	"github.com/minipod/minipod/runtime"
)

// admitPod turns a request body into the pod to create, as the API server
// admits one: decoded strictly (unknown fields refused; warnings for what is
// deprecated or ignored), in the request's namespace, defaulted, and
// validated against the namespace's ConfigMaps and Secrets. Both APIs (this
// one and the Kubernetes API) admit pods through it, and it is the only
// place a pod is defaulted and validated: the runtime creates the pod it is
// given, as the kubelet runs what the API server admitted.
func (s *server) admitPod(ctx context.Context, ns string, data []byte) (*corev1.Pod, []string, *metav1.Status) {
	pod, warnings, err := manifest.DecodePod(requestSource, data)
	if err != nil {
		return nil, nil, badRequest(err.Error())
	}
	if st := setNamespace(&pod.ObjectMeta, ns); st != nil {
		return nil, nil, st
	}
	manifest.DefaultPod(pod)
	refs, err := s.refs(ctx, ns)
	if err != nil {
		return nil, nil, Status(err)
	}
	if err := manifest.ValidatePod(requestSource, pod, refs); err != nil {
		return nil, nil, newStatus(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error())
	}
	return pod, warnings, nil
}

func (s *server) createPod(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	pod, warnings, st := s.admitPod(ctx, r.PathValue("ns"), data)
	if st != nil {
		writeStatus(w, st)
		return
	}
	addWarnings(w, warnings)
	wait := true
	if v := r.URL.Query().Get("wait"); v != "" {
		b, st := queryBool(r, "wait")
		if st != nil {
			writeStatus(w, st)
			return
		}
		wait = b
	}
	// pulledImage (repeated) names images the client pulled for this pod
	// just before: imagePullPolicy Always does not pull them again.
	opts := api.CreateOptions{PulledImages: r.URL.Query()["pulledImage"]}
	for _, ref := range opts.PulledImages {
		if _, err := runtime.NormalizeImage(ref); err != nil {
			writeStatus(w, badRequest(fmt.Sprintf("query parameter pulledImage: %v", err)))
			return
		}
	}
	if !wait {
		// Detached: the creation outlives the request; its outcome shows in
		// the pod's status.
		s.background.Add(1)
		go func(pod *corev1.Pod) {
			defer s.background.Done()
			if _, err := s.b.CreatePod(context.WithoutCancel(ctx), pod, opts); err != nil {
				s.log.Warn("failed to create pod", "namespace", pod.Namespace, "pod", pod.Name, "error", err)
			}
		}(pod.DeepCopy())
		pod.Status.Phase = corev1.PodPending
		writeJSON(w, http.StatusAccepted, podObject(pod))
		return
	}
	created, err := s.b.CreatePod(ctx, pod, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, podObject(created))
}

// refs collects the ConfigMaps and Secrets of a namespace, which a pod's
// volumes and env may reference.
func (s *server) refs(ctx context.Context, ns string) (manifest.Refs, error) {
	refs := manifest.Refs{
		ConfigMaps: map[string]*corev1.ConfigMap{},
		Secrets:    map[string]*corev1.Secret{},
	}
	cms, err := s.b.ListConfigMaps(ctx, ns)
	if err != nil {
		return refs, err
	}
	for i := range cms {
		refs.ConfigMaps[cms[i].Name] = &cms[i]
	}
	secrets, err := s.b.ListSecrets(ctx, ns)
	if err != nil {
		return refs, err
	}
	for i := range secrets {
		refs.Secrets[secrets[i].Name] = &secrets[i]
	}
	return refs, nil
}

func podObject(p *corev1.Pod) *corev1.Pod {
	p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	return p
}

func (s *server) listPods(w http.ResponseWriter, r *http.Request) {
	if watching, st := queryBool(r, "watch"); st != nil || watching {
		if st != nil {
			writeStatus(w, st)
			return
		}
		s.watch(w, r, func(ctx context.Context) ([]object, error) {
			pods, err := s.b.ListPods(ctx, r.PathValue("ns"))
			objs := make([]object, len(pods))
			for i := range pods {
				objs[i] = object{key: pods[i].Namespace + "/" + pods[i].Name, obj: podObject(&pods[i])}
			}
			return objs, err
		}, true)
		return
	}
	pods, err := s.b.ListPods(r.Context(), r.PathValue("ns"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.health.warnIfRuntimeDown(r.Context(), w, s.b)
	if pods == nil {
		pods = []corev1.Pod{}
	}
	writeJSON(w, http.StatusOK, &corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		Items:    pods,
	})
}

func (s *server) getPod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pod, err := s.b.GetPod(r.Context(), r.PathValue("ns"), name)
	if err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}
	s.health.warnIfRuntimeDown(r.Context(), w, s.b)
	writeJSON(w, http.StatusOK, podObject(pod))
}

func (s *server) deletePod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	grace, st := queryInt(r, "gracePeriodSeconds")
	if st != nil {
		writeStatus(w, st)
		return
	}
	data, ok := readObject(w, r)
	if !ok {
		return
	}
	if len(data) > 0 {
		var do metav1.DeleteOptions
		if err := json.Unmarshal(data, &do); err != nil {
			writeStatus(w, badRequest(fmt.Sprintf("failed to decode DeleteOptions: %v", err)))
			return
		}
		if grace == nil {
			grace = do.GracePeriodSeconds
		}
	}
	if grace != nil && *grace < 0 {
		writeStatus(w, badRequest(fmt.Sprintf("gracePeriodSeconds must not be negative, got %d", *grace)))
		return
	}
	if err := s.b.DeletePod(r.Context(), r.PathValue("ns"), name, api.DeleteOptions{GracePeriodSeconds: grace}); err != nil {
		writeObjectError(w, err, "pods", name)
		return
	}
	writeJSON(w, http.StatusOK, success("pods", name))
}
