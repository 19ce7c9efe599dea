package supervisor

import "sync"

// Result is a probe's result, as the kubelet's results.Result.
type Result int

const (
	// Unknown: not probed yet, or not past a threshold yet.
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

// Kind is a probe's kind.
type Kind string

const (
	Startup   Kind = "Startup"
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
)

// Key names a probe of a container.
type Key struct {
	Container string
	Kind      Kind
}

// Update is a probe's result that changed.
type Update struct {
	Key
	Result Result
}

// Results holds a pod's probe results, as the kubelet's results manager:
// workers Set them, and each change is reported to the function given to
// NewResults, which decides what follows.
type Results struct {
	mu       sync.Mutex
	m        map[Key]Result
	onUpdate func(Update)
}

// NewResults returns an empty Results that reports changes to onUpdate.
func NewResults(onUpdate func(Update)) *Results {
	return &Results{m: map[Key]Result{}, onUpdate: onUpdate}
}

// Set records a probe's result and reports it when it changed.
func (r *Results) Set(k Key, res Result) {
	r.mu.Lock()
	changed := r.m[k] != res
	r.m[k] = res
	r.mu.Unlock()
	if changed && r.onUpdate != nil {
		r.onUpdate(Update{Key: k, Result: res})
	}
}

// Get is a probe's last result.
func (r *Results) Get(k Key) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[k]
}

// Forget drops a container's results: a new run starts from Unknown.
func (r *Results) Forget(container string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if k.Container == container {
			delete(r.m, k)
		}
	}
}
