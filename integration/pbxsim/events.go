package pbxsim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// timestampLayout is the layout of every ARI timestamp, as in
// "2026-12-04T19:37:01.560+0000".
const timestampLayout = "2006-01-02T15:04:05.000-0700"

// Channel states as ARI names them.
const (
	stateDown    = "Down"
	stateRinging = "Ringing"
	stateUp      = "Up"
)

// Q.850 causes the simulator produces.
const (
	causeUnknown       = 0
	causeUnallocated   = 1
	causeNormal        = 16
	causeBusy          = 17
	causeNoAnswer      = 19
	causeRejected      = 21
	causeCongestion    = 34
	softHangupExplicit = 32 // AST_SOFTHANGUP_EXPLICIT, not a Q.850 cause
)

// causeTexts are the cause_txt strings of Asterisk 20 (ast_cause2str). The
// classifier has its own table, and this one stays separate on purpose: the
// simulator stands in for Asterisk, so its texts must come from Asterisk
// and not from the code it tests.
// NOTE: only 1, 16, 17, 19, 21 and 34 were checked against recordings; the
// others were checked against the causes table of a recent main/channel.c.
var causeTexts = map[int]string{
	0:   "Unknown",
	1:   "Unallocated (unassigned) number",
	3:   "No route to destination",
	16:  "Normal Clearing",
	17:  "User busy",
	18:  "No user responding",
	19:  "User alerting, no answer",
	20:  "Subscriber absent",
	21:  "Call Rejected",
	22:  "Number changed",
	26:  "Answered elsewhere",
	27:  "Destination out of order",
	28:  "Invalid number format",
	31:  "Normal, unspecified",
	34:  "Circuit/channel congestion",
	38:  "Network out of order",
	41:  "Temporary failure",
	42:  "Switching equipment congestion",
	58:  "Bearer capability not available",
	102: "Recover on timer expiry",
	127: "Interworking, unspecified",
}

// CauseText returns Asterisk's cause_txt for a Q.850 cause, or "Unknown".
func CauseText(cause int) string {
	if text, ok := causeTexts[cause]; ok {
		return text
	}
	return "Unknown"
}

// hangupReasons maps the reason parameter of DELETE /ari/channels/{id} to
// the cause Asterisk sets on the channel.
var hangupReasons = map[string]int{
	"normal":             16,
	"busy":               17,
	"congestion":         34,
	"no_answer":          19,
	"timeout":            18,
	"rejected":           21,
	"unallocated":        1,
	"normal_unspecified": 31,
	"number_incomplete":  28,
	"codec_mismatch":     58,
	"interworking":       127,
	"failure":            38,
	"answered_elsewhere": 26,
}

// callerID is the caller and connected fields of a channel snapshot.
type callerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// parseCallerID splits `"Alert" <+15550000000>` into name and number, as
// ast_callerid_parse does for the common forms.
func parseCallerID(s string) callerID {
	s = strings.TrimSpace(s)
	open := strings.LastIndex(s, "<")
	close := strings.LastIndex(s, ">")
	if open >= 0 && close > open {
		name := strings.TrimSpace(s[:open])
		name = strings.Trim(name, `"`)
		return callerID{Name: name, Number: strings.TrimSpace(s[open+1 : close])}
	}
	if s != "" && strings.Trim(s, "+0123456789") == "" {
		return callerID{Number: s}
	}
	return callerID{Name: strings.Trim(s, `"`)}
}

type dialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// channelSnapshot is the ARI Channel object.
type channelSnapshot struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	State        string      `json:"state"`
	ProtocolID   string      `json:"protocol_id"`
	Caller       callerID    `json:"caller"`
	Connected    callerID    `json:"connected"`
	AccountCode  string      `json:"accountcode"`
	Dialplan     dialplanCEP `json:"dialplan"`
	CreationTime string      `json:"creationtime"`
	Language     string      `json:"language"`
}

// event is one ARI event. Fields left empty are omitted, except those each
// event type always carries (see the constructors).
type event map[string]any

func formatTime(t time.Time) string { return t.Format(timestampLayout) }

func newEvent(typ string, now time.Time) event {
	return event{"type": typ, "timestamp": formatTime(now)}
}

func dialEvent(now time.Time, ch channelSnapshot, status, dialstring string) event {
	e := newEvent("Dial", now)
	e["dialstatus"] = status
	e["forward"] = ""
	e["dialstring"] = dialstring
	e["peer"] = ch
	return e
}

func channelEvent(typ string, now time.Time, ch channelSnapshot) event {
	e := newEvent(typ, now)
	e["channel"] = ch
	return e
}

func varsetEvent(now time.Time, ch channelSnapshot, variable, value string) event {
	e := channelEvent("ChannelVarset", now, ch)
	e["variable"] = variable
	e["value"] = value
	return e
}

func hangupRequestEvent(now time.Time, ch channelSnapshot, cause int, soft bool, techCause int) event {
	e := channelEvent("ChannelHangupRequest", now, ch)
	e["cause"] = cause
	if soft {
		e["soft"] = true
	}
	if techCause != 0 {
		e["tech_cause"] = techCause
	}
	return e
}

func destroyedEvent(now time.Time, ch channelSnapshot, cause, techCause int) event {
	e := channelEvent("ChannelDestroyed", now, ch)
	e["cause"] = cause
	e["cause_txt"] = CauseText(cause)
	if techCause != 0 {
		e["tech_cause"] = techCause
	}
	return e
}

func stasisStartEvent(now time.Time, ch channelSnapshot, appArgs string) event {
	e := channelEvent("StasisStart", now, ch)
	args := []string{}
	if appArgs != "" {
		args = strings.Split(appArgs, ",")
	}
	e["args"] = args
	return e
}

// rtpVarsets are the RTP statistics variables chan_sip sets when the media
// session of a channel ends, in the recorded order.
func rtpVarsets(now time.Time, ch channelSnapshot, ssrc uint32) []event {
	s := strconv.FormatUint(uint64(ssrc), 10)
	return []event{
		varsetEvent(now, ch, "RTPAUDIOQOS", "ssrc="+s+";themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"),
		varsetEvent(now, ch, "RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;"),
		varsetEvent(now, ch, "RTPAUDIOQOSLOSS", "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;"),
		varsetEvent(now, ch, "RTPAUDIOQOSRTT", "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     stdevrtt=000.000000;"),
		varsetEvent(now, ch, "RTPAUDIOQOSMES", "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;"),
	}
}

// rtpSummaryVarset is the single RTPAUDIOQOS that chan_sip sets again just
// before the channel is destroyed.
func rtpSummaryVarset(now time.Time, ch channelSnapshot, ssrc uint32) event {
	return rtpVarsets(now, ch, ssrc)[0]
}

// eventType returns the "type" of a raw event, or "" when it has none.
func eventType(raw []byte) string {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return ""
	}
	return head.Type
}
