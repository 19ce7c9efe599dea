package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// historyLen is how many changes a watch may resume from; an older
// resourceVersion gets 410 Gone, and the client lists again.
const historyLen = 1024

// kubeStore is the Kubernetes API's view of the backend: every object it
// serves with a resourceVersion, and the history of changes that watches
// replay. The backend knows no resourceVersions; the store gives them. Each
// sync lists the backend and compares every object with the one it holds:
// an object that differs (or is new, or gone) takes the next
// resourceVersion, and the change goes into the history. Syncs run when the
// backend reports a change and before every read, so that a read sees what
// was written before it.
type kubeStore struct {
	b        Backend
	node     *corev1.Node
	nodeName string
	// health tells whether containerd answers: the Node is NotReady while
	// it does not.
	health  runtimeHealth
	started metav1.Time

	syncMu sync.Mutex // one sync at a time

	mu   sync.Mutex
	rv   uint64
	objs map[string]map[string]*kubeEntry // resource -> namespace/name -> entry
	// history holds the last historyLen changes, oldest first.
	history []kubeChange
	// wake is closed, and replaced, when changes are added.
	wake chan struct{}
	// deleting holds when DELETE was asked for pods whose deletion runs.
	deleting map[string]metav1.Time
	// namespaces remembers when each namespace was first seen.
	namespaces map[string]metav1.Time
}

type kubeEntry struct {
	// obj carries its resourceVersion; it is never changed once stored.
	obj k8sruntime.Object
	// raw is obj without its resourceVersion, to compare.
	raw []byte
}

// kubeChange is one change of one object, as a watch sends it.
type kubeChange struct {
	rv       uint64
	resource string
	typ      watch.EventType
	obj      k8sruntime.Object // the object after the change (the last state when deleted)
	prev     k8sruntime.Object // before the change; nil when added
}

func newKubeStore(b Backend, node *corev1.Node) *kubeStore {
	return &kubeStore{
		// resourceVersions go on from the clock, so that they grow across
		// restarts of the daemon too (a million changes a second at most).
		rv:         uint64(time.Now().UnixMicro()),
		b:          b,
		node:       node,
		nodeName:   node.Name,
		started:    metav1.Now(),
		objs:       map[string]map[string]*kubeEntry{},
		wake:       make(chan struct{}),
		deleting:   map[string]metav1.Time{},
		namespaces: map[string]metav1.Time{},
	}
}

// run syncs each time the backend reports a change, until ctx ends.
func (st *kubeStore) run(ctx context.Context) {
	for ctx.Err() == nil {
		changed := st.b.Changed()
		_ = st.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func objKey(ns, name string) string { return ns + "/" + name }

// storedObject is a pointer to one of the listed v1 types.
type storedObject[T any] interface {
	*T
	k8sruntime.Object
	metav1.Object
}

// indexObjects normalizes each listed object with fix, keys it by
// namespace/name and notes its namespace as seen.
func indexObjects[T any, P storedObject[T]](items []T, nsSeen map[string]bool, fix func(P)) map[string]k8sruntime.Object {
	cur := make(map[string]k8sruntime.Object, len(items))
	for i := range items {
		o := P(&items[i])
		fix(o)
		nsSeen[o.GetNamespace()] = true
		cur[objKey(o.GetNamespace(), o.GetName())] = o
	}
	return cur
}

// typed sets an object's v1 kind and clears the backend's resourceVersion
// (the store assigns its own).
func typed[P interface {
	k8sruntime.Object
	metav1.Object
}](kind string) func(P) {
	return func(o P) {
		o.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		o.SetResourceVersion("")
	}
}

// sync lists the backend and records what changed.
func (st *kubeStore) sync(ctx context.Context) error {
	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	pods, err := st.b.ListPods(ctx, "")
	if err != nil {
		return err
	}
	cms, err := st.b.ListConfigMaps(ctx, "")
	if err != nil {
		return err
	}
	secrets, err := st.b.ListSecrets(ctx, "")
	if err != nil {
		return err
	}
	events, err := st.b.ListEvents(ctx, "", "")
	if err != nil {
		return err
	}

	// The Node, NotReady while containerd does not answer (asked before
	// the store is locked: the answer may take a while).
	node := st.node.DeepCopy()
	if down, since := st.health.check(ctx, st.b); down != "" {
		node.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionFalse,
			LastHeartbeatTime: metav1.NewTime(since), LastTransitionTime: metav1.NewTime(since),
			Reason: "KubeletNotReady", Message: "container runtime is down: " + down,
		}}
	} else if !since.IsZero() && len(node.Status.Conditions) > 0 {
		node.Status.Conditions[0].LastTransitionTime = metav1.NewTime(since)
		node.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(since)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	before := st.rv
	nsSeen := map[string]bool{metav1.NamespaceDefault: true}

	cur := indexObjects(pods, nsSeen, st.normalizePod)
	for key := range st.deleting {
		if _, ok := cur[key]; !ok {
			delete(st.deleting, key)
		}
	}
	st.apply("pods", cur)
	st.apply("configmaps", indexObjects(cms, nsSeen, typed[*corev1.ConfigMap]("ConfigMap")))
	st.apply("secrets", indexObjects(secrets, nsSeen, typed[*corev1.Secret]("Secret")))
	st.apply("events", indexObjects(events, nsSeen, func(e *corev1.Event) {
		typed[*corev1.Event]("Event")(e)
		if e.CreationTimestamp.IsZero() {
			switch {
			case !e.FirstTimestamp.IsZero():
				e.CreationTimestamp = e.FirstTimestamp
			case !e.EventTime.IsZero():
				e.CreationTimestamp = metav1.NewTime(e.EventTime.Time)
			case !e.LastTimestamp.IsZero():
				e.CreationTimestamp = e.LastTimestamp
			}
		}
	}))

	// Namespaces exist while something is in them (default always), as
	// minipod creates them implicitly.
	cur = make(map[string]k8sruntime.Object, len(nsSeen))
	for ns := range nsSeen {
		created, ok := st.namespaces[ns]
		if !ok {
			created = metav1.Now()
			if ns == metav1.NamespaceDefault {
				created = st.started
			}
			st.namespaces[ns] = created
		}
		cur[objKey("", ns)] = &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{
				Name: ns, CreationTimestamp: created,
				Labels: map[string]string{corev1.LabelMetadataName: ns},
			},
			Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
	}
	for ns := range st.namespaces {
		if !nsSeen[ns] {
			delete(st.namespaces, ns)
		}
	}
	st.apply("namespaces", cur)

	st.apply("nodes", map[string]k8sruntime.Object{objKey("", st.node.Name): node})

	if st.rv != before {
		close(st.wake)
		st.wake = make(chan struct{})
	}
	return nil
}

// normalizePod gives a pod what the API server's copy would carry: the node
// it runs on, and a deletionTimestamp that stays as it was first set.
func (st *kubeStore) normalizePod(p *corev1.Pod) {
	p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	p.ResourceVersion = ""
	if p.Spec.NodeName == "" {
		p.Spec.NodeName = st.nodeName
	}
	key := objKey(p.Namespace, p.Name)
	if at, ok := st.deleting[key]; ok {
		p.DeletionTimestamp = &at
	} else if p.DeletionTimestamp != nil {
		if old, ok := st.objs["pods"][key]; ok {
			if op := old.obj.(*corev1.Pod); op.UID == p.UID && op.DeletionTimestamp != nil {
				p.DeletionTimestamp = op.DeletionTimestamp
			}
		}
	}
	if p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds == nil {
		g := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if p.Spec.TerminationGracePeriodSeconds != nil {
			g = *p.Spec.TerminationGracePeriodSeconds
		}
		p.DeletionGracePeriodSeconds = &g
	}
}

// apply records the objects of one resource as they are now. Called with
// st.mu held.
func (st *kubeStore) apply(resource string, cur map[string]k8sruntime.Object) {
	held := st.objs[resource]
	if held == nil {
		held = map[string]*kubeEntry{}
		st.objs[resource] = held
	}
	keys := make([]string, 0, len(cur))
	for key := range cur {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		obj := cur[key]
		raw, err := json.Marshal(obj)
		if err != nil {
			continue
		}
		old, ok := held[key]
		if ok && string(old.raw) == string(raw) {
			continue
		}
		if ok && uidOf(old.obj) != uidOf(obj) {
			// Another object of the same name: the old one is gone.
			st.record(resource, watch.Deleted, old.obj, nil)
			ok = false
		}
		typ := watch.Added
		var prev k8sruntime.Object
		if ok {
			typ, prev = watch.Modified, old.obj
		}
		held[key] = &kubeEntry{obj: st.record(resource, typ, obj, prev), raw: raw}
	}
	for key, old := range held {
		if _, ok := cur[key]; ok {
			continue
		}
		delete(held, key)
		st.record(resource, watch.Deleted, old.obj, nil)
	}
}

// record gives obj (a copy of it) the next resourceVersion and appends the
// change to the history. It returns the copy.
func (st *kubeStore) record(resource string, typ watch.EventType, obj, prev k8sruntime.Object) k8sruntime.Object {
	st.rv++
	obj = obj.DeepCopyObject()
	setRV(obj, st.rv)
	st.history = append(st.history, kubeChange{rv: st.rv, resource: resource, typ: typ, obj: obj, prev: prev})
	if len(st.history) > historyLen {
		st.history = append(st.history[:0:0], st.history[len(st.history)-historyLen:]...)
	}
	return obj
}

func setRV(obj k8sruntime.Object, rv uint64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(rv, 10))
	}
}

func uidOf(obj k8sruntime.Object) string {
	if m, err := meta.Accessor(obj); err == nil {
		return string(m.GetUID())
	}
	return ""
}

// list returns the objects of a resource in a namespace ("" = all), sorted
// by namespace and name, and the store's resourceVersion.
func (st *kubeStore) list(resource, ns string) ([]k8sruntime.Object, uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	keys := make([]string, 0, len(st.objs[resource]))
	for key, e := range st.objs[resource] {
		if ns != "" {
			m, _ := meta.Accessor(e.obj)
			if m.GetNamespace() != ns {
				continue
			}
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	out := make([]k8sruntime.Object, len(keys))
	for i, key := range keys {
		out[i] = st.objs[resource][key].obj
	}
	return out, st.rv
}

// get returns one object, or nil.
func (st *kubeStore) get(resource, ns, name string) k8sruntime.Object {
	st.mu.Lock()
	defer st.mu.Unlock()
	if e, ok := st.objs[resource][objKey(ns, name)]; ok {
		return e.obj
	}
	return nil
}

// markDeleting records that a pod's deletion was asked for now; it returns
// false if it was already.
func (st *kubeStore) markDeleting(ns, name string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	key := objKey(ns, name)
	if _, ok := st.deleting[key]; ok {
		return false
	}
	st.deleting[key] = metav1.Now()
	return true
}

func (st *kubeStore) unmarkDeleting(ns, name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.deleting, objKey(ns, name))
}

// errExpired is returned by since for a resourceVersion older than the
// history.
type errExpired struct{ rv, oldest uint64 }

func (e errExpired) Error() string {
	return fmt.Sprintf("too old resource version: %d (%d)", e.rv, e.oldest)
}

// since returns the changes of a resource after resourceVersion rv, the
// store's resourceVersion, and a channel closed at the next change.
func (st *kubeStore) since(resource string, rv uint64) ([]kubeChange, uint64, <-chan struct{}, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if rv > st.rv {
		// A resourceVersion from before a restart of the daemon.
		return nil, st.rv, st.wake, errExpired{rv: rv, oldest: st.oldestRV()}
	}
	if len(st.history) > 0 && rv+1 < st.history[0].rv {
		return nil, st.rv, st.wake, errExpired{rv: rv, oldest: st.oldestRV()}
	}
	i := sort.Search(len(st.history), func(i int) bool { return st.history[i].rv > rv })
	var out []kubeChange
	for _, c := range st.history[i:] {
		if c.resource == resource {
			out = append(out, c)
		}
	}
	return out, st.rv, st.wake, nil
}

func (st *kubeStore) oldestRV() uint64 {
	if len(st.history) == 0 {
		return st.rv
	}
	return st.history[0].rv
}

// current is the store's resourceVersion.
func (st *kubeStore) current() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rv
}

// waitFor waits until cond holds on the store (checked after each change)
// or the deadline passes; it returns whether it held.
func (st *kubeStore) waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		st.mu.Lock()
		wake := st.wake
		st.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return cond()
		case <-wake:
		}
	}
}
