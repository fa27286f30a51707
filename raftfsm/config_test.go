package raftfsm_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

func TestPutCreateThenReplace(t *testing.T) {
	h := newHarness(t)
	created := h.now
	resp := h.apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: orgID, Name: "Acme"}})

	var stored model.Organization
	if err := json.Unmarshal(resp.Object, &stored); err != nil {
		t.Fatalf("decode response object: %v", err)
	}
	if !stored.CreatedAt.Equal(created) || !stored.UpdatedAt.Equal(created) {
		t.Errorf("timestamps after create: created %v updated %v, want both %v", stored.CreatedAt, stored.UpdatedAt, created)
	}

	h.reject(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: orgID, Name: "Again"}}, raftfsm.CodeConflict)
	h.reject(&raftfsm.PutOrganization{Organization: model.Organization{ID: "missing", Name: "X"}}, raftfsm.CodeNotFound)

	h.advance(time.Minute)
	h.apply(&raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme Inc", CreatedAt: time.Unix(1, 0)}})
	got, err := h.fsm.GetOrganization(orgID)
	if err != nil {
		t.Fatalf("get organization: %v", err)
	}
	if got.Name != "Acme Inc" {
		t.Errorf("name %q, want the replaced name", got.Name)
	}
	if !got.CreatedAt.Equal(created) {
		t.Errorf("CreatedAt %v, want the first %v", got.CreatedAt, created)
	}
	if !got.UpdatedAt.Equal(h.now) {
		t.Errorf("UpdatedAt %v, want %v", got.UpdatedAt, h.now)
	}
}

func TestGetMissingIsNotFound(t *testing.T) {
	h := newHarness(t)
	if _, err := h.fsm.GetOrganization("nope"); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("GetOrganization: %v, want ErrNotFound", err)
	}
	if _, err := h.fsm.GetCall("nope-1"); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("GetCall: %v, want ErrNotFound", err)
	}
	if _, err := h.fsm.GetRequest("nope"); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("GetRequest: %v, want ErrNotFound", err)
	}
}

func TestPutValidatesReferences(t *testing.T) {
	h := newHarness(t)
	h.seed()

	cases := []struct {
		name string
		cmd  raftfsm.Command
		code string
	}{
		{"member of unknown organization", &raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: "nope", Name: "X", Phone: alicePhone}}, raftfsm.CodeNotFound},
		{"member without phone", &raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: orgID, Name: "X"}}, raftfsm.CodeInvalid},
		{"member with emergency number", &raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: orgID, Name: "X", Phone: "+49112"}}, raftfsm.CodeInvalid},
		{"member in project of other organization", &raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: otherOrgID, Name: "X", Phone: alicePhone, ProjectIDs: []string{projectID}}}, raftfsm.CodeInvalid},
		{"member moved to other organization", &raftfsm.PutMember{Member: model.Member{ID: aliceID, OrgID: otherOrgID, Name: "Alice", Phone: alicePhone}}, raftfsm.CodeInvalid},
		{"primary member of other organization", &raftfsm.PutOrganization{Organization: model.Organization{ID: otherOrgID, Name: "Other", PrimaryMemberID: aliceID}}, raftfsm.CodeInvalid},
		{"negative daily cap", &raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme", Brakes: model.Brakes{DailyCallCap: -1}}}, raftfsm.CodeInvalid},
		{"schedule without time zone", &raftfsm.PutSchedule{Create: true, Schedule: model.Schedule{ID: "s9", OrgID: orgID, Name: "x", Rotations: []model.Rotation{{Start: startTime, ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{aliceID}}}}}, raftfsm.CodeInvalid},
		{"schedule with member of other organization", &raftfsm.PutSchedule{Create: true, Schedule: model.Schedule{ID: "s9", OrgID: otherOrgID, Name: "x", TimeZone: "UTC", Rotations: []model.Rotation{{Start: startTime, ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{aliceID}}}}}, raftfsm.CodeInvalid},
		{"scenario with unknown operator", &raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: "sc9", OrgID: orgID, Name: "x", Rules: []model.Rule{{Conditions: []model.Condition{{Field: "severity", Op: "like", Value: "x"}}, Action: model.Action{Type: model.ActionCallAll}}}}}, raftfsm.CodeInvalid},
		{"scenario calling member of other organization", &raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: "sc9", OrgID: otherOrgID, Name: "x", Default: model.Action{Type: model.ActionCallMember, MemberID: aliceID}}}, raftfsm.CodeInvalid},
		{"scenario with unknown schedule", &raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: "sc9", OrgID: orgID, Name: "x", Default: model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "nope"}}}, raftfsm.CodeNotFound},
		{"endpoint with scenario of other organization", &raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "e9", OrgID: otherOrgID, Name: "x", ScenarioID: scenarioID}}, raftfsm.CodeInvalid},
		{"agent without name", &raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "a9"}}, raftfsm.CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			h.reject(c.cmd, c.code)
		})
	}
	h.t = t

	h.apply(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "t1", Name: "x", Hash: "h"}})
	h.reject(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "t1", Name: "y", Hash: "h2"}}, raftfsm.CodeConflict)
	h.reject(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "t2", Name: "y"}}, raftfsm.CodeInvalid)
}

func TestDeleteRejectsReferencedObjects(t *testing.T) {
	h := newHarness(t)
	h.seed()
	del := func(kind raftfsm.CommandType, id string) *raftfsm.Delete {
		return &raftfsm.Delete{Kind: kind, ID: id}
	}

	h.reject(del(raftfsm.CmdDeleteScenario, scenarioID), raftfsm.CodeConflict)
	h.reject(del(raftfsm.CmdDeleteOrganization, orgID), raftfsm.CodeConflict)
	h.reject(del(raftfsm.CmdDeleteMember, aliceID), raftfsm.CodeConflict) // primary member and on the schedule
	h.reject(del(raftfsm.CmdDeleteProject, projectID), raftfsm.CodeConflict)
	h.reject(del(raftfsm.CmdDeleteEndpoint, "nope"), raftfsm.CodeNotFound)

	// Carol is referenced by nothing.
	h.apply(del(raftfsm.CmdDeleteMember, carolID))
	if _, err := h.fsm.GetMember(carolID); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("carol after delete: %v, want ErrNotFound", err)
	}

	// Take everything apart in dependency order.
	h.apply(del(raftfsm.CmdDeleteEndpoint, endpointID))
	h.apply(del(raftfsm.CmdDeleteScenario, scenarioID))
	h.reject(del(raftfsm.CmdDeleteMember, aliceID), raftfsm.CodeConflict) // still primary and on the schedule
	h.apply(del(raftfsm.CmdDeleteSchedule, scheduleID))
	h.apply(&raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme"}})
	h.apply(del(raftfsm.CmdDeleteMember, aliceID))
	h.reject(del(raftfsm.CmdDeleteProject, projectID), raftfsm.CodeConflict) // bob is in it
	h.apply(&raftfsm.PutMember{Member: model.Member{ID: bobID, OrgID: orgID, Name: "Bob", Phone: bobPhone}})
	h.apply(del(raftfsm.CmdDeleteProject, projectID))
	h.apply(del(raftfsm.CmdDeleteMember, bobID))
	h.apply(del(raftfsm.CmdDeleteOrganization, orgID))
	h.apply(del(raftfsm.CmdDeleteAgent, agentA))
	h.apply(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "t1", Name: "ci", Hash: "h"}})
	h.apply(del(raftfsm.CmdDeleteAdminToken, "t1"))

	orgs, err := h.fsm.ListOrganizations()
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 || orgs[0].ID != otherOrgID {
		t.Errorf("organizations after deletes: %+v, want only %s", orgs, otherOrgID)
	}
	if tokens, _ := h.fsm.ListAdminTokens(); len(tokens) != 0 {
		t.Errorf("admin tokens after delete: %+v", tokens)
	}
}

func TestListByOrganization(t *testing.T) {
	h := newHarness(t)
	h.seed()
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: "member-zed", OrgID: otherOrgID, Name: "Zed", Phone: carolPhone}})

	mine, err := h.fsm.ListMembers(orgID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 3 {
		t.Errorf("members of %s: %d, want 3", orgID, len(mine))
	}
	all, _ := h.fsm.ListMembers("")
	if len(all) != 4 {
		t.Errorf("all members: %d, want 4", len(all))
	}
	if eps, _ := h.fsm.ListEndpoints(otherOrgID); len(eps) != 0 {
		t.Errorf("endpoints of %s: %+v, want none", otherOrgID, eps)
	}
	if p, _ := h.fsm.ListProjects(orgID); len(p) != 1 {
		t.Errorf("projects of %s: %+v, want 1", orgID, p)
	}
	if s, _ := h.fsm.ListSchedules(orgID); len(s) != 1 {
		t.Errorf("schedules of %s: %+v, want 1", orgID, s)
	}
	if s, _ := h.fsm.ListScenarios(otherOrgID); len(s) != 0 {
		t.Errorf("scenarios of %s: %+v, want none", otherOrgID, s)
	}
}

func TestPutRejectsDuplicateNames(t *testing.T) {
	h := newHarness(t)
	h.seed()

	cases := []struct {
		name    string
		cmd     raftfsm.Command
		ownerID string
	}{
		{"organization", &raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: "org-9", Name: "Acme"}}, orgID},
		{"organization rename", &raftfsm.PutOrganization{Organization: model.Organization{ID: otherOrgID, Name: "Acme"}}, orgID},
		{"member", &raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: orgID, Name: "Alice", Phone: alicePhone}}, aliceID},
		{"member rename", &raftfsm.PutMember{Member: model.Member{ID: bobID, OrgID: orgID, Name: "Alice", Phone: bobPhone, ProjectIDs: []string{projectID}}}, aliceID},
		{"project", &raftfsm.PutProject{Create: true, Project: model.Project{ID: "p9", OrgID: orgID, Name: "Databases"}}, projectID},
		{"schedule", &raftfsm.PutSchedule{Create: true, Schedule: model.Schedule{ID: "s9", OrgID: orgID, Name: "Ops", TimeZone: "UTC", Rotations: []model.Rotation{{Start: startTime, ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{aliceID}}}}}, scheduleID},
		{"scenario", &raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: "sc9", OrgID: orgID, Name: scenario().Name}}, scenarioID},
		{"endpoint", &raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "e9", OrgID: orgID, Name: "prod"}}, endpointID},
		{"agent", &raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "agent-9", Name: "pbx-a", TokenHash: "cc"}}, agentA},
	}
	for _, tc := range cases {
		ae := h.reject(tc.cmd, raftfsm.CodeConflict)
		if !strings.Contains(ae.Message, strconv.Quote(tc.ownerID)) {
			t.Errorf("%s: message %q does not name the existing object %q", tc.name, ae.Message, tc.ownerID)
		}
	}

	h.apply(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "tok-1", Name: "ci", Hash: "h1"}})
	h.reject(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "tok-2", Name: "ci", Hash: "h2"}}, raftfsm.CodeConflict)
}

func TestPutAllowsSameNameElsewhere(t *testing.T) {
	h := newHarness(t)
	h.seed()

	// Organization-scoped names may repeat in another organization.
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: "m9", OrgID: otherOrgID, Name: "Alice", Phone: alicePhone}})
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "e9", OrgID: otherOrgID, Name: "prod"}})
	// Names compare case-sensitively.
	h.apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: "org-9", Name: "ACME"}})
	// A replace that keeps its own name is not a duplicate.
	h.apply(&raftfsm.PutEndpoint{Endpoint: model.Endpoint{ID: endpointID, OrgID: orgID, Name: "prod", ScenarioID: scenarioID}})
	// Empty names are not compared.
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: "m10", OrgID: orgID, Phone: bobPhone}})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: "m11", OrgID: orgID, Phone: carolPhone}})
}
