package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ringhook/ringhook/agent/ari"
	"github.com/ringhook/ringhook/agent/classify"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/protocol"
)

// attempt is one assigned call attempt. Fields under mu are shared between
// the hub reader and the attempt's own goroutine.
type attempt struct {
	ref       protocol.CallRef
	channelID string
	phone     string
	logger    *slog.Logger
	check     chan struct{} // asks the goroutine to verify the channel still exists
	// stopDial withdraws the originate request if it has not been sent yet.
	stopDial context.CancelFunc
	dialCtx  context.Context

	mu        sync.Mutex
	dialed    bool // the originate request was sent, or its answer came back
	cancelled bool
	stopped   bool // Abort withdrew the attempt before its originate request was sent
	progress  string
}

func (at *attempt) progressValue() string {
	at.mu.Lock()
	defer at.mu.Unlock()
	return at.progress
}

// stopBeforeDial withdraws the attempt when its originate request has not
// been sent yet.
func (at *attempt) stopBeforeDial() {
	at.mu.Lock()
	defer at.mu.Unlock()
	if at.dialed {
		return
	}
	at.stopped = true
	at.stopDial()
}

func (at *attempt) isStopped() bool {
	at.mu.Lock()
	defer at.mu.Unlock()
	return at.stopped
}

func (a *Agent) handleAssign(ctx context.Context, s *session, m protocol.Assign) {
	logger := a.logger.With("call_id", m.CallID, "attempt", m.Attempt, "channel_id", m.ChannelID, "phone", phone.Mask(m.Phone))
	refuse := func(code, msg string) {
		logger.Warn("refusing an assignment", "code", code, "reason", msg)
		_ = s.sendMsg(protocol.TypeAssignRefused, protocol.AssignRefused{CallRef: m.CallRef, Code: code, Message: msg})
	}
	if m.ChannelID == "" {
		m.ChannelID = protocol.ChannelID(m.CallID, m.Attempt)
	}
	if !e164Pattern.MatchString(m.Phone) {
		refuse(protocol.CodeInvalidRequest, "the phone number is not in E.164 form")
		return
	}

	a.mu.Lock()
	if _, known := a.attempts[m.ChannelID]; known {
		a.mu.Unlock()
		logger.Info("repeated assignment of an attempt in progress; not dialing again")
		_ = s.sendMsg(protocol.TypeAssignAccepted, protocol.AssignAccepted{CallRef: m.CallRef})
		return
	}
	if a.draining {
		a.mu.Unlock()
		refuse(protocol.CodeShuttingDown, "the agent is shutting down; assign the call to another agent")
		return
	}
	if len(a.attempts) >= a.cfg.MaxCalls {
		a.mu.Unlock()
		refuse(protocol.CodeAtCapacity, fmt.Sprintf("the agent already has %d calls", a.cfg.MaxCalls))
		return
	}
	if h := a.pbx.Health(); !h.WebsocketUp {
		a.mu.Unlock()
		refuse(protocol.CodeARIDown, "the ARI event websocket is down: "+h.Detail)
		return
	}
	dialCtx, stopDial := context.WithCancel(context.WithoutCancel(ctx))
	at := &attempt{
		dialCtx:   dialCtx,
		stopDial:  stopDial,
		ref:       m.CallRef,
		channelID: m.ChannelID,
		phone:     m.Phone,
		logger:    logger,
		check:     make(chan struct{}, 1),
		progress:  protocol.ProgressDialing,
	}
	a.attempts[m.ChannelID] = at
	a.calls.Add(1)
	a.mu.Unlock()

	_ = s.sendMsg(protocol.TypeAssignAccepted, protocol.AssignAccepted{CallRef: m.CallRef})
	logger.Info("assignment accepted")
	go a.runAttempt(context.WithoutCancel(ctx), at)
}

func (a *Agent) handleCancel(m protocol.Cancel) {
	channelID := protocol.ChannelID(m.CallID, m.Attempt)
	a.mu.Lock()
	at := a.attempts[channelID]
	a.mu.Unlock()
	if at == nil {
		a.logger.Info("cancel for an attempt this agent does not have", "call_id", m.CallID, "attempt", m.Attempt)
		return
	}
	at.mu.Lock()
	defer at.mu.Unlock()
	if at.dialed {
		at.logger.Info("cancel arrived after dialing; letting the call run", "reason", m.Reason)
		return
	}
	at.logger.Info("cancel arrived before dialing; withdrawing the attempt unless its originate request is already on its way", "reason", m.Reason)
	at.cancelled = true
	at.stopDial()
}

// runAttempt dials and follows one attempt until it has a disposition, then
// reports it.
func (a *Agent) runAttempt(ctx context.Context, at *attempt) {
	defer a.calls.Done()
	defer func() {
		a.mu.Lock()
		delete(a.attempts, at.channelID)
		a.mu.Unlock()
	}()
	defer at.stopDial()

	if at.isCancelled() {
		a.finishCancelled(at)
		return
	}
	if at.isStopped() {
		a.finishStoppedBeforeDial(at)
		return
	}

	// The originate request runs on dialCtx, so a Cancel that arrives
	// while it waits (for the event filter PUT of a slow Asterisk) keeps
	// the POST from being sent.
	call, err := a.pbx.Originate(at.dialCtx, ari.OriginateRequest{
		ChannelID: at.channelID,
		Endpoint:  a.cfg.DialString(at.phone),
		CallerID:  a.cfg.CallerID,
		Timeout:   a.cfg.RingTimeout,
		AppArgs:   fmt.Sprintf("ringhook,%s,%d", at.ref.CallID, at.ref.Attempt),
	})
	if errors.Is(err, ari.ErrChannelExists) {
		// An earlier delivery already dialed this channel: follow it
		// instead of ringing again.
		at.logger.Info("channel already exists; following it instead of dialing again")
		call, err = a.pbx.Follow(at.channelID)
	}
	if err != nil && at.isCancelled() && errors.Is(err, context.Canceled) {
		a.finishCancelled(at)
		return
	}
	if err != nil && at.isStopped() && errors.Is(err, context.Canceled) {
		a.finishStoppedBeforeDial(at)
		return
	}
	at.mu.Lock()
	at.dialed = true
	at.mu.Unlock()
	if err != nil {
		a.finishOriginateError(at, err)
		return
	}
	defer call.Close()
	if at.isCancelled() {
		at.logger.Info("the cancel came after the originate request was sent; the call runs")
	}
	at.logger.Info("call originated")

	switch a.follow(ctx, at, call) {
	case channelDestroyed:
		a.finishCall(at, call, false)
	case channelLost:
		a.finishCall(at, call, true)
	case channelHungUpOnStop:
		a.finishStopped(at, call)
	case channelLeftOnStop:
		// Nothing is reported: the channel may still ring, so a report that
		// lets the hub retry elsewhere could ring the phone twice.
	}
}

func (at *attempt) isCancelled() bool {
	at.mu.Lock()
	defer at.mu.Unlock()
	return at.cancelled
}

func (a *Agent) finishCancelled(at *attempt) {
	at.logger.Info("attempt withdrawn before dialing")
	a.finish(at, protocol.Finished{Cancelled: true, Disposition: classify.Failed, Error: "cancelled before dialing"}, nil)
}

// followEnd describes how following a channel ended.
type followEnd int

const (
	channelDestroyed    followEnd = iota // ChannelDestroyed arrived
	channelLost                          // the channel is gone, but its end was not seen
	channelHungUpOnStop                  // Abort: the agent hung the channel up, or found it gone
	channelLeftOnStop                    // Abort: hanging up failed and the channel may still exist
)

// follow consumes the call's events until ChannelDestroyed, until the
// channel turns out to be gone without one, or until Abort.
func (a *Agent) follow(ctx context.Context, at *attempt, call *ari.Call) followEnd {
	watchdog := time.NewTimer(a.cfg.RingTimeout + a.cfg.WatchdogMargin)
	defer watchdog.Stop()
	var hangup <-chan time.Time
	answered, ringing := false, false

	for {
		select {
		case <-ctx.Done():
			return channelLost
		case <-a.abort:
			return a.hangUpOnStop(ctx, at, call)
		case ev, ok := <-call.Events():
			if !ok {
				if a.destroyedInTranscript(call) {
					return channelDestroyed
				}
				return channelLost
			}
			switch {
			case ev.Type == "ChannelDestroyed":
				return channelDestroyed
			case !answered && (ev.Type == "StasisStart" || ev.State == "Up" || ev.DialStatus == "ANSWER"):
				answered = true
				a.progress(at, protocol.ProgressAnswered)
				hangup = time.After(a.cfg.HangupDelay)
				watchdog.Reset(a.cfg.HangupDelay + a.cfg.WatchdogMargin)
			case !ringing && !answered && (ev.State == "Ringing" || ev.DialStatus == "RINGING" || ev.DialStatus == "PROGRESS"):
				ringing = true
				a.progress(at, protocol.ProgressRinging)
			}
		case <-hangup:
			hangup = nil
			if err := a.pbx.Hangup(ctx, at.channelID); err != nil {
				at.logger.Warn("hanging up the answered call failed; the watchdog retries", "error", err)
			}
		case <-at.check:
			if gone := a.channelGone(ctx, at, call); gone {
				return a.goneEnd(call)
			}
		case <-watchdog.C:
			if gone := a.channelGone(ctx, at, call); gone {
				return a.goneEnd(call)
			}
			if answered {
				_ = a.pbx.Hangup(ctx, at.channelID)
			}
			watchdog.Reset(a.cfg.WatchdogMargin)
		}
	}
}

func (a *Agent) goneEnd(call *ari.Call) followEnd {
	if a.destroyedInTranscript(call) {
		return channelDestroyed
	}
	return channelLost
}

// hangUpOnStop hangs up a channel that is still in progress when the agent
// stops. Only a channel that is confirmed gone counts as hung up.
func (a *Agent) hangUpOnStop(ctx context.Context, at *attempt, call *ari.Call) followEnd {
	if a.destroyedInTranscript(call) {
		return channelDestroyed
	}
	err := a.pbx.Hangup(ctx, at.channelID)
	if err == nil {
		at.logger.Warn("hung up the call because the agent is stopping")
		return channelHungUpOnStop
	}
	exists, checkErr := a.pbx.ChannelExists(ctx, at.channelID)
	if checkErr == nil && !exists {
		at.logger.Warn("the call ended while the agent was stopping", "hangup_error", err)
		return channelHungUpOnStop
	}
	at.logger.Error("hanging up the call failed while the agent was stopping; it may still ring, so no report is sent and the hub's attempt timeout ends it",
		"error", err, "check_error", checkErr)
	return channelLeftOnStop
}

// channelGone asks Asterisk whether the channel still exists, for when its
// events may have been lost.
func (a *Agent) channelGone(ctx context.Context, at *attempt, call *ari.Call) bool {
	if a.destroyedInTranscript(call) {
		return true
	}
	exists, err := a.pbx.ChannelExists(ctx, at.channelID)
	if err != nil {
		at.logger.Warn("checking the channel failed", "error", err)
		return false
	}
	if !exists {
		at.logger.Warn("the channel is gone but its end was not seen; events were lost")
	}
	return !exists
}

func (a *Agent) destroyedInTranscript(call *ari.Call) bool {
	for _, raw := range call.Transcript() {
		if ev, err := classify.ParseEvent(raw); err == nil && ev.Type == "ChannelDestroyed" {
			return true
		}
	}
	return false
}

func (a *Agent) progress(at *attempt, value string) {
	at.mu.Lock()
	at.progress = value
	at.mu.Unlock()
	at.logger.Info("call progress", "progress", value)
	a.enqueue(protocol.TypeProgress, reportID(at.channelID, value), protocol.Progress{
		ReportID: reportID(at.channelID, value),
		CallRef:  at.ref,
		Progress: value,
		At:       time.Now().UTC(),
	})
}

// rawReport is the Raw field of Finished.
type rawReport struct {
	OriginateStatus int               `json:"originate_status"`
	OriginateBody   json.RawMessage   `json:"originate_body,omitempty"`
	OriginateError  string            `json:"originate_error,omitempty"`
	Events          []json.RawMessage `json:"events"`
	EventsLost      bool              `json:"events_lost,omitempty"`
}

func (a *Agent) finishCall(at *attempt, call *ari.Call, lost bool) {
	raw := call.Transcript()
	in := classify.Input{ChannelID: at.channelID, OriginateStatus: call.Answer.Status, EventsLost: lost}
	for _, r := range raw {
		if ev, err := classify.ParseEvent(r); err == nil {
			in.Events = append(in.Events, ev)
		}
	}
	res := classify.Classify(in)
	a.finish(at, resultToFinished(res), rawReport{
		OriginateStatus: call.Answer.Status,
		OriginateBody:   call.Answer.Body,
		Events:          raw,
		EventsLost:      lost,
	})
}

// finishStopped reports a channel that the agent hung up because it stopped.
// An answered call stays answered, because the person was alerted.
func (a *Agent) finishStopped(at *attempt, call *ari.Call) {
	if at.progressValue() == protocol.ProgressAnswered {
		a.finishCall(at, call, false)
		return
	}
	a.finish(at, protocol.Finished{
		Disposition: classify.Failed,
		Retryable:   true,
		Error:       "the agent stopped before the call ended and hung it up; another agent may place it again",
	}, rawReport{
		OriginateStatus: call.Answer.Status,
		OriginateBody:   call.Answer.Body,
		Events:          call.Transcript(),
	})
}

func (a *Agent) finishStoppedBeforeDial(at *attempt) {
	a.finish(at, protocol.Finished{
		Disposition: classify.Failed,
		Retryable:   true,
		Error:       "the agent stopped before dialing; the call was not placed",
	}, rawReport{Events: []json.RawMessage{}})
}

func (a *Agent) finishOriginateError(at *attempt, err error) {
	rr := rawReport{OriginateError: err.Error(), Events: []json.RawMessage{}}
	var oe *ari.OriginateError
	if errors.As(err, &oe) {
		rr.OriginateStatus = oe.Answer.Status
		rr.OriginateBody = oe.Answer.Body
	}
	res := classify.Classify(classify.Input{ChannelID: at.channelID, OriginateStatus: rr.OriginateStatus, OriginateError: err.Error()})
	if errors.Is(err, ari.ErrWebsocketDown) {
		res.Reason = "the ARI event websocket went down before dialing; the call was not placed"
	}
	a.finish(at, resultToFinished(res), rr)
}

func resultToFinished(r classify.Result) protocol.Finished {
	f := protocol.Finished{
		Disposition: r.Disposition,
		Retryable:   r.Retryable,
		Cause:       r.Cause,
		CauseText:   r.CauseText,
		SIPCode:     r.SIPCode,
	}
	if r.Disposition == classify.Failed {
		f.Error = r.Reason
	}
	return f
}

func (a *Agent) finish(at *attempt, f protocol.Finished, raw any) {
	f.ReportID = reportID(at.channelID, "finished")
	f.CallRef = at.ref
	f.At = time.Now().UTC()
	if raw != nil {
		if data, err := json.Marshal(raw); err == nil {
			f.Raw = data
		}
	}
	at.logger.Info("call finished", "disposition", f.Disposition, "retryable", f.Retryable, "cause", f.Cause, "sip_code", f.SIPCode, "cancelled", f.Cancelled, "detail", f.Error)
	a.enqueue(protocol.TypeFinished, f.ReportID, f)
}

// reconcileOnReconnect checks every call after the ARI websocket came back:
// events sent while it was down are lost for good.
func (a *Agent) reconcileOnReconnect(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.pbx.Reconnected():
			a.mu.Lock()
			for _, at := range a.attempts {
				select {
				case at.check <- struct{}{}:
				default:
				}
			}
			n := len(a.attempts)
			a.mu.Unlock()
			a.logger.Info("ARI reconnected; checking calls in flight", "calls", n)
		}
	}
}
