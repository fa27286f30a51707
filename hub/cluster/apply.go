package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/raftfsm"
)

// Apply stamps the command's Meta (proposal id, UTC time, node id) where
// empty and commits it through the leader: on the leader directly, on a
// follower by forwarding the encoded entry to the leader's internal API.
//
// It waits up to Config.LeaderWait for a leader. A failure that a new
// attempt may fix (a forward that timed out or lost its connection,
// leadership lost while committing, a leader change) is retried with the
// same proposal id until LeaderWait or ctx ends. The state machine applies
// a proposal id once, so a retried command is never applied twice.
//
// Errors: ErrNoLeader when no attempt reached a leader, ErrOutcomeUnknown
// when one may have and the command may have been committed,
// ErrShuttingDown, the context's error, or a *raftfsm.ApplyError (returned
// with its Response) when the state machine rejected the command.
func (n *Node) Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	if !n.beginApply() {
		return nil, ErrShuttingDown
	}
	defer n.inflight.Done()

	meta := cmd.CommandMeta()
	if meta.ProposalID == "" {
		meta.ProposalID = uuid.NewString()
	}
	if meta.Time.IsZero() {
		meta.Time = time.Now().UTC()
	}
	if meta.NodeID == "" {
		meta.NodeID = n.cfg.NodeID
	}
	entry, err := raftfsm.Encode(cmd)
	if err != nil {
		return nil, err
	}

	var resp *raftfsm.Response
	var forwardedIndex uint64
	err = n.withLeader(ctx, "apply command", meta.ProposalID,
		func() error {
			var err error
			resp, _, err = n.applyLocal(entry)
			forwardedIndex = 0
			return err
		},
		func(leaderURL string) error {
			var err error
			resp, forwardedIndex, err = n.forwardApply(ctx, leaderURL, entry)
			return err
		})
	if err != nil {
		return nil, err
	}
	if forwardedIndex > 0 {
		n.waitLocalApply(ctx, forwardedIndex, meta.ProposalID)
	}
	if resp.Err != nil {
		return resp, resp.Err
	}
	return resp, nil
}

// localApplyWait bounds how long Apply on a follower waits for its own
// state machine to apply a forwarded entry.
const localApplyWait = 2 * time.Second

// waitLocalApply waits until this node's state machine has applied the log
// entry at index, so that a caller of Apply on a follower reads its own
// write from this node. A follower applies a forwarded entry after the
// leader's next replication round, usually within a few milliseconds. The
// write has committed either way, so running out of time only logs.
func (n *Node) waitLocalApply(ctx context.Context, index uint64, proposalID string) {
	if n.fsm.AppliedIndex() >= index {
		return
	}
	deadline := time.NewTimer(localApplyWait)
	defer deadline.Stop()
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	for n.fsm.AppliedIndex() < index {
		select {
		case <-poll.C:
		case <-deadline.C:
			n.logger.Warn("forwarded write not applied on this node in time; reads here may lag",
				"proposal_id", proposalID, "log_index", index, "applied_index", n.fsm.AppliedIndex(), "wait", localApplyWait.String())
			return
		case <-ctx.Done():
			n.logger.Debug("stopped waiting for the local apply of a forwarded write",
				"proposal_id", proposalID, "log_index", index, "error", ctx.Err())
			return
		}
	}
}

// withLeader runs local on the leader or remote with the leader's URL on a
// follower, and retries failures marked retryable until LeaderWait (from
// now) or ctx ends. Retrying is only safe for idempotent operations: a
// command with a fixed proposal id, or a server removal.
//
// When it gives up after an attempt that may have reached a leader, it
// returns ErrOutcomeUnknown, not ErrNoLeader, because the operation may
// have been committed. A later attempt that was rejected cleanly does not
// change that: the earlier one may still commit.
func (n *Node) withLeader(ctx context.Context, op, proposalID string, local func() error, remote func(leaderURL string) error) error {
	deadline := time.Now().Add(n.cfg.LeaderWait)
	var lastErr error
	ambiguous := false
	// giveUp returns the error for stopping with cause, which is
	// ErrNoLeader, ErrShuttingDown or ctx's error.
	giveUp := func(cause error) error {
		switch {
		case ambiguous && (errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded)):
			return fmt.Errorf("%s: %w: %w (last attempt: %v)", op, ErrOutcomeUnknown, cause, lastErr)
		case ambiguous:
			reason := cause.Error()
			if errors.Is(cause, ErrNoLeader) {
				reason = fmt.Sprintf("retried for %s", n.cfg.LeaderWait)
			}
			return fmt.Errorf("%s: %w (%s; last attempt: %v)", op, ErrOutcomeUnknown, reason, lastErr)
		case lastErr != nil:
			return fmt.Errorf("%s: %w (last attempt: %v)", op, cause, lastErr)
		default:
			return fmt.Errorf("%s: %w", op, cause)
		}
	}
	for attempt := 1; ; attempt++ {
		leaderID, leaderURL, err := n.waitForLeader(ctx, deadline)
		if err != nil {
			return giveUp(err)
		}
		if leaderID == n.cfg.NodeID {
			err = local()
		} else {
			err = remote(leaderURL)
		}
		if err == nil && attempt > 1 {
			n.logger.Info("retry succeeded", "operation", op, "proposal_id", proposalID, "attempt", attempt, "leader_id", leaderID)
		}
		if err != nil && ambiguous && ctx.Err() != nil && !errors.Is(err, ErrOutcomeUnknown) {
			// ctx ended before this attempt sent anything, but an earlier
			// attempt may have committed.
			lastErr = err
			return giveUp(ctx.Err())
		}
		if err == nil || !isRetryable(err) {
			return err
		}
		lastErr = err
		if isAmbiguous(err) {
			ambiguous = true
		}
		// The first failure of a proposal is a warning; the retries that
		// follow it, up to every 50-500 ms, are logged at debug level.
		level := slog.LevelDebug
		if attempt == 1 {
			level = slog.LevelWarn
		}
		n.logger.Log(ctx, level, "attempt failed; retrying with the same proposal id",
			"operation", op, "proposal_id", proposalID, "attempt", attempt, "leader_id", leaderID,
			"outcome_unknown", isAmbiguous(err), "error", err)
		wait := min(time.Duration(attempt)*50*time.Millisecond, 500*time.Millisecond)
		if time.Now().Add(wait).After(deadline) {
			return giveUp(ErrNoLeader)
		}
		select {
		case <-ctx.Done():
			return giveUp(ctx.Err())
		case <-time.After(wait):
		}
	}
}

// waitForLeader polls until a leader with a known HTTP URL exists (or this
// node leads), returning ErrNoLeader at deadline.
func (n *Node) waitForLeader(ctx context.Context, deadline time.Time) (id, url string, err error) {
	const poll = 20 * time.Millisecond
	for {
		if n.raft.State() == raft.Shutdown {
			return "", "", ErrShuttingDown
		}
		id, url = n.Leader()
		if id != "" && url != "" {
			return id, url, nil
		}
		if time.Now().After(deadline) {
			return "", "", ErrNoLeader
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(poll):
		}
	}
}

// applyLocal proposes an encoded entry on this node, which must be leader,
// and returns the state machine's response and the entry's log index.
func (n *Node) applyLocal(entry []byte) (*raftfsm.Response, uint64, error) {
	start := time.Now()
	future := n.raft.Apply(entry, n.cfg.ApplyTimeout)
	if err := future.Error(); err != nil {
		return nil, 0, translateRaftError("raft apply", err)
	}
	n.metrics.applyDuration.Observe(time.Since(start).Seconds())
	switch v := future.Response().(type) {
	case *raftfsm.Response:
		return v, future.Index(), nil
	case error:
		n.logger.Error("state machine failed to apply a command", "error", v)
		return nil, 0, fmt.Errorf("state machine: %w", v)
	default:
		return nil, 0, fmt.Errorf("state machine returned %T, want *raftfsm.Response", v)
	}
}

// RemoveServer removes a server from the Raft configuration, on the leader
// or forwarded to it. Use it for a server that failed for good: gossip
// never removes a failed server by itself. A server that is still alive in
// gossip is added back by the leader's next membership check. To take a
// running server out, shut it down with leave.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("remove server: %w: empty id", ErrUnknownServer)
	}
	return n.withLeader(ctx, "remove server "+id, "",
		func() error { return n.removeLocal(id) },
		func(leaderURL string) error { return n.forwardRemove(ctx, leaderURL, id) })
}

func (n *Node) removeLocal(id string) error {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return translateRaftError("read raft configuration", err)
	}
	found := false
	for _, s := range future.Configuration().Servers {
		if string(s.ID) == id {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("remove server %s: %w", id, ErrUnknownServer)
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error(); err != nil {
		err = translateRaftError("raft remove server", err)
		n.logger.Error("removing raft server failed", "peer_id", id, "error", err)
		return err
	}
	n.markRemoved(id)
	n.logger.Info("removed raft server", "peer_id", id)
	return nil
}
