package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/protocol"
	"github.com/ringhook/ringhook/raftfsm"
)

// reportQueue bounds the messages that wait for a session's worker; a full
// queue stops the read loop until the worker catches up.
const reportQueue = 256

// readLoop reads the agent's messages until the session ends. It handles
// heartbeats itself and queues every other message for the session's
// worker. A slow Raft apply then cannot hold back heartbeats and get a
// healthy session closed.
func (g *Gateway) readLoop(s *session) {
	work := make(chan protocol.Envelope, reportQueue)
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		for env := range work {
			if s.ctx.Err() != nil {
				continue
			}
			g.handle(s, env)
		}
	}()
	defer func() {
		close(work)
		<-workerDone
	}()

	for {
		_, data, err := s.conn.Read(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Info("agent session read ended", "error", err)
			}
			return
		}
		g.mu.Lock()
		s.lastSeen = time.Now()
		g.mu.Unlock()

		env, err := protocol.Decode(data)
		if err != nil {
			g.sendError(s, protocol.CodeBadMessage, err.Error())
			continue
		}
		if env.Type == protocol.TypeHeartbeat {
			g.handle(s, env)
			continue
		}
		select {
		case work <- env:
		case <-s.ctx.Done():
			return
		}
	}
}

func (g *Gateway) handle(s *session, env protocol.Envelope) {
	var err error
	switch env.Type {
	case protocol.TypeHeartbeat:
		err = decodeAndHandle(s, env, g.onHeartbeat)
	case protocol.TypeAssignAccepted:
		err = decodeAndHandle(s, env, g.onAccepted)
	case protocol.TypeAssignRefused:
		err = decodeAndHandle(s, env, g.onRefused)
	case protocol.TypeProgress:
		err = decodeAndHandle(s, env, g.onProgress)
	case protocol.TypeFinished:
		err = decodeAndHandle(s, env, g.onFinished)
	default:
		g.sendError(s, protocol.CodeUnknownType, fmt.Sprintf("unknown message type %q for protocol version %d", env.Type, protocol.Version))
		return
	}
	if err != nil {
		g.sendError(s, protocol.CodeBadMessage, err.Error())
	}
}

// decodeAndHandle decodes the payload of env as a T and passes it to
// handle. It returns the decoding error and calls nothing when the payload
// does not decode.
func decodeAndHandle[T any](s *session, env protocol.Envelope, handle func(*session, T)) error {
	var m T
	if err := protocol.DecodePayload(env, &m); err != nil {
		return err
	}
	handle(s, m)
	return nil
}

func (g *Gateway) sendError(s *session, code, msg string) {
	s.log.Warn("agent message rejected", "code", code, "error", msg)
	if err := s.send(g.cfg.WriteTimeout, protocol.TypeError, protocol.Error{Code: code, Message: msg}); err != nil {
		s.log.Debug("send error message failed", "error", err)
	}
}

func (g *Gateway) ack(s *session, reportID string) {
	if err := s.send(g.cfg.WriteTimeout, protocol.TypeAck, protocol.Ack{ReportID: reportID}); err != nil {
		s.log.Warn("send ack failed; the agent will resend the report", "report_id", reportID, "error", err)
	}
}

func (g *Gateway) onHeartbeat(s *session, hb protocol.Heartbeat) {
	g.mu.Lock()
	wasHealthy, _ := g.healthLocked(s, time.Now())
	s.health = hb.Health
	healthy, detail := g.healthLocked(s, time.Now())
	g.mu.Unlock()
	if healthy != wasHealthy {
		s.log.Info("agent health changed", "healthy", healthy, "detail", detail)
		g.poke()
	}
}

// attemptOf returns the attempt with the given number, or nil.
func attemptOf(c model.Call, number int) *model.Attempt {
	for i := range c.Attempts {
		if c.Attempts[i].Number == number {
			return &c.Attempts[i]
		}
	}
	return nil
}

func attemptDone(a *model.Attempt) bool {
	return !a.FinishedAt.IsZero() || a.Disposition != ""
}

// lookupAttempt finds the attempt that a message names. The error is a
// *stateReadError when the state could not be read; any other error means
// the call or attempt is unknown or belongs to another agent.
func (g *Gateway) lookupAttempt(s *session, ref protocol.CallRef) (*model.Attempt, error) {
	call, err := g.state.GetCall(ref.CallID)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return nil, fmt.Errorf("call %s not found", ref.CallID)
	}
	if err != nil {
		return nil, &stateReadError{fmt.Errorf("read call %s: %w", ref.CallID, err)}
	}
	a := attemptOf(call, ref.Attempt)
	if a == nil {
		return nil, fmt.Errorf("call %s has no attempt %d", ref.CallID, ref.Attempt)
	}
	if a.AgentID != s.agent.ID {
		return nil, fmt.Errorf("attempt %d of call %s belongs to agent %s", ref.Attempt, ref.CallID, a.AgentID)
	}
	return a, nil
}

func (g *Gateway) releaseClaim(s *session, ref protocol.CallRef) {
	g.mu.Lock()
	delete(s.claims, ref)
	g.mu.Unlock()
}

func (g *Gateway) onAccepted(s *session, m protocol.AssignAccepted) {
	log := s.log.With("call_id", m.CallID, "attempt", m.Attempt)
	a, err := g.lookupAttempt(s, m.CallRef)
	if err != nil {
		log.Warn("assignment accepted for an attempt the agent does not hold", "error", err)
		return
	}
	if attemptDone(a) {
		log.Info("assignment accepted after the attempt finished; withdrawing it", "disposition", a.Disposition)
		g.sendCancel(s, m.CallRef, "attempt already finished: "+a.Error)
		return
	}
	g.mu.Lock()
	c := s.claims[m.CallRef]
	if c == nil {
		c = &claim{sentAt: time.Now()}
		s.claims[m.CallRef] = c
	}
	c.accepted = true
	g.mu.Unlock()
	log.Info("agent accepted assignment")
}

func (g *Gateway) onRefused(s *session, m protocol.AssignRefused) {
	log := s.log.With("call_id", m.CallID, "attempt", m.Attempt, "code", m.Code)
	g.releaseClaim(s, m.CallRef)
	a, err := g.lookupAttempt(s, m.CallRef)
	if err != nil {
		log.Warn("assignment refused for an attempt the agent does not hold", "error", err)
		return
	}
	if attemptDone(a) {
		return
	}
	reason := fmt.Sprintf("agent %s refused the assignment: %s: %s", s.agent.ID, m.Code, m.Message)
	log.Warn("agent refused assignment; retrying elsewhere", "error", m.Message)
	g.failAttempt(s.ctx, m.CallRef, s.agent.ID, reason, outcomeRefused)
}

func (g *Gateway) onProgress(s *session, m protocol.Progress) {
	log := s.log.With("call_id", m.CallID, "attempt", m.Attempt, "report_id", m.ReportID, "progress", m.Progress)
	a, err := g.lookupAttempt(s, m.CallRef)
	switch {
	case err != nil && isStateError(err):
		g.sendError(s, protocol.CodeInternal, err.Error())
		return
	case err != nil:
		log.Warn("progress for an unknown attempt acknowledged without recording", "error", err)
		g.ack(s, m.ReportID)
		return
	case attemptDone(a) || a.Progress == m.Progress:
		log.Debug("duplicate progress acknowledged")
		g.ack(s, m.ReportID)
		return
	}

	g.mu.Lock()
	if c := s.claims[m.CallRef]; c != nil {
		c.accepted = true
	}
	g.mu.Unlock()

	at := m.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	cmd := &raftfsm.AttemptProgress{CallID: m.CallID, Attempt: m.Attempt, Progress: m.Progress, At: at}
	cmd.ProposalID = reportProposalID(s.agent.ID, m.ReportID)
	if _, err := g.apply(s.ctx, cmd); err != nil {
		var rejected *raftfsm.ApplyError
		if !errors.As(err, &rejected) {
			log.Error("record progress failed; waiting for the agent to resend", "error", err)
			g.sendError(s, protocol.CodeInternal, "record progress: "+err.Error())
			return
		}
		log.Error("state machine rejected progress; acknowledging it so the agent drops it", "error", err)
	} else {
		log.Info("attempt progress recorded")
	}
	g.ack(s, m.ReportID)
	g.poke()
}

func (g *Gateway) onFinished(s *session, m protocol.Finished) {
	log := s.log.With("call_id", m.CallID, "attempt", m.Attempt, "report_id", m.ReportID)
	a, err := g.lookupAttempt(s, m.CallRef)
	switch {
	case err != nil && isStateError(err):
		g.sendError(s, protocol.CodeInternal, err.Error())
		return
	case err != nil:
		log.Warn("finished report for an unknown attempt acknowledged without recording", "error", err)
		g.releaseClaim(s, m.CallRef)
		g.ack(s, m.ReportID)
		return
	case attemptDone(a):
		// This includes an attempt that the hub declared lost while the
		// agent was away. The first recorded outcome is kept.
		if a.Disposition != m.Disposition {
			log.Warn("finished report for an attempt already recorded with another outcome",
				"recorded", a.Disposition, "reported", m.Disposition)
		} else {
			log.Info("duplicate finished report acknowledged")
		}
		g.releaseClaim(s, m.CallRef)
		g.ack(s, m.ReportID)
		return
	}

	at := m.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	cmd := &raftfsm.AttemptFinished{
		CallID:      m.CallID,
		Attempt:     m.Attempt,
		Disposition: m.Disposition,
		Retryable:   m.Retryable,
		Cancelled:   m.Cancelled,
		Cause:       m.Cause,
		CauseText:   m.CauseText,
		SIPCode:     m.SIPCode,
		Error:       m.Error,
		At:          at,
		Raw:         m.Raw,
	}
	cmd.ProposalID = reportProposalID(s.agent.ID, m.ReportID)
	if _, err := g.apply(s.ctx, cmd); err != nil {
		var rejected *raftfsm.ApplyError
		if !errors.As(err, &rejected) {
			log.Error("record finished attempt failed; waiting for the agent to resend", "error", err)
			g.sendError(s, protocol.CodeInternal, "record finished attempt: "+err.Error())
			return
		}
		log.Error("state machine rejected finished report; acknowledging it so the agent drops it", "error", err)
	} else {
		log.Info("attempt finished", "disposition", m.Disposition, "retryable", m.Retryable,
			"cancelled", m.Cancelled, "cause", m.Cause, "sip_code", m.SIPCode, "error", m.Error)
		g.metrics.attempts.WithLabelValues(reportOutcome(m)).Inc()
	}
	g.releaseClaim(s, m.CallRef)
	g.ack(s, m.ReportID)
	g.poke()
}

// stateReadError marks a failure to read the state, as opposed to an
// unknown call or attempt.
type stateReadError struct{ err error }

func (e *stateReadError) Error() string { return e.err.Error() }
func (e *stateReadError) Unwrap() error { return e.err }

func isStateError(err error) bool {
	var se *stateReadError
	return errors.As(err, &se)
}

// reportProposalID makes a resent report a duplicate proposal, which the
// state machine skips even if two copies race past the duplicate check.
func reportProposalID(agentID, reportID string) string {
	return "agent-report-" + agentID + "-" + reportID
}

func reportOutcome(m protocol.Finished) string {
	switch {
	case m.Cancelled:
		return outcomeCancelled
	case m.Disposition == model.DispositionAnswered:
		return outcomeAnswered
	case m.Disposition == model.DispositionNoAnswer:
		return outcomeNoAnswer
	case m.Disposition == model.DispositionBusy:
		return outcomeBusy
	case m.Retryable:
		return outcomeRetryable
	}
	return outcomeFailed
}
