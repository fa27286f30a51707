package raftfsm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
	"github.com/ringhook/ringhook/raftfsm/fsmtest"
)

// Fixture ids and phones. The phones are valid German mobile numbers.
const (
	orgID      = "org-1"
	otherOrgID = "org-2"
	aliceID    = "member-alice"
	bobID      = "member-bob"
	carolID    = "member-carol"
	projectID  = "project-db"
	scheduleID = "schedule-ops"
	scenarioID = "scenario-main"
	endpointID = "endpoint-1"
	agentA     = "agent-a"
	agentB     = "agent-b"

	alicePhone = "+4915112345671"
	bobPhone   = "+4915112345672"
	carolPhone = "+4915112345673"
)

var startTime = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openFSM(t testing.TB, dir string) *raftfsm.FSM {
	t.Helper()
	f, err := raftfsm.New(dir, testLogger(t))
	if err != nil {
		t.Fatalf("open state machine in %s: %v", dir, err)
	}
	t.Cleanup(func() { f.Close() })
	f.SetNoSync(true)
	return f
}

// harness applies commands to one state machine through fsmtest.Applier,
// stamping a clock that the test moves.
type harness struct {
	t   testing.TB
	fsm *raftfsm.FSM
	app *fsmtest.Applier
	now time.Time
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, fsm: openFSM(t, t.TempDir()), now: startTime}
	h.app = &fsmtest.Applier{FSM: h.fsm, NodeID: "node-1", Now: func() time.Time { return h.now }}
	return h
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// apply applies a command that must be accepted.
func (h *harness) apply(cmd raftfsm.Command) *raftfsm.Response {
	h.t.Helper()
	resp, err := h.app.Apply(context.Background(), cmd)
	if err != nil {
		h.t.Fatalf("apply %T: %v", cmd, err)
	}
	return resp
}

// reject applies a command that must be rejected with the code.
func (h *harness) reject(cmd raftfsm.Command, code string) *raftfsm.ApplyError {
	h.t.Helper()
	_, err := h.app.Apply(context.Background(), cmd)
	var ae *raftfsm.ApplyError
	if !errors.As(err, &ae) {
		h.t.Fatalf("apply %T: got error %v, want an ApplyError with code %s", cmd, err, code)
	}
	if ae.Code != code {
		h.t.Fatalf("apply %T: got code %s (%s), want %s", cmd, ae.Code, ae.Message, code)
	}
	return ae
}

func consent() *model.Consent {
	return &model.Consent{ConfirmedBy: "admin", ConfirmedAt: startTime.Add(-time.Hour)}
}

// seed creates an organization with three members (carol without consent),
// a project, a schedule, a scenario that calls everyone on critical alerts
// and the primary member otherwise, an endpoint and two agents.
func (h *harness) seed() {
	h.t.Helper()
	h.apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: orgID, Name: "Acme"}})
	h.apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: otherOrgID, Name: "Other"}})
	h.apply(&raftfsm.PutProject{Create: true, Project: model.Project{ID: projectID, OrgID: orgID, Name: "Databases"}})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: aliceID, OrgID: orgID, Name: "Alice", Phone: alicePhone, Consent: consent()}})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: bobID, OrgID: orgID, Name: "Bob", Phone: bobPhone, ProjectIDs: []string{projectID}, Consent: consent()}})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: carolID, OrgID: orgID, Name: "Carol", Phone: carolPhone}})
	h.apply(&raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme", PrimaryMemberID: aliceID}})
	h.apply(&raftfsm.PutSchedule{Create: true, Schedule: model.Schedule{
		ID: scheduleID, OrgID: orgID, Name: "Ops", TimeZone: "Europe/Berlin",
		Rotations: []model.Rotation{{Start: startTime.Add(-24 * time.Hour), ShiftLength: 1, ShiftUnit: model.ShiftWeeks, MemberIDs: []string{aliceID, bobID}}},
	}})
	h.apply(&raftfsm.PutScenario{Create: true, Scenario: scenario()})
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: endpointID, OrgID: orgID, Name: "prod", ScenarioID: scenarioID}})
	h.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: agentA, Name: "pbx-a", Trunk: "trunk-a", TokenHash: "aa"}})
	h.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: agentB, Name: "pbx-b", Trunk: "trunk-b", TokenHash: "bb"}})
}

func scenario() model.Scenario {
	return model.Scenario{
		ID: scenarioID, OrgID: orgID, Name: "main",
		Rules: []model.Rule{{
			Name:       "critical",
			Conditions: []model.Condition{{Field: "severity", Op: "in", Value: []any{"critical"}}},
			Action:     model.Action{Type: model.ActionCallAll},
		}},
		Default: model.Action{Type: model.ActionCallPrimary},
	}
}

func alert(state, severity string) model.Alert {
	return model.Alert{Format: model.FormatJSON, Fields: map[string]any{"severity": severity}, AlertCount: 1, State: state, Severity: severity, Message: "disk full"}
}

func intake(requestID, state, severity string) *raftfsm.Intake {
	return &raftfsm.Intake{RequestID: requestID, EndpointID: endpointID, Method: "POST", ContentType: "application/json",
		Body: `{"status":"` + state + `"}`, BodySize: 20, Alert: alert(state, severity)}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "test-snapshot" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

func snapshotBytes(t testing.TB, f *raftfsm.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("persist snapshot: %v", err)
	}
	return sink.Bytes()
}

func restore(t testing.TB, f *raftfsm.FSM, snapshot []byte) {
	t.Helper()
	if err := f.Restore(io.NopCloser(bytes.NewReader(snapshot))); err != nil {
		t.Fatalf("restore: %v", err)
	}
}

// allReads is every read of a state machine, for comparing two of them.
type allReads struct {
	Organizations []model.Organization
	Members       []model.Member
	Projects      []model.Project
	Schedules     []model.Schedule
	Scenarios     []model.Scenario
	Endpoints     []model.Endpoint
	Agents        []model.Agent
	AdminTokens   []model.AdminToken
	Requests      []model.Request
	Calls         []model.Call
	Queued        []model.Call
	AppliedIndex  uint64
}

func readAll(t testing.TB, f *raftfsm.FSM) allReads {
	t.Helper()
	var r allReads
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	r.Organizations, err = f.ListOrganizations()
	add(err)
	r.Members, err = f.ListMembers("")
	add(err)
	r.Projects, err = f.ListProjects("")
	add(err)
	r.Schedules, err = f.ListSchedules("")
	add(err)
	r.Scenarios, err = f.ListScenarios("")
	add(err)
	r.Endpoints, err = f.ListEndpoints("")
	add(err)
	r.Agents, err = f.ListAgents()
	add(err)
	r.AdminTokens, err = f.ListAdminTokens()
	add(err)
	r.Requests, err = f.ListRequests(raftfsm.RequestQuery{Limit: 1 << 20})
	add(err)
	r.Calls, err = f.ListCalls(raftfsm.CallQuery{Limit: 1 << 20})
	add(err)
	r.Queued, err = f.ListCallsByStatus(model.CallQueued)
	add(err)
	r.AppliedIndex = f.AppliedIndex()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("read state: %v", err)
	}
	return r
}

func requireSameReads(t testing.TB, want, got allReads) {
	t.Helper()
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range wv.NumField() {
		if !reflect.DeepEqual(wv.Field(i).Interface(), gv.Field(i).Interface()) {
			t.Errorf("%s differ:\nwant %+v\n got %+v", wv.Type().Field(i).Name, wv.Field(i).Interface(), gv.Field(i).Interface())
		}
	}
}

// entry encodes a command as a raft log entry at an index.
func entry(t testing.TB, index uint64, cmd raftfsm.Command) *raft.Log {
	t.Helper()
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}
