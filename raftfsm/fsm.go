// Package raftfsm is the hub's replicated state machine: the Raft command
// set, a bbolt-backed state that every node builds by applying the same
// log, canonical snapshots, and the reads the admin API and the dispatcher
// use. See DESIGN.md for the reasons behind its shape.
package raftfsm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by the reads when the object does not exist.
var ErrNotFound = errors.New("not found")

// stateFile is the bbolt file under the directory given to New.
const stateFile = "state.db"

// initialMmapSize is the address space bbolt maps up front. A write that
// grows the file past the mapping must remap, and a remap waits for every
// open read transaction, including the one a running snapshot holds, so a
// generous mapping keeps Apply from stalling behind a snapshot. It costs
// address space only, not memory.
const initialMmapSize = 1 << 30

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// FSM is the replicated state machine. Apply, ApplyBatch, Snapshot and
// Restore are called by Raft from one goroutine; the reads may run
// concurrently with them from any goroutine.
type FSM struct {
	dir    string
	logger *slog.Logger

	// mu guards db: Restore swaps the file under the write lock, everything
	// else holds the read lock while it uses db.
	mu sync.RWMutex
	db *bolt.DB

	appliedIndex atomic.Uint64
	changed      chan struct{}
	// noSync skips fsync after each write transaction; only tests set it.
	noSync bool
}

// New opens, or creates, the state file dir/state.db.
func New(dir string, logger *slog.Logger) (*FSM, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	db, err := openDB(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	f := &FSM{dir: dir, logger: logger, db: db, changed: make(chan struct{}, 1)}
	if err := db.View(func(tx *bolt.Tx) error {
		f.appliedIndex.Store(appliedIndex(tx))
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("read applied index from %s: %w", db.Path(), err)
	}
	logger.Info("state machine opened", "path", db.Path(), "applied_index", f.appliedIndex.Load())
	return f, nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		InitialMmapSize: initialMmapSize,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("open state file %s (is another hub process using this data directory?): %w", path, err)
	}
	if err := db.Update(createBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare state file %s: %w", path, err)
	}
	return db, nil
}

// Close closes the state file. It waits for open reads and snapshots.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	if err != nil {
		return fmt.Errorf("close state file: %w", err)
	}
	return nil
}

// AppliedIndex returns the index of the last log entry applied.
func (f *FSM) AppliedIndex() uint64 { return f.appliedIndex.Load() }

// Changed returns a channel that receives (non-blocking, coalesced) after
// each applied batch that touched calls, and after a Restore.
func (f *FSM) Changed() <-chan struct{} { return f.changed }

func (f *FSM) signalChanged() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// view runs fn in a read transaction.
func (f *FSM) view(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return errors.New("state machine is closed")
	}
	return f.db.View(fn)
}

// Apply applies one log entry; see ApplyBatch.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies log entries in one bbolt write transaction. Each
// command entry yields a *Response; other entries yield nil. Entries at or
// below the stored applied index were applied before a restart and are
// skipped.
//
// An entry that cannot be decoded, or a failure of the state file itself,
// rolls the batch back and panics after logging at error level. A node that
// went on would diverge from its peers. After an upgrade or a repair it
// restarts and replays the log from its last committed state.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if len(logs) == 0 {
		return out
	}

	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		panic("raftfsm: ApplyBatch called after Close; shut Raft down before closing the state machine")
	}

	var touchedCalls bool
	var last uint64
	err := f.db.Update(func(tx *bolt.Tx) error {
		a := &applier{tx: tx, logger: f.logger, lastTime: appliedTime(tx)}
		last = appliedIndex(tx)
		for i, l := range logs {
			if l.Index <= last {
				out[i] = &Response{Duplicate: true}
				continue
			}
			if l.Type == raft.LogCommand {
				resp, err := a.applyEntry(l)
				if err != nil {
					return err
				}
				out[i] = resp
			}
			last = l.Index
		}
		touchedCalls = a.touchedCalls
		return a.writeMeta(last)
	})
	if err != nil {
		f.fatal(logs, err)
	}

	f.appliedIndex.Store(last)
	if touchedCalls {
		f.signalChanged()
	}
	return out
}

// fatal logs and panics; see ApplyBatch.
func (f *FSM) fatal(logs []*raft.Log, err error) {
	var de *decodeError
	if errors.As(err, &de) {
		f.logger.Error("cannot decode raft log entry; stopping this node so that it does not diverge from its peers; upgrade it to a version that knows this command type",
			"index", de.index, "type", de.typ, "error", de.err)
		panic(fmt.Sprintf("raftfsm: cannot decode log entry %d (type %d): %v", de.index, de.typ, de.err))
	}
	f.logger.Error("cannot apply raft log entries to the state file; stopping this node",
		"first_index", logs[0].Index, "last_index", logs[len(logs)-1].Index, "error", err)
	panic(fmt.Sprintf("raftfsm: apply entries %d-%d: %v", logs[0].Index, logs[len(logs)-1].Index, err))
}

// decodeError is an entry that raftfsm.Decode rejected.
type decodeError struct {
	index uint64
	typ   int
	err   error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("decode log entry %d (type %d): %v", e.index, e.typ, e.err)
}
