// Package model holds the domain types that the hub stores in Raft, serves
// through the admin API and reads in the routing engine: organizations,
// members, projects, schedules, scenarios, endpoints, agents, admin tokens,
// incoming requests and calls with their attempts.
//
// Every type round-trips through encoding/json; the JSON field names are the
// admin API's field names. Times are UTC.
package model

import (
	"encoding/json"
	"time"
)

// Duration is a time.Duration that reads and writes JSON and YAML as a Go
// duration string ("90s", "2m"). It also reads a bare number as seconds.
type Duration time.Duration

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Brakes holds an organization's call limits. A zero field takes the default.
type Brakes struct {
	// DailyCallCap is the maximum number of calls queued per UTC day.
	DailyCallCap int `json:"daily_call_cap,omitempty"`
	// PhoneCooldown is the minimum time between two calls to one phone.
	PhoneCooldown Duration `json:"phone_cooldown,omitempty"`
	// EndpointSuppression is how long an endpoint places no call after one
	// of its calls was answered.
	EndpointSuppression Duration `json:"endpoint_suppression,omitempty"`
}

// Defaults for Brakes fields left at zero.
const (
	DefaultDailyCallCap        = 100
	DefaultPhoneCooldown       = 60 * time.Second
	DefaultEndpointSuppression = 120 * time.Second
)

// Effective returns the brakes with every zero field set to its default.
func (b Brakes) Effective() Brakes {
	if b.DailyCallCap == 0 {
		b.DailyCallCap = DefaultDailyCallCap
	}
	if b.PhoneCooldown == 0 {
		b.PhoneCooldown = Duration(DefaultPhoneCooldown)
	}
	if b.EndpointSuppression == 0 {
		b.EndpointSuppression = Duration(DefaultEndpointSuppression)
	}
	return b
}

// Organization is a tenant: its members are called for its endpoints.
type Organization struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	PrimaryMemberID string    `json:"primary_member_id,omitempty"`
	Brakes          Brakes    `json:"brakes"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Consent records who confirmed, and when, that a member agreed to be
// called. A member without consent is never called.
type Consent struct {
	ConfirmedBy string    `json:"confirmed_by"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	Note        string    `json:"note,omitempty"`
}

// Member is a person who can be called.
type Member struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	// Phone is in E.164 form, for example "+4915112345678".
	Phone      string    `json:"phone"`
	ProjectIDs []string  `json:"project_ids,omitempty"`
	Consent    *Consent  `json:"consent,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Project groups members, for the call_project action.
type Project struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Shift length units of a Rotation.
const (
	ShiftHours = "hours"
	ShiftDays  = "days"
	ShiftWeeks = "weeks"
)

// Rotation hands the shift to the next member of MemberIDs every
// ShiftLength ShiftUnit, counted in the schedule's time zone from Start.
type Rotation struct {
	Name        string    `json:"name,omitempty"`
	Start       time.Time `json:"start"`
	ShiftLength int       `json:"shift_length"`
	ShiftUnit   string    `json:"shift_unit"`
	MemberIDs   []string  `json:"member_ids"`
}

// Override puts MemberID on call from Start (inclusive) to End (exclusive).
type Override struct {
	MemberID string    `json:"member_id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// Schedule defines who is on call at a given time.
type Schedule struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	// TimeZone is an IANA zone name such as "Europe/Berlin".
	TimeZone  string     `json:"time_zone"`
	Rotations []Rotation `json:"rotations"`
	Overrides []Override `json:"overrides,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Action types.
const (
	ActionCallPrimary    = "call_primary"
	ActionCallOnSchedule = "call_on_schedule"
	ActionCallAll        = "call_all"
	ActionCallProject    = "call_project"
	ActionCallMember     = "call_member"
	ActionNone           = "none"
)

// Action names whom to call. Only the ID field that its Type needs is set.
type Action struct {
	Type       string `json:"type"`
	ScheduleID string `json:"schedule_id,omitempty"`
	ProjectID  string `json:"project_id,omitempty"`
	MemberID   string `json:"member_id,omitempty"`
}

// Condition tests one field of an alert. Value is a string, a number, a
// bool or a list of those, as the operator requires.
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value,omitempty"`
}

// Rule is one entry of a scenario: the first rule whose conditions all
// match decides the action.
type Rule struct {
	Name       string      `json:"name,omitempty"`
	Conditions []Condition `json:"conditions"`
	Action     Action      `json:"action"`
}

// How a scenario treats resolved notifications.
const (
	// ResolvedCancel places no call and cancels the endpoint's queued calls.
	ResolvedCancel = "cancel"
	// ResolvedRoute routes a resolved notification like any alert.
	ResolvedRoute = "route"
)

// Scenario is an ordered list of rules and a default action.
type Scenario struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
	// Default applies when no rule matches; an empty Type means call_primary.
	Default Action `json:"default"`
	// OnResolved is ResolvedCancel (the default when empty) or ResolvedRoute.
	OnResolved string    `json:"on_resolved,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Endpoint is a webhook URL. Its ID is a random UUID and is a credential.
type Endpoint struct {
	ID         string `json:"id"`
	OrgID      string `json:"org_id"`
	Name       string `json:"name"`
	ScenarioID string `json:"scenario_id"`
	// AlertKeyHash is the hex SHA-256 of the X-Alert-Key header value the
	// endpoint requires, or empty when it requires none. Never served.
	AlertKeyHash string    `json:"alert_key_hash,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Agent is an edge process beside one PBX.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Trunk labels the SIP trunk the agent dials out on; a retry goes to an
	// agent whose trunk has not been tried for that call.
	Trunk string `json:"trunk"`
	// TokenHash is the hex SHA-256 of the token's secret part. Never served.
	TokenHash string    `json:"token_hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AdminToken authorizes the admin API.
type AdminToken struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the token's secret part. Never served.
	Hash      string    `json:"hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Alert states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Severities. An absent severity is the empty string.
const (
	SeverityCritical = "critical"
	SeverityMajor    = "major"
	SeverityMinor    = "minor"
	SeverityInfo     = "info"
)

// Request outcomes: what the hub did with one webhook.
const (
	OutcomeQueued     = "queued"      // at least one call was queued
	OutcomeNoCall     = "no_call"     // routed, but every phone was held back (see the phone reasons)
	OutcomeSuppressed = "suppressed"  // the endpoint is suppressed after an answered call
	OutcomeResolved   = "resolved"    // a resolved notification: queued calls cancelled, none placed
	OutcomeActionNone = "action_none" // the matched action is none
	OutcomeNoPhones   = "no_phones"   // the action resolved to nobody
)

// Per-phone reasons in PhoneDecision.Reason.
const (
	ReasonQueued        = "queued"
	ReasonDailyCap      = "daily_cap"
	ReasonCooldown      = "cooldown"
	ReasonSuppressed    = "suppressed"
	ReasonBlockedNumber = "blocked_number"
	ReasonNoConsent     = "no_consent"
)

// PhoneDecision records, for one phone of a request, whether a call was
// queued and why not.
type PhoneDecision struct {
	Phone    string `json:"phone"`
	MemberID string `json:"member_id,omitempty"`
	Queued   bool   `json:"queued"`
	CallID   string `json:"call_id,omitempty"`
	Reason   string `json:"reason"`
	// Detail explains Reason for people, for example the blocked number's type.
	Detail string `json:"detail,omitempty"`
}

// MaxStoredBody is how many bytes of a request body the hub keeps.
const MaxStoredBody = 64 << 10

// Request is one webhook as the hub received and routed it.
type Request struct {
	ID         string    `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	OrgID      string    `json:"org_id"`
	ReceivedAt time.Time `json:"received_at"`
	// NodeID is the hub node that received the request.
	NodeID      string `json:"node_id"`
	Method      string `json:"method"`
	ContentType string `json:"content_type,omitempty"`
	Query       string `json:"query,omitempty"`
	// Body is the redacted body, cut to MaxStoredBody bytes.
	Body          string `json:"body,omitempty"`
	BodyTruncated bool   `json:"body_truncated,omitempty"`
	BodySize      int    `json:"body_size"`

	Tool           string `json:"tool,omitempty"`
	State          string `json:"state"`
	Severity       string `json:"severity,omitempty"`
	SeveritySource string `json:"severity_source,omitempty"`
	SeverityRaw    string `json:"severity_raw,omitempty"`
	Message        string `json:"message,omitempty"`

	Outcome string `json:"outcome"`
	// RuleIndex is the matched rule's position, or -1 for the default action.
	RuleIndex int             `json:"rule_index"`
	RuleName  string          `json:"rule_name,omitempty"`
	Action    Action          `json:"action"`
	Phones    []PhoneDecision `json:"phones"`
	// CancelledCallIDs lists the queued calls a resolved notification cancelled.
	CancelledCallIDs []string `json:"cancelled_call_ids,omitempty"`
}

// Call statuses.
const (
	CallQueued    = "queued"    // waiting for an agent
	CallAssigned  = "assigned"  // an attempt is with an agent
	CallFinished  = "finished"  // has a final disposition
	CallCancelled = "cancelled" // withdrawn before it was dialed
)

// Dispositions of a call and of an attempt.
const (
	DispositionAnswered = "answered"
	DispositionNoAnswer = "no-answer"
	DispositionBusy     = "busy"
	DispositionFailed   = "failed"
)

// MaxAttempts is how many times one call is tried: the first attempt plus
// three retries, each on an agent whose trunk has not been tried.
const MaxAttempts = 4

// Call is one phone to ring for one request.
type Call struct {
	ID         string `json:"id"`
	RequestID  string `json:"request_id"`
	EndpointID string `json:"endpoint_id"`
	OrgID      string `json:"org_id"`
	Phone      string `json:"phone"`
	MemberID   string `json:"member_id,omitempty"`
	Status     string `json:"status"`
	// Disposition is set once Status is finished or cancelled.
	Disposition string    `json:"disposition,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	QueuedAt    time.Time `json:"queued_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Attempts    []Attempt `json:"attempts,omitempty"`
}

// Attempt is one try of a call on one agent.
type Attempt struct {
	// Number counts from 1.
	Number     int       `json:"number"`
	AgentID    string    `json:"agent_id"`
	Trunk      string    `json:"trunk,omitempty"`
	AssignedAt time.Time `json:"assigned_at"`
	// Progress is "", "dialing", "ringing" or "answered".
	Progress    string    `json:"progress,omitempty"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Disposition string    `json:"disposition,omitempty"`
	// Retryable is true when the attempt failed at the PBX or trunk and
	// another agent may succeed.
	Retryable bool `json:"retryable,omitempty"`
	// Cause is the Q.850 hangup cause, CauseText its text.
	Cause     int    `json:"cause,omitempty"`
	CauseText string `json:"cause_text,omitempty"`
	SIPCode   int    `json:"sip_code,omitempty"`
	Error     string `json:"error,omitempty"`
	// Raw contains the ARI originate response and events, as the agent reported them.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Alert formats: how the body of a webhook was read.
const (
	FormatJSON      = "json"
	FormatJSONArray = "json_array"
	FormatForm      = "form"
	FormatMultipart = "multipart"
	FormatText      = "text"
	FormatEmpty     = "empty"
)

// Alert is a webhook as the intake engine read it. The hub node that
// receives a webhook parses it into an Alert, and the state machine routes
// the Alert on every node, so it must round-trip through encoding/json.
type Alert struct {
	// Format is one of the Format* constants.
	Format string `json:"format"`
	// Tool names the sending tool when it was recognized ("alertmanager").
	Tool string `json:"tool,omitempty"`
	// Fields are the query-string parameters and body fields, merged, with
	// body fields winning on a clash. Values are what encoding/json yields
	// with UseNumber: string, json.Number, bool, nil, []any, map[string]any.
	Fields map[string]any `json:"fields"`
	// AlertCount is the number of alerts a JSON array or an alerts list
	// carried; 1 for a single alert.
	AlertCount int `json:"alert_count"`

	State       string `json:"state"`
	StateSource string `json:"state_source,omitempty"`
	// Severity is one of the Severity* constants, or empty when the payload
	// states no level.
	Severity       string `json:"severity,omitempty"`
	SeveritySource string `json:"severity_source,omitempty"`
	SeverityRaw    string `json:"severity_raw,omitempty"`
	Message        string `json:"message,omitempty"`
}
