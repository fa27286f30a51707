package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/oncall"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/hub/routing"
	"github.com/ringhook/ringhook/raftfsm"
)

func identity[T any](v T) T { return v }

func plainView[T any](_ *Server, _ *http.Request, obj T, _ string) any { return obj }

// listByOrg adapts an FSM list method that takes an organization id to a
// resource list, passing it the org_id query parameter.
func listByOrg[T any](list func(*raftfsm.FSM, string) ([]T, error)) func(*raftfsm.FSM, *http.Request) ([]T, error) {
	return func(f *raftfsm.FSM, r *http.Request) ([]T, error) {
		return list(f, r.URL.Query().Get("org_id"))
	}
}

// checkOrgObject checks the fields every object of an organization has: the
// id in the body against the one in the path, org_id and name.
func checkOrgObject(bodyID, id string, create bool, orgID, name string) error {
	if err := checkID(bodyID, id, create); err != nil {
		return err
	}
	if err := requireOrg(orgID); err != nil {
		return err
	}
	return requireName(name)
}

func requireOrg(orgID string) error {
	if strings.TrimSpace(orgID) == "" {
		return missing("org_id", "the id of the organization the object belongs to")
	}
	return nil
}

// MaxNameLength is the maximum length, in characters, of a name: the name
// of an object, of a scenario rule, of a schedule rotation, and an agent's
// trunk label.
const MaxNameLength = 200

// requireName rejects an empty name and one that checkName rejects.
func requireName(name string) error {
	if strings.TrimSpace(name) == "" {
		return missing("name", "")
	}
	return checkName("name", name)
}

// checkName returns a 422 naming field when name is longer than
// MaxNameLength characters or contains a control character (a newline,
// tab or escape would garble logs, tables and the CLI's output).
func checkName(field, name string) error {
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return newError(http.StatusUnprocessableEntity, CodeInvalid,
			"%s is %d characters long, over the limit of %d; use a shorter name", field, n, MaxNameLength)
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		return newError(http.StatusUnprocessableEntity, CodeInvalid,
			"%s contains the control character %U at byte %d; names must be printable text", field, []rune(name[i:])[0], i)
	}
	return nil
}

func organizations() resource[model.Organization, model.Organization] {
	return resource[model.Organization, model.Organization]{
		name: "organization", path: "organizations", deleteKind: raftfsm.CmdDeleteOrganization,
		get: (*raftfsm.FSM).GetOrganization,
		list: func(f *raftfsm.FSM, r *http.Request) ([]model.Organization, error) {
			return f.ListOrganizations()
		},
		build: func(_ *Server, _ *http.Request, in *model.Organization, id string, existing *model.Organization, now time.Time) (model.Organization, string, error) {
			if err := checkID(in.ID, id, existing == nil); err != nil {
				return *in, "", err
			}
			if err := requireName(in.Name); err != nil {
				return *in, "", err
			}
			if in.Brakes.DailyCallCap < 0 || in.Brakes.PhoneCooldown < 0 || in.Brakes.EndpointSuppression < 0 {
				return *in, "", newError(http.StatusUnprocessableEntity, CodeInvalid, "brakes must not be negative; use 0 for the default")
			}
			o := *in
			o.ID = id
			return o, "", nil
		},
		put: func(o model.Organization, create bool) raftfsm.Command {
			return &raftfsm.PutOrganization{Create: create, Organization: o}
		},
		redact: identity[model.Organization],
		view:   plainView[model.Organization],
	}
}

// memberInput is a member as a client sends it.
type memberInput struct {
	model.Member
	// Region is the ISO 3166 region ("DE", "US") for a phone written
	// without the international prefix; empty requires "+" and the
	// country code.
	Region string `json:"region,omitempty"`
}

func members() resource[model.Member, memberInput] {
	return resource[model.Member, memberInput]{
		name: "member", path: "members", deleteKind: raftfsm.CmdDeleteMember,
		get:  (*raftfsm.FSM).GetMember,
		list: listByOrg((*raftfsm.FSM).ListMembers),
		build: func(_ *Server, _ *http.Request, in *memberInput, id string, existing *model.Member, now time.Time) (model.Member, string, error) {
			m := in.Member
			if err := checkOrgObject(m.ID, id, existing == nil, m.OrgID, m.Name); err != nil {
				return m, "", err
			}
			if strings.TrimSpace(m.Phone) == "" {
				return m, "", missing("phone", `a number in E.164 form such as "+4915112345678", or a national number with "region"`)
			}
			e164, err := phone.Normalize(m.Phone, in.Region)
			if err == nil {
				err = phone.Check(e164)
			}
			if err != nil {
				return m, "", phoneError(err)
			}
			m.Phone = e164
			if m.Consent != nil {
				if strings.TrimSpace(m.Consent.ConfirmedBy) == "" {
					return m, "", missing("consent.confirmed_by", "who confirmed that the member agreed to be called")
				}
				if m.Consent.ConfirmedAt.IsZero() {
					c := *m.Consent
					c.ConfirmedAt = now
					m.Consent = &c
				}
			}
			m.ID = id
			return m, "", nil
		},
		put: func(m model.Member, create bool) raftfsm.Command {
			return &raftfsm.PutMember{Create: create, Member: m}
		},
		redact: identity[model.Member],
		view:   plainView[model.Member],
	}
}

// phoneError maps an error of phone.Normalize or phone.Check to a 422.
func phoneError(err error) error {
	var blocked *phone.BlockedError
	if errors.As(err, &blocked) {
		return newError(http.StatusUnprocessableEntity, CodeBlockedNumber,
			"phone %s is blocked (%s) and is never called automatically: %s; give the member a personal landline or mobile number", blocked.Number, blocked.Reason, blocked.Detail)
	}
	return newError(http.StatusUnprocessableEntity, CodeInvalidPhone,
		"phone: %v; write it in E.164 form such as \"+4915112345678\", or send \"region\" for a national number", err)
}

func projects() resource[model.Project, model.Project] {
	return resource[model.Project, model.Project]{
		name: "project", path: "projects", deleteKind: raftfsm.CmdDeleteProject,
		get:  (*raftfsm.FSM).GetProject,
		list: listByOrg((*raftfsm.FSM).ListProjects),
		build: func(_ *Server, _ *http.Request, in *model.Project, id string, existing *model.Project, now time.Time) (model.Project, string, error) {
			p := *in
			if err := checkOrgObject(p.ID, id, existing == nil, p.OrgID, p.Name); err != nil {
				return p, "", err
			}
			p.ID = id
			return p, "", nil
		},
		put: func(p model.Project, create bool) raftfsm.Command {
			return &raftfsm.PutProject{Create: create, Project: p}
		},
		redact: identity[model.Project],
		view:   plainView[model.Project],
	}
}

func schedules() resource[model.Schedule, model.Schedule] {
	return resource[model.Schedule, model.Schedule]{
		name: "schedule", path: "schedules", deleteKind: raftfsm.CmdDeleteSchedule,
		get:  (*raftfsm.FSM).GetSchedule,
		list: listByOrg((*raftfsm.FSM).ListSchedules),
		build: func(_ *Server, _ *http.Request, in *model.Schedule, id string, existing *model.Schedule, now time.Time) (model.Schedule, string, error) {
			sc := *in
			if err := checkOrgObject(sc.ID, id, existing == nil, sc.OrgID, sc.Name); err != nil {
				return sc, "", err
			}
			for i, rot := range sc.Rotations {
				if err := checkName(fmt.Sprintf("rotations[%d].name", i), rot.Name); err != nil {
					return sc, "", err
				}
			}
			if err := oncall.ValidateSchedule(sc); err != nil {
				return sc, "", newError(http.StatusUnprocessableEntity, CodeInvalid, "%v", err)
			}
			sc.ID = id
			return sc, "", nil
		},
		put: func(sc model.Schedule, create bool) raftfsm.Command {
			return &raftfsm.PutSchedule{Create: create, Schedule: sc}
		},
		redact: identity[model.Schedule],
		view:   plainView[model.Schedule],
	}
}

func scenarios() resource[model.Scenario, model.Scenario] {
	return resource[model.Scenario, model.Scenario]{
		name: "scenario", path: "scenarios", deleteKind: raftfsm.CmdDeleteScenario,
		get:  (*raftfsm.FSM).GetScenario,
		list: listByOrg((*raftfsm.FSM).ListScenarios),
		build: func(_ *Server, _ *http.Request, in *model.Scenario, id string, existing *model.Scenario, now time.Time) (model.Scenario, string, error) {
			sc := *in
			if err := checkOrgObject(sc.ID, id, existing == nil, sc.OrgID, sc.Name); err != nil {
				return sc, "", err
			}
			for i, rule := range sc.Rules {
				if err := checkName(fmt.Sprintf("rules[%d].name", i), rule.Name); err != nil {
					return sc, "", err
				}
			}
			if err := routing.ValidateScenario(sc); err != nil {
				return sc, "", newError(http.StatusUnprocessableEntity, CodeInvalid, "%v", err)
			}
			sc.ID = id
			return sc, "", nil
		},
		put: func(sc model.Scenario, create bool) raftfsm.Command {
			return &raftfsm.PutScenario{Create: create, Scenario: sc}
		},
		redact: identity[model.Scenario],
		view:   plainView[model.Scenario],
	}
}
