package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/minipod/minipod/internal/atomicfile"
)

// What a daemon restart keeps of a pod besides its record: each
// container's state (containers/<name>.json) and the pod's events
// (events.json), in the pod's directory; and the events of deleted pods,
// until they expire (<root>/events.json).

// stateDir is where the states of a pod's containers are kept.
func (s *recordStore) stateDir(uid string) string { return filepath.Join(s.dir, uid, "containers") }

// saveState writes a container's state atomically.
func (s *recordStore) saveState(uid, name string, cs *containerState) error {
	dir := s.stateDir(uid)
	// Never the pod's directory itself: a pod that is gone stays gone.
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("failed to save the state of container %q: %w", name, err)
	}
	b, err := json.Marshal(persistedState{containerState: cs, MessageFromLog: cs.messageFromLog})
	if err != nil {
		return fmt.Errorf("failed to encode the state of container %q: %w", name, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name+".json"), b, 0o600); err != nil {
		return fmt.Errorf("failed to save the state of container %q: %w", name, err)
	}
	return nil
}

// loadState reads a container's saved state; nil, and no error, when none
// was saved (a pod created by a daemon that did not save them).
func (s *recordStore) loadState(uid, name string) (*containerState, error) {
	b, err := os.ReadFile(filepath.Join(s.stateDir(uid), name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the state of container %q: %w", name, err)
	}
	p := persistedState{containerState: &containerState{}}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("corrupt state of container %q: %w", name, err)
	}
	p.messageFromLog = p.MessageFromLog
	return p.containerState, nil
}

// eventsPath is where a pod's events are kept.
func (s *recordStore) eventsPath(uid string) string { return filepath.Join(s.dir, uid, "events.json") }

// saveEvents writes a pod's events atomically; nothing when the pod's
// directory is gone.
func (s *recordStore) saveEvents(uid string, events []corev1.Event) error {
	if _, err := os.Stat(filepath.Join(s.dir, uid)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return saveEventsFile(s.eventsPath(uid), events)
}

// loadEvents reads a pod's saved events; none when none were saved.
func (s *recordStore) loadEvents(uid string) ([]corev1.Event, error) {
	return loadEventsFile(s.eventsPath(uid))
}

// saveEventsFile writes events to path atomically.
func saveEventsFile(path string, events []corev1.Event) error {
	b, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("failed to encode events: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("failed to save events: %w", err)
	}
	return nil
}

// loadEventsFile reads the events saved at path; none when there are none.
func loadEventsFile(path string) ([]corev1.Event, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read events %q: %w", path, err)
	}
	var events []corev1.Event
	if err := json.Unmarshal(b, &events); err != nil {
		return nil, fmt.Errorf("corrupt events %q: %w", path, err)
	}
	return events, nil
}

// saveEvents keeps a pod's events for the next daemon; the caller holds
// the pod's lock.
func (r *Runtime) saveEvents(ps *podState) {
	if r.records == nil || !kept(ps.rec) {
		return
	}
	if err := r.records.saveEvents(string(ps.rec.Pod.UID), ps.events); err != nil {
		r.log.Warn("failed to save a pod's events; a daemon restart would lose the latest", "pod", podKey(ps.rec.Pod.Namespace, ps.rec.Pod.Name), "err", err)
	}
}
