// Package protocol defines the messages that the hub and its agents send
// each other over one websocket per agent.
//
// Every websocket text message is one JSON Envelope. The agent opens the
// session with Hello; the hub responds with Welcome, or with NotLeader and a
// close, or closes with one of the Close* codes. After that the agent sends
// Heartbeat, AssignAccepted, AssignRefused, Progress and Finished, and the
// hub sends Assign, Cancel and Ack.
//
// Progress and Finished are reports: each has a ReportID, the agent keeps it
// until the hub sends Ack with that ID, and resends it after a reconnect, so
// the hub must treat a report it has already applied as a duplicate.
//
// Version history:
//   - 1: first version.
package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version this build speaks.
const Version = 1

// MinVersion is the oldest agent protocol version this hub accepts.
const MinVersion = 1

// Message types.
const (
	TypeHello          = "hello"
	TypeWelcome        = "welcome"
	TypeNotLeader      = "not_leader"
	TypeHeartbeat      = "heartbeat"
	TypeAssign         = "assign"
	TypeAssignAccepted = "assign_accepted"
	TypeAssignRefused  = "assign_refused"
	TypeProgress       = "progress"
	TypeFinished       = "finished"
	TypeAck            = "ack"
	TypeCancel         = "cancel"
	TypeError          = "error"
)

// Websocket close codes the hub uses; the close reason carries the text.
const (
	CloseUnauthorized        = 4001 // the agent token is missing or wrong
	CloseIncompatibleVersion = 4002 // the agent must be upgraded (or the hub)
	CloseNotLeader           = 4003 // reconnect to the leader named in NotLeader
	CloseHeartbeatTimeout    = 4004 // no heartbeat within the timeout
	CloseReplaced            = 4005 // a newer session of the same agent took over
	CloseProtocolError       = 4006 // a message could not be decoded
	CloseShuttingDown        = 4007 // the hub node is stopping
)

// Error codes carried in Error and in AssignRefused.
const (
	CodeBadMessage     = "bad_message"
	CodeUnknownType    = "unknown_type"
	CodeAtCapacity     = "at_capacity"
	CodeARIDown        = "ari_down"
	CodeDuplicate      = "duplicate"
	CodeUnknownCall    = "unknown_call"
	CodeInternal       = "internal"
	CodeNotLeader      = "not_leader"
	CodeUnauthorized   = "unauthorized"
	CodeVersionTooOld  = "version_too_old"
	CodeVersionTooNew  = "version_too_new"
	CodeShuttingDown   = "shutting_down"
	CodeInvalidRequest = "invalid_request"
)

// Envelope is one websocket message.
type Envelope struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Encode wraps a payload in an Envelope of the given type and marshals it.
func Encode(msgType string, payload any) ([]byte, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", msgType, err)
	}
	return json.Marshal(Envelope{Type: msgType, Payload: raw})
}

// Decode reads an Envelope. The caller decodes Payload by Type.
func Decode(data []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Envelope{}, fmt.Errorf("decode message: %w", err)
	}
	if env.Type == "" {
		return Envelope{}, fmt.Errorf("decode message: missing type")
	}
	return env, nil
}

// DecodePayload unmarshals an envelope's payload into v.
func DecodePayload(env Envelope, v any) error {
	if len(env.Payload) == 0 {
		return fmt.Errorf("decode %s: missing payload", env.Type)
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return fmt.Errorf("decode %s: %w", env.Type, err)
	}
	return nil
}

// Health is an agent's view of its PBX.
type Health struct {
	// ARIReachable is true when the last GET /ari/asterisk/ping succeeded.
	ARIReachable bool `json:"ari_reachable"`
	// ARIWebsocketUp is true when the agent's ARI event websocket is connected.
	ARIWebsocketUp bool `json:"ari_websocket_up"`
	ActiveCalls    int  `json:"active_calls"`
	MaxCalls       int  `json:"max_calls"`
	// Detail describes what is wrong when the PBX is not usable.
	Detail string `json:"detail,omitempty"`
	// ShuttingDown is true while the agent stops: it rejects new
	// assignments with CodeShuttingDown and lets its calls end. It then
	// also reports ARIWebsocketUp false, so that a hub that does not read
	// this field picks other agents as well.
	ShuttingDown bool `json:"shutting_down,omitempty"`
}

// CallRef names one attempt of one call.
type CallRef struct {
	CallID  string `json:"call_id"`
	Attempt int    `json:"attempt"`
}

// InFlight is an attempt an agent is still working on when it (re)connects.
type InFlight struct {
	CallRef
	ChannelID string `json:"channel_id"`
	// Progress is "dialing", "ringing" or "answered".
	Progress string `json:"progress"`
}

// Hello opens a session. The token goes in the Authorization header of the
// websocket upgrade request, not here.
type Hello struct {
	ProtocolVersion int    `json:"protocol_version"`
	AgentID         string `json:"agent_id"`
	SoftwareVersion string `json:"software_version,omitempty"`
	// Application is the agent's ARI application name.
	Application string     `json:"application,omitempty"`
	Health      Health     `json:"health"`
	InFlight    []InFlight `json:"in_flight,omitempty"`
}

// Welcome accepts a session.
type Welcome struct {
	ProtocolVersion int    `json:"protocol_version"`
	NodeID          string `json:"node_id"`
	// HeartbeatIntervalMS is how often the agent must send Heartbeat.
	HeartbeatIntervalMS int `json:"heartbeat_interval_ms"`
}

// HeartbeatInterval returns the interval as a time.Duration.
func (w Welcome) HeartbeatInterval() time.Duration {
	return time.Duration(w.HeartbeatIntervalMS) * time.Millisecond
}

// NotLeader names the hub node that leads the cluster.
type NotLeader struct {
	// LeaderURL is the leader's base HTTP URL, or empty while there is no
	// leader; the agent then retries its configured hubs.
	LeaderURL string `json:"leader_url,omitempty"`
}

// Heartbeat carries the agent's health.
type Heartbeat struct {
	Health Health `json:"health"`
}

// Assign requests that the agent place one attempt of a call.
type Assign struct {
	CallRef
	// Phone is the E.164 number to dial.
	Phone string `json:"phone"`
	// ChannelID is the ARI channel id to originate with. It is derived from
	// the call and attempt, so a repeated Assign rings at most once.
	ChannelID string `json:"channel_id"`
}

// AssignAccepted confirms that the agent took the attempt.
type AssignAccepted struct {
	CallRef
}

// AssignRefused reports that the agent will not place the attempt.
type AssignRefused struct {
	CallRef
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Progress values.
const (
	ProgressDialing  = "dialing"
	ProgressRinging  = "ringing"
	ProgressAnswered = "answered"
)

// Progress reports that an attempt rang or was answered.
type Progress struct {
	ReportID string `json:"report_id"`
	CallRef
	Progress string    `json:"progress"`
	At       time.Time `json:"at"`
}

// Finished reports the outcome of an attempt.
type Finished struct {
	ReportID string `json:"report_id"`
	CallRef
	// Disposition is answered, no-answer, busy or failed.
	Disposition string `json:"disposition"`
	// Retryable is true when the attempt failed at the PBX or trunk and
	// another agent may succeed.
	Retryable bool `json:"retryable"`
	// Cancelled is true when the agent withdrew the attempt on a Cancel
	// before dialing.
	Cancelled bool   `json:"cancelled,omitempty"`
	Cause     int    `json:"cause"`
	CauseText string `json:"cause_text,omitempty"`
	SIPCode   int    `json:"sip_code,omitempty"`
	// Error describes what failed, for failed attempts.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
	// Raw holds the ARI originate status and body and every event of the
	// channel, as received.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Ack confirms that the hub stored a report.
type Ack struct {
	ReportID string `json:"report_id"`
}

// Cancel withdraws an attempt. An agent that has not dialed yet drops it and
// reports Finished with Cancelled set; one that has dialed lets it run.
type Cancel struct {
	CallRef
	Reason string `json:"reason"`
}

// Error reports a problem with a message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ChannelID derives the ARI channel id of an attempt. Asterisk rejects a
// second originate with a live channel's id with 409, so a repeated Assign
// cannot ring twice.
func ChannelID(callID string, attempt int) string {
	return fmt.Sprintf("ringhook-%s-%d", callID, attempt)
}
