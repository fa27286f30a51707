// Package retention prunes old requests and finished calls. The leader
// proposes a raftfsm.Prune command at a fixed interval; every node then
// deletes the same records in Apply.
package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/ringhook/ringhook/raftfsm"
)

// DefaultMaxAge is how long requests and finished calls are kept.
const DefaultMaxAge = 30 * 24 * time.Hour

// DefaultInterval is how often the leader proposes a prune.
const DefaultInterval = time.Hour

// Proposer is the part of a cluster node the pruner uses.
type Proposer interface {
	Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error)
	IsLeader() bool
}

// Pruner proposes Prune commands while its node is leader.
type Pruner struct {
	Node     Proposer
	MaxAge   time.Duration
	Interval time.Duration
	Logger   *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Run proposes a prune at every interval until ctx ends. Followers skip
// their turn, so only the leader's proposals reach the log.
func (p *Pruner) Run(ctx context.Context) {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if p.Node.IsLeader() {
				p.PruneOnce(ctx)
			}
		}
	}
}

// PruneOnce proposes Prune commands for everything older than MaxAge. One
// command deletes at most raftfsm.PruneLimit records of each kind, so it
// proposes again while the response sets More, up to maxRounds times.
func (p *Pruner) PruneOnce(ctx context.Context) error {
	maxAge := p.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	before := now().UTC().Add(-maxAge)

	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var total raftfsm.PruneResult
	for round := 1; round <= maxRounds; round++ {
		result, err := p.proposeOne(ctx, before)
		if err != nil {
			logger.Warn("prune failed; retrying at the next interval", "before", before, "round", round, "error", err)
			return err
		}
		total.Requests += result.Requests
		total.Calls += result.Calls
		total.Proposals += result.Proposals
		total.Counters += result.Counters
		if !result.More {
			break
		}
		if round == maxRounds {
			logger.Warn("prune stopped with records left; the next interval continues", "before", before, "rounds", round)
		}
	}
	logger.Info("pruned old requests and calls", "before", before, "requests", total.Requests, "calls", total.Calls)
	return nil
}

// maxRounds bounds the Prune commands of one PruneOnce, so that a large
// backlog is worked off over several intervals without monopolizing the log.
const maxRounds = 50

func (p *Pruner) proposeOne(ctx context.Context, before time.Time) (raftfsm.PruneResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := p.Node.Apply(ctx, &raftfsm.Prune{Before: before})
	if err != nil {
		return raftfsm.PruneResult{}, err
	}
	var result raftfsm.PruneResult
	if resp != nil && len(resp.Object) > 0 {
		if err := json.Unmarshal(resp.Object, &result); err != nil {
			return raftfsm.PruneResult{}, fmt.Errorf("decode prune result: %w", err)
		}
	}
	return result, nil
}
