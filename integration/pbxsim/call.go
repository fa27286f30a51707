package pbxsim

import (
	"time"
)

// waitOutcome is the reason a call goroutine stopped waiting.
type waitOutcome int

const (
	waitElapsed  waitOutcome = iota // the delay passed
	waitDeleted                     // the application deleted the channel
	waitTimedOut                    // the originate timeout passed
	waitStopped                     // the server stopped
)

// call is the state of one call goroutine.
type call struct {
	s        *Server
	ch       *channel
	stopped  <-chan struct{}
	deadline time.Time // the originate timeout; zero for none or once answered
	cause    int       // the DELETE cause after waitDeleted
}

// wait waits for d of real time; forever when forever is set.
func (c *call) wait(d time.Duration, forever bool) waitOutcome {
	var delay <-chan time.Time
	if !forever {
		t := time.NewTimer(d)
		defer t.Stop()
		delay = t.C
	}
	var timeout <-chan time.Time
	if !c.deadline.IsZero() {
		t := time.NewTimer(time.Until(c.deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-delay:
		return waitElapsed
	case <-timeout:
		return waitTimedOut
	case c.cause = <-c.ch.hangup:
		return waitDeleted
	case <-c.stopped:
		return waitStopped
	}
}

// snapshot returns the channel snapshot after applying change, if any.
func (c *call) snapshot(change func(ch *channel)) channelSnapshot {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if change != nil {
		change(c.ch)
	}
	return c.ch.snapshotLocked()
}

func (c *call) emit(e event) { c.s.emit(c.ch.app, e) }

func (c *call) techCause(code int) int {
	if c.s.techCause {
		return code
	}
	return 0
}

// destroy removes the channel, records its cause and sends
// ChannelDestroyed, always the last event of a channel.
func (c *call) destroy(cause, techCause int) {
	c.s.mu.Lock()
	c.ch.inStasis = false
	snap := c.ch.snapshotLocked()
	delete(c.s.channels, c.ch.id)
	c.ch.record.Ended = true
	c.ch.record.Cause = cause
	c.ch.record.CauseText = CauseText(cause)
	c.s.mu.Unlock()
	c.emit(destroyedEvent(time.Now(), snap, cause, c.techCause(techCause)))
	c.s.logger.Info("pbxsim: channel destroyed", "channel_id", c.ch.id, "cause", cause)
}

// vanish removes the channel without any event, as when Asterisk stops.
func (c *call) vanish() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.channels, c.ch.id)
	c.ch.record.Ended = true
}

// runCall plays the far end of one channel. Each branch follows the
// Asterisk 20 recording of the matching SIP response.
func (s *Server) runCall(ch *channel, stopped <-chan struct{}) {
	defer s.calls.Done()
	c := &call{s: s, ch: ch, stopped: stopped}
	if ch.timeout > 0 {
		c.deadline = ch.created.Add(ch.timeout)
	}
	b := ch.behavior

	// The INVITE is sent.
	c.emit(dialEvent(time.Now(), c.snapshot(nil), "", ch.dialstring))

	if b.Kind == KindUnreachable {
		c.endBeforeAnswer(c.wait(0, true))
		return
	}
	if out := c.wait(s.scale(b.RingAfter), false); out != waitElapsed {
		c.endBeforeAnswer(out)
		return
	}

	switch b.Kind {
	case KindBusy: // 486 Busy Here
		c.emit(dialEvent(time.Now(), c.snapshot(nil), "BUSY", ch.dialstring))
		c.destroy(causeBusy, 486)
	case KindDecline: // 603 Decline
		c.emit(dialEvent(time.Now(), c.snapshot(nil), "BUSY", ch.dialstring))
		c.destroy(causeRejected, 603)
	case KindTrunk503: // 503 Service Unavailable
		c.emit(dialEvent(time.Now(), c.snapshot(nil), "CONGESTION", ch.dialstring))
		c.destroy(causeCongestion, 503)
	case KindUnavailable: // 480 Temporarily Unavailable
		c.rejectUnavailable()
	case KindUnallocated: // 404 Not Found
		snap := c.snapshot(nil)
		c.emit(hangupRequestEvent(time.Now(), snap, causeUnallocated, false, c.techCause(404)))
		c.emit(dialEvent(time.Now(), snap, "NOANSWER", ch.dialstring))
		c.emitRTPStats(snap)
		c.destroy(causeUnallocated, 404)
	case KindNoAnswer:
		c.ring()
		if b.RingFor <= 0 {
			c.endBeforeAnswer(c.wait(0, true))
			return
		}
		if out := c.wait(s.scale(b.RingFor), false); out != waitElapsed {
			c.endBeforeAnswer(out)
			return
		}
		// NOTE: not recorded. chan_sip reports a 480 after a 180 as it did
		// without one: Dial BUSY and cause 19.
		c.rejectUnavailable()
	default: // KindAnswer
		c.answer()
	}
}

// ring sends the events of a 180 Ringing.
func (c *call) ring() {
	snap := c.snapshot(func(ch *channel) { ch.state = stateRinging })
	c.emit(channelEvent("ChannelStateChange", time.Now(), snap))
	c.emit(dialEvent(time.Now(), snap, "RINGING", c.ch.dialstring))
}

// rejectUnavailable sends the events of a 480 Temporarily Unavailable.
func (c *call) rejectUnavailable() {
	snap := c.snapshot(nil)
	c.emit(dialEvent(time.Now(), snap, "BUSY", c.ch.dialstring))
	c.emitRTPStats(snap)
	c.destroy(causeNoAnswer, 480)
}

// emitRTPStats sends the RTP statistics variables chan_sip sets when a
// call that negotiated media ends, then the summary it sets again.
func (c *call) emitRTPStats(snap channelSnapshot) {
	now := time.Now()
	for _, e := range rtpVarsets(now, snap, c.ch.ssrc) {
		c.emit(e)
	}
	c.emit(rtpSummaryVarset(now, snap, c.ch.ssrc))
}

// endBeforeAnswer ends a channel that was not answered.
func (c *call) endBeforeAnswer(out waitOutcome) {
	switch out {
	case waitStopped:
		c.vanish()
	case waitTimedOut:
		// Asterisk's dial timeout: no Dial event, cause 19. PJSIP derives
		// tech_cause 480 from it.
		c.destroy(causeNoAnswer, 480)
	case waitDeleted:
		snap := c.snapshot(nil)
		c.emit(hangupRequestEvent(time.Now(), snap, softHangupExplicit, true, 0))
		c.destroy(c.cause, 0)
	}
}

// answer plays a callee that rings, answers after AnswerAfter, and stays
// until the application deletes the channel or HangupAfter passes.
func (c *call) answer() {
	b := c.ch.behavior
	c.ring()
	if out := c.wait(c.s.scale(b.AnswerAfter), false); out != waitElapsed {
		c.endBeforeAnswer(out)
		return
	}

	// 200 OK.
	c.deadline = time.Time{}
	snap := c.snapshot(func(ch *channel) { ch.state = stateUp })
	c.emit(channelEvent("ChannelStateChange", time.Now(), snap))
	c.emit(dialEvent(time.Now(), snap, "ANSWER", c.ch.dialstring))

	if !c.s.appConnected(c.ch.app) {
		// Stasis() fails on an app with no websocket, and Asterisk hangs
		// up the call it has just answered.
		c.s.logger.Info("pbxsim: answered channel has no app websocket; hanging up", "channel_id", c.ch.id)
		c.destroy(causeNormal, 0)
		return
	}
	snap = c.snapshot(func(ch *channel) { ch.inStasis = true })
	c.emit(varsetEvent(time.Now(), snap, "STASISSTATUS", ""))
	c.emit(stasisStartEvent(time.Now(), snap, c.ch.appArgs))

	out := c.wait(c.s.scale(b.HangupAfter), b.HangupAfter <= 0)
	if out == waitStopped {
		c.vanish()
		return
	}

	// The media session ends, the hangup is requested, the channel leaves
	// Stasis and is destroyed.
	c.emitRTPStatsOnly(snap)
	cause := causeNormal
	if out == waitDeleted {
		cause = c.cause
		c.emit(hangupRequestEvent(time.Now(), snap, softHangupExplicit, true, 0))
	} else {
		// NOTE: not recorded. The callee's BYE, as chan_sip reports it.
		c.emit(hangupRequestEvent(time.Now(), snap, causeNormal, false, 0))
	}
	c.emit(channelEvent("StasisEnd", time.Now(), snap))
	c.emit(varsetEvent(time.Now(), snap, "STASISSTATUS", "SUCCESS"))
	c.emit(rtpSummaryVarset(time.Now(), snap, c.ch.ssrc))
	c.destroy(cause, 0)
}

// emitRTPStatsOnly sends the five RTP statistics variables without the
// summary that follows them at destruction.
func (c *call) emitRTPStatsOnly(snap channelSnapshot) {
	for _, e := range rtpVarsets(time.Now(), snap, c.ch.ssrc) {
		c.emit(e)
	}
}
