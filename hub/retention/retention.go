// Package retention prunes old requests and finished calls. The leader
// proposes a raftfsm.Prune command at a fixed interval; every node then
// deletes the same records in Apply.
package retention

import (
	"context"
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

// PruneOnce proposes one Prune of everything older than MaxAge.
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
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := p.Node.Apply(ctx, &raftfsm.Prune{Before: before}); err != nil {
		logger.Warn("prune failed; retrying at the next interval", "before", before, "error", err)
		return err
	}
	logger.Info("pruned old requests and calls", "before", before)
	return nil
}
