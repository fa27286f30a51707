package routing

import (
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

// Directory is a read-only view of one organization's configuration.
type Directory interface {
	Organization(id string) (model.Organization, bool)
	Member(id string) (model.Member, bool)
	// MembersOfOrg returns the organization's members ordered by ID.
	MembersOfOrg(orgID string) []model.Member
	// MembersOfProject returns the project's members ordered by ID.
	MembersOfProject(projectID string) []model.Member
	Schedule(id string) (model.Schedule, bool)
}

// Counters is a read-only view of the state behind the brakes.
type Counters interface {
	// CallsOnDay returns how many calls the organization queued on the UTC
	// day, given as "2006-01-02".
	CallsOnDay(orgID, day string) int
	// LastCallAt returns when a call to the phone was last queued.
	LastCallAt(phone string) (time.Time, bool)
	// SuppressedUntil returns the end of the endpoint's suppression.
	SuppressedUntil(endpointID string) (time.Time, bool)
}

// Input is one webhook to decide on.
type Input struct {
	Endpoint model.Endpoint
	Scenario model.Scenario
	Alert    model.Alert
	// Now is the time stamped into the command; Decide never reads the clock.
	Now time.Time
}

// Decision is what to do with a webhook.
type Decision struct {
	// RuleIndex is the matched rule's position, or -1 for the default action.
	RuleIndex int
	RuleName  string
	Action    model.Action
	// Outcome is one of the model.Outcome* constants.
	Outcome string
	// Phones holds one decision per distinct phone, in the order the action
	// resolved them; CallID is left empty for the caller to fill.
	Phones []model.PhoneDecision
	// CancelQueued is set for a resolved notification that cancels the
	// endpoint's queued calls.
	CancelQueued bool
}
