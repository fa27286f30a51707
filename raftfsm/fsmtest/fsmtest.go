// Package fsmtest applies raftfsm commands to a state machine directly,
// without Raft, for tests of the packages above raftfsm.
package fsmtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/raftfsm"
)

// Applier stamps and applies commands one at a time, as a single-node
// cluster would, and hands out increasing log indexes.
type Applier struct {
	FSM    raft.FSM
	NodeID string
	// Now returns the time stamped into commands; time.Now when nil.
	Now func() time.Time

	mu    sync.Mutex
	index uint64
}

// Apply stamps the command's Meta where empty and applies it. A command
// that Apply rejected is returned as a *raftfsm.ApplyError.
func (a *Applier) Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	meta := cmd.CommandMeta()
	if meta.ProposalID == "" {
		meta.ProposalID = uuid.NewString()
	}
	if meta.Time.IsZero() {
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		meta.Time = now().UTC()
	}
	if meta.NodeID == "" {
		meta.NodeID = a.NodeID
	}
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	a.index++
	out := a.FSM.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: data})
	switch v := out.(type) {
	case *raftfsm.Response:
		if v.Err != nil {
			return v, v.Err
		}
		return v, nil
	case error:
		return nil, v
	default:
		return nil, fmt.Errorf("fsmtest: unexpected apply result %T", out)
	}
}
