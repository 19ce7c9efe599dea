package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/internal/atomicfile"
	"github.com/minipod/minipod/volumes"
)

// Record is what the daemon keeps on disk for a pod: enough to find and
// remove every host resource after a crash, keyed by the pod's UID.
type Record struct {
	Pod   *corev1.Pod `json:"pod"`
	Plan  *PodPlan    `json:"plan"`
	State RecordState `json:"state"`
	// PodIP is the address CNI gave the pod.
	PodIP string `json:"podIP,omitempty"`
	// Containers maps a container name to its containerd container ID.
	Containers map[string]string `json:"containers,omitempty"`
	Created    time.Time         `json:"created"`
	// TeardownError is set when a rollback or delete could not finish;
	// delete retries it.
	TeardownError string `json:"teardownError,omitempty"`
}

// RecordState is where a pod is in its lifecycle.
type RecordState string

const (
	StateCreating RecordState = "Creating"
	StateRunning  RecordState = "Running"
	StateDeleting RecordState = "Deleting"
	// StateRollbackIncomplete marks a pod whose creation failed and whose
	// rollback did not complete; delete (and a daemon's start) retries the
	// teardown. The pod shows as Pending with TeardownFailed. On disk it is
	// "Failed", the value records have always carried, so that records of
	// an older daemon load as they are.
	StateRollbackIncomplete RecordState = "Failed"
)

// recordStore keeps pod records as JSON files under <root>/pods/<uid>/pod.json.
type recordStore struct {
	dir string
}

func (s *recordStore) path(uid string) string { return filepath.Join(s.dir, uid, "pod.json") }

// save writes the record atomically: a crash leaves the old or the new one.
func (s *recordStore) save(r *Record) error {
	uid := string(r.Pod.UID)
	if err := os.MkdirAll(filepath.Join(s.dir, uid), 0o700); err != nil {
		return fmt.Errorf("failed to create pod directory %q: %w", uid, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("failed to encode pod record %q: %w", uid, err)
	}
	if err := atomicfile.Write(s.path(uid), b, 0o600); err != nil {
		return fmt.Errorf("failed to save pod record %q: %w", uid, err)
	}
	return nil
}

// remove deletes the record and the pod directory; absent is fine.
func (s *recordStore) remove(uid string) error {
	if uid == "" {
		return errors.New("failed to remove pod record: empty uid")
	}
	dir := filepath.Join(s.dir, uid)
	// A daemon killed while it pinned a container's volume mounts left them
	// bound in the pod directory: release them, and never remove through
	// a mount (it could be a hostPath's data).
	if err := volumes.Unpin(filepath.Join(dir, "mounts")); err != nil {
		return fmt.Errorf("failed to remove pod directory %q: %w", uid, err)
	}
	if left, err := volumes.MountsUnder(dir); err != nil {
		return fmt.Errorf("failed to remove pod directory %q: %w", uid, err)
	} else if len(left) > 0 {
		return fmt.Errorf("failed to remove pod directory %q: %q is still mounted; unmount it and delete the pod again: %w", uid, left[0], errdefs.ErrFailedPrecondition)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("failed to remove pod directory %q: %w", uid, err)
	}
	return nil
}

// list loads every record; unreadable ones are returned as errors by uid.
func (s *recordStore) list() ([]*Record, map[string]error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	bad := map[string]error{}
	if err != nil {
		bad[""] = err
		return nil, bad
	}
	var out []*Record
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(s.path(e.Name()))
		if err != nil {
			bad[e.Name()] = err
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			bad[e.Name()] = fmt.Errorf("corrupt pod record: %w", err)
			continue
		}
		if r.Pod == nil {
			bad[e.Name()] = errors.New("corrupt pod record: no pod")
			continue
		}
		out = append(out, &r)
	}
	return out, bad
}
