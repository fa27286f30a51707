package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// report is one Progress or Finished message waiting for the hub's Ack.
type report struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// outbox keeps reports in order until they are acknowledged, optionally in
// a state file so that they survive a restart.
type outbox struct {
	path string

	mu      sync.Mutex
	reports []report
}

func openOutbox(path string) (*outbox, error) {
	o := &outbox{path: path}
	if path == "" {
		return o, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return o, checkStateFolder(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read agent state file: %w", err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &o.reports); err != nil {
			return nil, fmt.Errorf("agent state file %s is not valid JSON (move it away to start empty): %w", path, err)
		}
	}
	return o, nil
}

// checkStateFolder fails when the state file's folder is missing or not
// writable, so that a typo in the path stops the agent at start instead of
// at its first report. The folder is not created, because a mistyped path
// would then silently keep the state in an unexpected place.
func checkStateFolder(path string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("invalid state file %s: the folder %s does not exist; create it or choose another state file", path, dir)
	}
	if err != nil {
		return fmt.Errorf("invalid state file %s: %w", path, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("invalid state file %s: %s is not a folder", path, dir)
	}
	probe, err := os.CreateTemp(dir, ".agent-state-*")
	if err != nil {
		return fmt.Errorf("invalid state file %s: the folder %s is not writable: %w", path, dir, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("invalid state file %s: remove the test file in %s: %w", path, dir, err)
	}
	return nil
}

// add stores a report; a report with the same id replaces nothing and is
// ignored.
func (o *outbox) add(r report) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, have := range o.reports {
		if have.ID == r.ID {
			return nil
		}
	}
	o.reports = append(o.reports, r)
	return o.saveLocked()
}

// ack forgets a report and returns whether it was pending.
func (o *outbox) ack(id string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, r := range o.reports {
		if r.ID == id {
			o.reports = append(o.reports[:i], o.reports[i+1:]...)
			return true, o.saveLocked()
		}
	}
	return false, nil
}

func (o *outbox) pending() []report {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]report(nil), o.reports...)
}

func (o *outbox) saveLocked() error {
	if o.path == "" {
		return nil
	}
	data, err := json.Marshal(o.reports)
	if err != nil {
		return fmt.Errorf("encode agent state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.path), ".agent-state-*")
	if err != nil {
		return fmt.Errorf("write agent state file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write agent state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("sync agent state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write agent state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.path); err != nil {
		return fmt.Errorf("replace agent state file %s: %w", o.path, err)
	}
	return nil
}
