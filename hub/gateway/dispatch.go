package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/protocol"
	"github.com/ringhook/ringhook/raftfsm"
)

// Run keeps agent sessions and dispatches calls while this node is the
// leader, until ctx ends. It then closes every session.
func (g *Gateway) Run(ctx context.Context) {
	g.log.Info("gateway started")
	var stopLeading func()
	startLeading := func() {
		if stopLeading != nil {
			return
		}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			g.lead(lctx)
		}()
		stopLeading = func() {
			cancel()
			<-done
		}
	}
	loseLeadership := func() {
		if stopLeading != nil {
			stopLeading()
			stopLeading = nil
		}
		g.closeAll(protocol.CloseNotLeader, "this hub node is no longer the leader; reconnect to the leader", true)
	}

	if g.node.IsLeader() {
		startLeading()
	}
	changes := g.node.LeaderChanges()
	for {
		select {
		case <-ctx.Done():
			if stopLeading != nil {
				stopLeading()
			}
			g.mu.Lock()
			g.shuttingDown = true
			g.mu.Unlock()
			g.closeAll(protocol.CloseShuttingDown, "hub node is shutting down; reconnect to another hub", false)
			g.log.Info("gateway stopped")
			return
		case leader, ok := <-changes:
			if !ok {
				// The node shut down; it leads no more.
				changes = nil
				loseLeadership()
				continue
			}
			if leader {
				startLeading()
			} else {
				loseLeadership()
			}
		}
	}
}

// dispatcher is the leader's dispatch state. Only the lead goroutine uses it.
type dispatcher struct {
	g           *Gateway
	leaderSince time.Time
	// cursor is the agent that took the last assignment; round-robin
	// continues after it.
	cursor string
	// orphanSince is when an assigned attempt was first seen without a
	// session claiming it.
	orphanSince map[protocol.CallRef]time.Time
	// resolvedAt caches, for one pass, the newest resolved notification of
	// each endpoint (zero when none).
	resolvedAt map[string]time.Time
}

func (g *Gateway) lead(ctx context.Context) {
	d := &dispatcher{
		g:           g,
		leaderSince: time.Now(),
		orphanSince: make(map[protocol.CallRef]time.Time),
	}
	g.log.Info("dispatcher started; waiting for agents to reconnect", "reconnect_grace", g.cfg.ReconnectGrace.String())

	ticker := time.NewTicker(g.cfg.DispatchInterval)
	defer ticker.Stop()
	grace := time.NewTimer(g.cfg.ReconnectGrace)
	defer grace.Stop()
	changed := g.state.Changed()
	for {
		d.pass(ctx)
		select {
		case <-ctx.Done():
			// Only the leader counts the queue.
			g.metrics.queueDepth.Set(0)
			g.log.Info("dispatcher stopped")
			return
		case <-changed:
		case <-g.wake:
		case <-ticker.C:
		case <-grace.C:
		}
	}
}

// pass looks at every assigned and queued call once.
func (d *dispatcher) pass(ctx context.Context) {
	g := d.g
	now := time.Now()
	inGrace := now.Sub(d.leaderSince) < g.cfg.ReconnectGrace
	d.resolvedAt = make(map[string]time.Time)
	g.closeDeletedSessions()

	assigned, err := g.state.ListCallsByStatus(model.CallAssigned)
	if err != nil {
		g.log.Error("list assigned calls failed", "error", err)
		return
	}
	d.reconcile(ctx, now, assigned, inGrace)

	queued, err := g.state.ListCallsByStatus(model.CallQueued)
	if err != nil {
		g.log.Error("list queued calls failed", "error", err)
		return
	}
	g.metrics.queueDepth.Set(float64(len(queued)))
	if inGrace || ctx.Err() != nil {
		return
	}
	d.dispatch(ctx, now, queued)
}

// currentAttempt returns the call's newest attempt, or nil.
func currentAttempt(c model.Call) *model.Attempt {
	var cur *model.Attempt
	for i := range c.Attempts {
		if cur == nil || c.Attempts[i].Number > cur.Number {
			cur = &c.Attempts[i]
		}
	}
	return cur
}

// reconcile checks every assigned call's current attempt against the
// sessions: an attempt no session claims is retried after the reconnect
// grace, one its agent did not accept in time is retried, and one whose
// endpoint was resolved before the agent dialed is cancelled.
func (d *dispatcher) reconcile(ctx context.Context, now time.Time, calls []model.Call, inGrace bool) {
	g := d.g
	live := make(map[protocol.CallRef]bool, len(calls))
	for _, call := range calls {
		a := currentAttempt(call)
		if a == nil || attemptDone(a) {
			continue
		}
		ref := protocol.CallRef{CallID: call.ID, Attempt: a.Number}
		live[ref] = true

		g.mu.Lock()
		s := g.sessions[a.AgentID]
		var cl claim
		claimed := false
		if s != nil && !s.closed {
			if c := s.claims[ref]; c != nil {
				cl, claimed = *c, true
			}
		}
		g.mu.Unlock()

		if !claimed {
			since, seen := d.orphanSince[ref]
			if !seen {
				since = now
				d.orphanSince[ref] = now
				g.log.Info("attempt has no agent session; waiting for the agent to reclaim it",
					"call_id", call.ID, "attempt", a.Number, "agent_id", a.AgentID, "grace", g.cfg.ReconnectGrace.String())
			}
			if now.Sub(since) >= g.cfg.ReconnectGrace {
				delete(d.orphanSince, ref)
				reason := fmt.Sprintf("agent lost: agent %s did not reconnect and claim the attempt within %s", a.AgentID, g.cfg.ReconnectGrace)
				g.failAttempt(ctx, ref, a.AgentID, reason, outcomeAgentLost)
			}
			continue
		}
		delete(d.orphanSince, ref)

		if !cl.accepted && now.Sub(cl.sentAt) >= g.cfg.AckTimeout {
			g.releaseClaim(s, ref)
			g.sendCancel(s, ref, "assignment not accepted in time; the call is retried elsewhere")
			reason := fmt.Sprintf("agent %s did not accept the assignment within %s", a.AgentID, g.cfg.AckTimeout)
			g.failAttempt(ctx, ref, a.AgentID, reason, outcomeAckTimeout)
			continue
		}

		undialed := a.Progress == "" || a.Progress == protocol.ProgressDialing
		if !inGrace && undialed && !cl.cancelSent && d.resolvedSince(call) {
			g.mu.Lock()
			if c := s.claims[ref]; c != nil {
				c.cancelSent = true
			}
			g.mu.Unlock()
			g.log.Info("withdrawing undialed attempt after a resolved notification",
				"call_id", call.ID, "attempt", a.Number, "agent_id", a.AgentID, "endpoint_id", call.EndpointID)
			g.sendCancel(s, ref, "the alert was resolved")
		}
	}
	for ref := range d.orphanSince {
		if !live[ref] {
			delete(d.orphanSince, ref)
		}
	}

	// A claim outlives its attempt when the agent names a finished attempt
	// in Hello.InFlight; it would count against the agent's capacity.
	g.mu.Lock()
	for _, s := range g.sessions {
		for ref := range s.claims {
			if !live[ref] {
				delete(s.claims, ref)
			}
		}
	}
	g.mu.Unlock()
}

// resolvedSince reports whether the call's endpoint received a resolved
// notification (one that cancels queued calls) after the call was queued.
func (d *dispatcher) resolvedSince(call model.Call) bool {
	at, ok := d.resolvedAt[call.EndpointID]
	if !ok {
		reqs, err := d.g.state.ListRequests(raftfsm.RequestQuery{
			EndpointID: call.EndpointID,
			Outcome:    model.OutcomeResolved,
			Since:      call.QueuedAt,
			Limit:      1,
		})
		if err != nil {
			d.g.log.Error("list resolved requests failed", "endpoint_id", call.EndpointID, "error", err)
			return false
		}
		if len(reqs) > 0 {
			at = reqs[0].ReceivedAt
		}
		d.resolvedAt[call.EndpointID] = at
	}
	return at.After(call.QueuedAt)
}

// candidate is a healthy agent that can take another call in this pass.
type candidate struct {
	agentID string
	trunk   string
	// free is how many more calls the agent takes; -1 means no limit.
	free int
}

func (d *dispatcher) candidates(now time.Time) (healthy []candidate, connectedTrunks map[string]bool) {
	g := d.g
	connectedTrunks = make(map[string]bool)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		if s.closed {
			continue
		}
		connectedTrunks[s.agent.Trunk] = true
		if ok, _ := g.healthLocked(s, now); !ok {
			continue
		}
		free := -1
		if s.health.MaxCalls > 0 {
			free = s.health.MaxCalls - s.activeCallsLocked()
		}
		healthy = append(healthy, candidate{agentID: s.agent.ID, trunk: s.agent.Trunk, free: free})
	}
	sort.Slice(healthy, func(i, j int) bool { return healthy[i].agentID < healthy[j].agentID })
	return healthy, connectedTrunks
}

// pickAgent returns the index in cands (ordered by agent id) of the agent
// for a call's next attempt, or -1 to wait. Round-robin starts after
// cursor. An agent on a trunk the call has not tried wins. When every
// connected agent's trunk has been tried, the least-tried trunk is used
// again rather than waiting for an agent that may never come back.
func pickAgent(cands []candidate, tried map[string]int, connectedTrunks map[string]bool, cursor string) int {
	start := sort.Search(len(cands), func(i int) bool { return cands[i].agentID > cursor })
	order := make([]int, 0, len(cands))
	for k := range cands {
		i := (start + k) % len(cands)
		if cands[i].free != 0 {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if tried[cands[i].trunk] == 0 {
			return i
		}
	}
	for trunk := range connectedTrunks {
		if tried[trunk] == 0 {
			// An agent on an untried trunk is connected but busy or
			// unhealthy now: wait for it.
			return -1
		}
	}
	best := -1
	for _, i := range order {
		if best == -1 || tried[cands[i].trunk] < tried[cands[best].trunk] {
			best = i
		}
	}
	return best
}

// waitStart is when the call started waiting for an agent: when it was
// queued, or when its last attempt finished.
func waitStart(c model.Call) time.Time {
	start := c.QueuedAt
	for _, a := range c.Attempts {
		if a.FinishedAt.After(start) {
			start = a.FinishedAt
		}
	}
	return start
}

func (d *dispatcher) dispatch(ctx context.Context, now time.Time, queued []model.Call) {
	g := d.g
	cands, connectedTrunks := d.candidates(now)

	var cancel []string
	for _, call := range queued {
		if ctx.Err() != nil {
			return
		}
		if d.resolvedSince(call) {
			cancel = append(cancel, call.ID)
			continue
		}
		if len(call.Attempts) >= model.MaxAttempts {
			g.failCall(ctx, call, fmt.Sprintf("all %d attempts failed", len(call.Attempts)))
			continue
		}

		tried := make(map[string]int)
		for _, a := range call.Attempts {
			tried[a.Trunk]++
		}
		i := pickAgent(cands, tried, connectedTrunks, d.cursor)
		assigned, agentDeleted := false, false
		for i >= 0 {
			assigned, agentDeleted = d.assign(ctx, now, call, cands[i])
			if !agentDeleted {
				break
			}
			// The assign closed the deleted agent's session, so the
			// candidates no longer contain it.
			cands, connectedTrunks = d.candidates(now)
			i = pickAgent(cands, tried, connectedTrunks, d.cursor)
		}
		if i < 0 {
			if waited := now.Sub(waitStart(call)); waited >= g.cfg.NoAgentWait {
				g.metrics.noAgentFailures.Inc()
				g.failCall(ctx, call, fmt.Sprintf(
					"no healthy agent with an untried trunk for %s; check the agents in the admin API", g.cfg.NoAgentWait))
			}
			continue
		}
		if assigned {
			d.cursor = cands[i].agentID
			if cands[i].free > 0 {
				cands[i].free--
			}
		}
	}

	if len(cancel) > 0 {
		cmd := &raftfsm.CancelCalls{CallIDs: cancel, Reason: "the alert was resolved while the call waited for a retry"}
		if _, err := g.apply(ctx, cmd); err != nil {
			g.log.Error("cancel calls after a resolved notification failed", "calls", len(cancel), "error", err)
		} else {
			for _, id := range cancel {
				g.log.Info("call cancelled before its retry: the alert was resolved", "call_id", id)
			}
		}
	}
}

// assign records the next attempt in Raft, then sends it to the agent. When
// the state machine no longer contains the agent, assign closes the agent's
// session and returns agentDeleted.
func (d *dispatcher) assign(ctx context.Context, now time.Time, call model.Call, c candidate) (assigned, agentDeleted bool) {
	g := d.g
	number := 1
	if cur := currentAttempt(call); cur != nil {
		number = cur.Number + 1
	}
	log := g.log.With("call_id", call.ID, "attempt", number, "agent_id", c.agentID, "trunk", c.trunk)

	cmd := &raftfsm.AssignAttempt{CallID: call.ID, Attempt: number, AgentID: c.agentID, Trunk: c.trunk}
	if _, err := g.apply(ctx, cmd); err != nil {
		var rejected *raftfsm.ApplyError
		if errors.As(err, &rejected) && rejected.Code == raftfsm.CodeNotFound && g.agentDeleted(c.agentID) {
			g.closeDeletedSession(c.agentID)
			return false, true
		}
		if rejected != nil {
			log.Warn("assignment rejected by the state machine; skipping the call this pass", "error", err)
		} else {
			log.Error("record assignment failed; retrying next pass", "error", err)
		}
		return false, false
	}

	ref := protocol.CallRef{CallID: call.ID, Attempt: number}
	g.mu.Lock()
	s := g.sessions[c.agentID]
	if s != nil && !s.closed {
		s.claims[ref] = &claim{sentAt: time.Now()}
	}
	g.mu.Unlock()
	if s == nil {
		// The attempt is recorded; with no session to claim it, reconcile
		// retries it after the grace period.
		log.Warn("agent session ended before the assignment was sent")
		return true, false
	}

	msg := protocol.Assign{CallRef: ref, Phone: call.Phone, ChannelID: protocol.ChannelID(call.ID, number)}
	if err := s.send(g.cfg.WriteTimeout, protocol.TypeAssign, msg); err != nil {
		log.Warn("send assignment failed; the attempt is retried if the agent does not reclaim it", "error", err)
		return true, false
	}
	g.metrics.dispatchLatency.Observe(now.Sub(waitStart(call)).Seconds())
	log.Info("call assigned", "phone", phone.Mask(call.Phone), "endpoint_id", call.EndpointID, "request_id", call.RequestID)
	return true, false
}

// failAttempt records a retryable failure that the hub detected itself;
// the state machine puts the call back in the queue while attempts remain.
func (g *Gateway) failAttempt(ctx context.Context, ref protocol.CallRef, agentID, reason, outcome string) {
	log := g.log.With("call_id", ref.CallID, "attempt", ref.Attempt, "agent_id", agentID)
	cmd := &raftfsm.AttemptFinished{
		CallID:      ref.CallID,
		Attempt:     ref.Attempt,
		Disposition: model.DispositionFailed,
		Retryable:   true,
		Error:       reason,
		At:          time.Now().UTC(),
	}
	if _, err := g.apply(ctx, cmd); err != nil {
		log.Error("record failed attempt failed", "reason", reason, "error", err)
		return
	}
	g.metrics.attempts.WithLabelValues(outcome).Inc()
	log.Warn("attempt failed; the call will be retried if attempts remain", "reason", reason)
	g.poke()
}

func (g *Gateway) failCall(ctx context.Context, call model.Call, reason string) {
	log := g.log.With("call_id", call.ID, "attempt", len(call.Attempts), "endpoint_id", call.EndpointID)
	if _, err := g.apply(ctx, &raftfsm.FailCall{CallID: call.ID, Reason: reason}); err != nil {
		log.Error("record failed call failed", "reason", reason, "error", err)
		return
	}
	log.Warn("call failed", "reason", reason)
}

func (g *Gateway) sendCancel(s *session, ref protocol.CallRef, reason string) {
	if err := s.send(g.cfg.WriteTimeout, protocol.TypeCancel, protocol.Cancel{CallRef: ref, Reason: reason}); err != nil {
		s.log.Warn("send cancel failed", "call_id", ref.CallID, "attempt", ref.Attempt, "error", err)
	}
}
