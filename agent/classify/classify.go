// Package classify turns what ARI reported about one originated channel into
// the attempt's disposition: answered, busy, no-answer, or failed (retryable
// on another PBX or final).
//
// The rules follow recordings of Asterisk 20.20.1 with a chan_sip trunk and
// the cause tables of res_pjsip and chan_sip; see the package's DESIGN.md in
// the agent folder for the reasoning behind each rule.
package classify

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Dispositions, spelled as the hub stores them.
const (
	Answered = "answered"
	NoAnswer = "no-answer"
	Busy     = "busy"
	Failed   = "failed"
)

// Event is the part of one ARI event that classification reads.
type Event struct {
	Type string
	// ChannelID is channel.id, or peer.id for Dial.
	ChannelID  string
	State      string
	DialStatus string
	Cause      int
	CauseText  string
	// TechCause is the SIP response code that PJSIP attaches to hangup
	// events (Asterisk 20.17 and later); 0 when absent.
	TechCause int
	Soft      bool
}

// ParseEvent decodes the fields of a raw ARI event that classification needs.
func ParseEvent(raw []byte) (Event, error) {
	var e struct {
		Type       string          `json:"type"`
		DialStatus string          `json:"dialstatus"`
		Cause      int             `json:"cause"`
		CauseText  string          `json:"cause_txt"`
		TechCause  json.RawMessage `json:"tech_cause"`
		Soft       bool            `json:"soft"`
		Channel    *struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"channel"`
		Peer *struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"peer"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, fmt.Errorf("decode ARI event: %w", err)
	}
	ev := Event{
		Type:       e.Type,
		DialStatus: e.DialStatus,
		Cause:      e.Cause,
		CauseText:  e.CauseText,
		TechCause:  parseTechCause(e.TechCause),
		Soft:       e.Soft,
	}
	switch {
	case e.Type == "Dial" && e.Peer != nil:
		ev.ChannelID, ev.State = e.Peer.ID, e.Peer.State
	case e.Channel != nil:
		ev.ChannelID, ev.State = e.Channel.ID, e.Channel.State
	}
	return ev, nil
}

// parseTechCause accepts the SIP code as a number or a numeric string.
func parseTechCause(raw json.RawMessage) int {
	if len(raw) == 0 {
		return 0
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		n, _ = strconv.Atoi(s)
	}
	return n
}

// Input is everything known about one attempt.
type Input struct {
	// ChannelID is the attempt's channel; events for other channels are
	// ignored.
	ChannelID string
	// OriginateStatus is the HTTP status of POST /ari/channels, 0 when the
	// request failed before a response arrived.
	OriginateStatus int
	// OriginateError describes a failed originate request.
	OriginateError string
	// Events are the channel's events in arrival order.
	Events []Event
	// EventsLost is set when the channel vanished without a ChannelDestroyed
	// reaching the agent (the watchdog found it gone, or the ARI websocket
	// dropped while it was alive).
	EventsLost bool
}

// Result is the outcome of an attempt.
type Result struct {
	Disposition string
	// Retryable is true when another PBX or trunk may succeed.
	Retryable bool
	// Cause is the Q.850 cause from ChannelDestroyed (0 when unknown).
	Cause     int
	CauseText string
	// SIPCode is the SIP response code when ARI reported one.
	SIPCode int
	// Reason states in a few words why this disposition was chosen.
	Reason string
}

// evidence collects what the channel showed before it ended.
type evidence struct {
	ringing   bool // ChannelStateChange Ringing, or Dial RINGING/PROGRESS
	answered  bool // StasisStart, ChannelStateChange Up, or Dial ANSWER
	lastDial  string
	destroyed *Event
	techCause int
}

func collect(in Input) evidence {
	var ev evidence
	for i := range in.Events {
		e := in.Events[i]
		if in.ChannelID != "" && e.ChannelID != in.ChannelID {
			continue
		}
		if e.TechCause != 0 {
			ev.techCause = e.TechCause
		}
		switch e.Type {
		case "ChannelStateChange":
			switch e.State {
			case "Ringing":
				ev.ringing = true
			case "Up":
				ev.answered = true
			}
		case "Dial":
			if e.DialStatus != "" {
				ev.lastDial = e.DialStatus
			}
			switch e.DialStatus {
			case "RINGING", "PROGRESS":
				ev.ringing = true
			case "ANSWER":
				ev.answered = true
			}
		case "StasisStart":
			ev.answered = true
		case "ChannelDestroyed":
			ev.destroyed = &in.Events[i]
		}
	}
	return ev
}

// Classify decides the disposition of one attempt. The first matching rule
// wins, in this order: originate failure, answer, lost events, busy,
// declined, no answer with ringing evidence, number problems, and the rest
// as trunk failures.
func Classify(in Input) Result {
	if in.OriginateStatus < 200 || in.OriginateStatus > 299 {
		return originateFailure(in)
	}

	ev := collect(in)
	r := Result{SIPCode: ev.techCause}
	if ev.destroyed != nil {
		r.Cause = ev.destroyed.Cause
		r.CauseText = ev.destroyed.CauseText
	}
	if r.CauseText == "" {
		r.CauseText = CauseText(r.Cause)
	}

	if ev.answered {
		r.Disposition, r.Reason = Answered, "the callee answered"
		return r
	}
	if ev.destroyed == nil {
		r.Disposition, r.Retryable = Failed, true
		r.Reason = "the channel ended without a ChannelDestroyed event reaching the agent (events lost)"
		if !in.EventsLost {
			r.Reason = "no ChannelDestroyed event for the channel"
		}
		return r
	}
	return classifyCause(r, ev)
}

func classifyCause(r Result, ev evidence) Result {
	cause := r.Cause
	fail := func(retryable bool, reason string) Result {
		r.Disposition, r.Retryable, r.Reason = Failed, retryable, reason
		return r
	}

	switch {
	case cause == 17:
		r.Disposition, r.Reason = Busy, "the callee is busy"
		return r
	case cause == 21 && (ev.techCause == 401 || ev.techCause == 403 || ev.techCause == 407):
		return fail(true, fmt.Sprintf("the trunk rejected the call with SIP %d: check its credentials or permissions", ev.techCause))
	case cause == 21 && (ev.techCause == 603 || ev.lastDial == "BUSY"):
		r.Disposition, r.Reason = Busy, "the callee declined the call"
		return r
	case cause == 0 && ev.lastDial == "BUSY":
		// A Local channel's Busy() signals BUSY without setting a cause.
		r.Disposition, r.Reason = Busy, "the callee is busy"
		return r
	case (cause == 18 || cause == 19 || cause == 20) && ev.ringing:
		r.Disposition, r.Reason = NoAnswer, "the phone rang and nobody answered"
		return r
	case cause == 0 && ev.ringing && ev.lastDial != "CONGESTION" && ev.lastDial != "CHANUNAVAIL":
		r.Disposition, r.Reason = NoAnswer, "the phone rang and nobody answered (no cause reported)"
		return r
	case (cause == 18 || cause == 19 || cause == 20 || cause == 0) && !ev.ringing:
		// No ringing evidence: a dead trunk, a lost INVITE, or a far end
		// that answered 480 at once. chan_sip reports that 480 as Dial BUSY,
		// which is why BUSY alone does not make a busy callee here.
		return fail(true, "the call never rang: the trunk or the far end did not reach the phone")
	case cause == 1 || cause == 22 || cause == 28:
		return fail(false, "the number is not valid on this trunk")
	case cause == 16 || cause == 26:
		return fail(true, "the call was cleared before it was answered")
	default:
		return fail(true, fmt.Sprintf("the trunk or the network failed the call (cause %d)", cause))
	}
}

func originateFailure(in Input) Result {
	r := Result{Disposition: Failed, Retryable: true}
	switch {
	case in.OriginateStatus == 0:
		r.Reason = "the originate request failed: " + in.OriginateError
	case in.OriginateStatus == 401 || in.OriginateStatus == 403:
		r.Reason = fmt.Sprintf("the PBX rejected the ARI credentials (HTTP %d): check the ARI user and password", in.OriginateStatus)
	case in.OriginateStatus == 400:
		r.Reason = "the PBX rejected the originate request as invalid (HTTP 400): check the dial string template"
	case in.OriginateStatus == 500:
		r.Reason = "the PBX could not allocate a channel (HTTP 500): check that the trunk exists and is registered"
	default:
		r.Reason = fmt.Sprintf("the originate request failed with HTTP %d", in.OriginateStatus)
	}
	if in.OriginateError != "" && in.OriginateStatus != 0 {
		r.Reason += ": " + in.OriginateError
	}
	return r
}
