package raftfsm

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

// CommandType is the first byte of every Raft log entry. Numbers are
// append-only: a number is never reused or given another meaning, because
// old entries stay in logs and snapshots of running clusters.
type CommandType uint8

// Command types. Add new ones at the end; see DESIGN.md for rolling upgrades.
const (
	CmdPutOrganization    CommandType = 1
	CmdDeleteOrganization CommandType = 2
	CmdPutMember          CommandType = 3
	CmdDeleteMember       CommandType = 4
	CmdPutProject         CommandType = 5
	CmdDeleteProject      CommandType = 6
	CmdPutSchedule        CommandType = 7
	CmdDeleteSchedule     CommandType = 8
	CmdPutScenario        CommandType = 9
	CmdDeleteScenario     CommandType = 10
	CmdPutEndpoint        CommandType = 11
	CmdDeleteEndpoint     CommandType = 12
	CmdPutAgent           CommandType = 13
	CmdDeleteAgent        CommandType = 14
	CmdPutAdminToken      CommandType = 15
	CmdDeleteAdminToken   CommandType = 16
	CmdIntake             CommandType = 17
	CmdAssignAttempt      CommandType = 18
	CmdAttemptProgress    CommandType = 19
	CmdAttemptFinished    CommandType = 20
	CmdFailCall           CommandType = 21
	CmdCancelCalls        CommandType = 22
	CmdPrune              CommandType = 23
)

// Meta is stamped into every command by the node that proposes it, so that
// Apply never reads the wall clock or a random source.
type Meta struct {
	// ProposalID identifies the proposal. A command whose ProposalID was
	// already applied is skipped, and Apply returns the first result.
	ProposalID string `json:"proposal_id"`
	// Time is the proposing node's clock. Apply uses the later of this and
	// the last time it applied, so time never goes backwards.
	Time   time.Time `json:"time"`
	NodeID string    `json:"node_id"`
}

// Command is implemented by every command payload.
type Command interface {
	Type() CommandType
	// CommandMeta returns the embedded Meta, for stamping.
	CommandMeta() *Meta
}

// CommandMeta returns the command's Meta.
func (m *Meta) CommandMeta() *Meta { return m }

// PutOrganization creates (Create set) or replaces an organization.
type PutOrganization struct {
	Meta
	Create       bool               `json:"create"`
	Organization model.Organization `json:"organization"`
}

// PutMember creates (Create set) or replaces a member.
type PutMember struct {
	Meta
	Create bool         `json:"create"`
	Member model.Member `json:"member"`
}

// PutProject creates (Create set) or replaces a project.
type PutProject struct {
	Meta
	Create  bool          `json:"create"`
	Project model.Project `json:"project"`
}

// PutSchedule creates (Create set) or replaces a schedule.
type PutSchedule struct {
	Meta
	Create   bool           `json:"create"`
	Schedule model.Schedule `json:"schedule"`
}

// PutScenario creates (Create set) or replaces a scenario.
type PutScenario struct {
	Meta
	Create   bool           `json:"create"`
	Scenario model.Scenario `json:"scenario"`
}

// PutEndpoint creates (Create set) or replaces an endpoint.
type PutEndpoint struct {
	Meta
	Create   bool           `json:"create"`
	Endpoint model.Endpoint `json:"endpoint"`
}

// PutAgent creates (Create set) or replaces an agent.
type PutAgent struct {
	Meta
	Create bool        `json:"create"`
	Agent  model.Agent `json:"agent"`
}

// PutAdminToken creates an admin token.
type PutAdminToken struct {
	Meta
	Token model.AdminToken `json:"token"`
}

// Delete removes one object of the kind its command type names.
type Delete struct {
	Meta
	Kind CommandType `json:"kind"`
	ID   string      `json:"id"`
}

// Intake carries one parsed webhook. Apply routes it, applies the brakes
// and stores the request and one queued call per phone in one step.
type Intake struct {
	Meta
	// RequestID is the id the receiving node gave the webhook. Call ids are
	// derived from it: RequestID + "-" + n, n counting from 1.
	RequestID     string      `json:"request_id"`
	EndpointID    string      `json:"endpoint_id"`
	Method        string      `json:"method"`
	ContentType   string      `json:"content_type,omitempty"`
	Query         string      `json:"query,omitempty"`
	Body          string      `json:"body,omitempty"`
	BodyTruncated bool        `json:"body_truncated,omitempty"`
	BodySize      int         `json:"body_size"`
	Alert         model.Alert `json:"alert"`
}

// AssignAttempt records that the leader is about to send attempt Attempt
// of a queued call to an agent. Attempt must be one more than the number of
// attempts the call has.
type AssignAttempt struct {
	Meta
	CallID  string `json:"call_id"`
	Attempt int    `json:"attempt"`
	AgentID string `json:"agent_id"`
	Trunk   string `json:"trunk"`
}

// AttemptProgress records that an attempt is ringing or was answered.
type AttemptProgress struct {
	Meta
	CallID   string    `json:"call_id"`
	Attempt  int       `json:"attempt"`
	Progress string    `json:"progress"`
	At       time.Time `json:"at"`
}

// AttemptFinished records an attempt's outcome. A final outcome finishes the
// call; a retryable failure puts it back in the queue while attempts remain.
// An answered attempt starts the endpoint's suppression.
type AttemptFinished struct {
	Meta
	CallID      string          `json:"call_id"`
	Attempt     int             `json:"attempt"`
	Disposition string          `json:"disposition"`
	Retryable   bool            `json:"retryable"`
	Cancelled   bool            `json:"cancelled,omitempty"`
	Cause       int             `json:"cause,omitempty"`
	CauseText   string          `json:"cause_text,omitempty"`
	SIPCode     int             `json:"sip_code,omitempty"`
	Error       string          `json:"error,omitempty"`
	At          time.Time       `json:"at"`
	Raw         json.RawMessage `json:"raw,omitempty"`
}

// FailCall finishes a call as failed without a further attempt, for
// example when no healthy agent appeared within the wait limit.
type FailCall struct {
	Meta
	CallID string `json:"call_id"`
	Reason string `json:"reason"`
}

// CancelCalls withdraws queued calls.
type CancelCalls struct {
	Meta
	CallIDs []string `json:"call_ids"`
	Reason  string   `json:"reason"`
}

// Prune deletes requests, and finished or cancelled calls, received before
// Before, and forgets proposal ids older than it.
type Prune struct {
	Meta
	Before time.Time `json:"before"`
}

func (*PutOrganization) Type() CommandType { return CmdPutOrganization }
func (*PutMember) Type() CommandType       { return CmdPutMember }
func (*PutProject) Type() CommandType      { return CmdPutProject }
func (*PutSchedule) Type() CommandType     { return CmdPutSchedule }
func (*PutScenario) Type() CommandType     { return CmdPutScenario }
func (*PutEndpoint) Type() CommandType     { return CmdPutEndpoint }
func (*PutAgent) Type() CommandType        { return CmdPutAgent }
func (*PutAdminToken) Type() CommandType   { return CmdPutAdminToken }
func (d *Delete) Type() CommandType        { return d.Kind }
func (*Intake) Type() CommandType          { return CmdIntake }
func (*AssignAttempt) Type() CommandType   { return CmdAssignAttempt }
func (*AttemptProgress) Type() CommandType { return CmdAttemptProgress }
func (*AttemptFinished) Type() CommandType { return CmdAttemptFinished }
func (*FailCall) Type() CommandType        { return CmdFailCall }
func (*CancelCalls) Type() CommandType     { return CmdCancelCalls }
func (*Prune) Type() CommandType           { return CmdPrune }

// Encode returns the log entry for a command: its type byte, then JSON.
func Encode(cmd Command) ([]byte, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command %d: %w", cmd.Type(), err)
	}
	return append([]byte{byte(cmd.Type())}, body...), nil
}

// Decode reads a log entry written by Encode. An unknown type number is an
// error: the node must stop rather than skip it.
func Decode(entry []byte) (Command, error) {
	if len(entry) == 0 {
		return nil, fmt.Errorf("decode command: empty log entry")
	}
	t := CommandType(entry[0])
	cmd := newCommand(t)
	if cmd == nil {
		return nil, fmt.Errorf("decode command: unknown command type %d; upgrade this node to a version that knows it", t)
	}
	if err := json.Unmarshal(entry[1:], cmd); err != nil {
		return nil, fmt.Errorf("decode command type %d: %w", t, err)
	}
	if d, ok := cmd.(*Delete); ok && d.Kind != t {
		return nil, fmt.Errorf("decode command type %d: delete kind %d does not match", t, d.Kind)
	}
	return cmd, nil
}

func newCommand(t CommandType) Command {
	switch t {
	case CmdPutOrganization:
		return &PutOrganization{}
	case CmdPutMember:
		return &PutMember{}
	case CmdPutProject:
		return &PutProject{}
	case CmdPutSchedule:
		return &PutSchedule{}
	case CmdPutScenario:
		return &PutScenario{}
	case CmdPutEndpoint:
		return &PutEndpoint{}
	case CmdPutAgent:
		return &PutAgent{}
	case CmdPutAdminToken:
		return &PutAdminToken{}
	case CmdDeleteOrganization, CmdDeleteMember, CmdDeleteProject, CmdDeleteSchedule,
		CmdDeleteScenario, CmdDeleteEndpoint, CmdDeleteAgent, CmdDeleteAdminToken:
		return &Delete{Kind: t}
	case CmdIntake:
		return &Intake{}
	case CmdAssignAttempt:
		return &AssignAttempt{}
	case CmdAttemptProgress:
		return &AttemptProgress{}
	case CmdAttemptFinished:
		return &AttemptFinished{}
	case CmdFailCall:
		return &FailCall{}
	case CmdCancelCalls:
		return &CancelCalls{}
	case CmdPrune:
		return &Prune{}
	}
	return nil
}

// Error codes in Response.Err. They are deterministic outcomes of Apply
// (the same on every node), not faults of the node.
const (
	CodeNotFound = "not_found"
	CodeConflict = "conflict"
	CodeInvalid  = "invalid"
)

// ApplyError is a command that Apply rejected.
type ApplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ApplyError) Error() string { return e.Code + ": " + e.Message }

// Response is what Apply returns for every command; the cluster layer
// forwards it as JSON from the leader to the node that proposed.
type Response struct {
	Err *ApplyError `json:"error,omitempty"`
	// Duplicate is set when the proposal id was applied before; the other
	// fields then repeat the first result where it is still known.
	Duplicate bool `json:"duplicate,omitempty"`
	// Object is the stored object of a Put command.
	Object  json.RawMessage `json:"object,omitempty"`
	Request *model.Request  `json:"request,omitempty"`
	Calls   []model.Call    `json:"calls,omitempty"`
	Call    *model.Call     `json:"call,omitempty"`
}
