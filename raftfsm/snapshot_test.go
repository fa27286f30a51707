package raftfsm_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// applyEveryCommand applies at least one accepted command of every type.
func applyEveryCommand(h *harness) {
	h.seed()
	h.apply(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "token-1", Name: "ci", Hash: "abc"}})
	h.apply(&raftfsm.PutAdminToken{Token: model.AdminToken{ID: "token-2", Name: "old", Hash: "def"}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteAdminToken, ID: "token-2"})
	h.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "agent-old", Name: "old", Trunk: "t"}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteAgent, ID: "agent-old"})
	h.apply(&raftfsm.PutProject{Create: true, Project: model.Project{ID: "project-old", OrgID: otherOrgID, Name: "old"}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteProject, ID: "project-old"})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{ID: "member-old", OrgID: otherOrgID, Name: "old", Phone: carolPhone}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteMember, ID: "member-old"})
	h.apply(&raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: "scenario-old", OrgID: otherOrgID, Name: "old"}})
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "endpoint-old", OrgID: otherOrgID, Name: "old", ScenarioID: "scenario-old"}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteEndpoint, ID: "endpoint-old"})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteScenario, ID: "scenario-old"})
	h.apply(&raftfsm.PutSchedule{Create: true, Schedule: model.Schedule{ID: "schedule-old", OrgID: orgID, Name: "old", TimeZone: "UTC",
		Rotations: []model.Rotation{{Start: startTime, ShiftLength: 12, ShiftUnit: model.ShiftHours, MemberIDs: []string{bobID}}}}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteSchedule, ID: "schedule-old"})
	h.apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: "org-old", Name: "old"}})
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteOrganization, ID: "org-old"})

	old := h.apply(intake("old", model.StateFiring, model.SeverityMajor)).Calls[0].ID
	h.apply(&raftfsm.AssignAttempt{CallID: old, Attempt: 1, AgentID: agentA, Trunk: "trunk-a"})
	h.apply(&raftfsm.AttemptFinished{CallID: old, Attempt: 1, Disposition: model.DispositionBusy, At: h.now})
	h.advance(40 * 24 * time.Hour)

	calls := h.apply(intake("r1", model.StateFiring, model.SeverityCritical)).Calls
	h.apply(&raftfsm.AssignAttempt{CallID: calls[0].ID, Attempt: 1, AgentID: agentA, Trunk: "trunk-a"})
	h.apply(&raftfsm.AttemptProgress{CallID: calls[0].ID, Attempt: 1, Progress: "ringing", At: h.now})
	h.advance(10 * time.Second)
	h.apply(&raftfsm.AttemptFinished{CallID: calls[0].ID, Attempt: 1, Disposition: model.DispositionAnswered, At: h.now,
		Raw: json.RawMessage(`{"originate":{"id":"x"}}`)})
	h.apply(&raftfsm.FailCall{CallID: calls[1].ID, Reason: "no agent"})
	h.advance(time.Hour)
	more := h.apply(intake("r2", model.StateFiring, model.SeverityCritical)).Calls
	h.apply(&raftfsm.CancelCalls{CallIDs: []string{more[0].ID}, Reason: "operator"})
	h.advance(time.Hour)
	h.apply(intake("r3", model.StateFiring, model.SeverityMajor))
	h.apply(&raftfsm.Prune{Before: h.now.Add(-raftfsm.DefaultRetention)})
}

func TestEveryCommandSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	applyEveryCommand(h)
	want := readAll(t, h.fsm)
	if len(want.Requests) != 3 || len(want.Calls) != 5 || len(want.AdminTokens) != 1 {
		t.Fatalf("state before snapshot: %d requests, %d calls, %d tokens; want 3, 5, 1", len(want.Requests), len(want.Calls), len(want.AdminTokens))
	}
	snapshot := snapshotBytes(t, h.fsm)

	fresh := openFSM(t, t.TempDir())
	restore(t, fresh, snapshot)
	requireSameReads(t, want, readAll(t, fresh))
	if again := snapshotBytes(t, fresh); !bytes.Equal(again, snapshot) {
		t.Error("snapshot of the restored state differs from the original snapshot")
	}
	call, err := fresh.GetCall("r1-1")
	if err != nil || len(call.Attempts) != 1 || string(call.Attempts[0].Raw) != `{"originate":{"id":"x"}}` {
		t.Errorf("restored call r1-1: %+v, %v", call, err)
	}
}

func TestRestoreSnapshotReplacesState(t *testing.T) {
	source := newHarness(t)
	source.seed()
	source.apply(intake("r1", model.StateFiring, model.SeverityCritical))
	snapshot := snapshotBytes(t, source.fsm)

	// The target has fewer entries and other data.
	target := newHarness(t)
	target.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "stray", Name: "stray"}})
	restore(t, target.fsm, snapshot)
	requireSameReads(t, readAll(t, source.fsm), readAll(t, target.fsm))

	select {
	case <-target.fsm.Changed():
	default:
		t.Error("restore did not signal Changed")
	}
}

func TestRestoreKeepsNewerLocalState(t *testing.T) {
	h := newHarness(t)
	h.seed()
	old := snapshotBytes(t, h.fsm)
	h.apply(intake("r1", model.StateFiring, model.SeverityCritical))
	want := readAll(t, h.fsm)

	restore(t, h.fsm, old)
	requireSameReads(t, want, readAll(t, h.fsm))
}

func TestRestoreRejectsCorruptSnapshot(t *testing.T) {
	source := newHarness(t)
	source.seed()
	snapshot := snapshotBytes(t, source.fsm)

	corrupt := bytes.Clone(snapshot)
	i := bytes.Index(corrupt, []byte(alicePhone))
	corrupt[i+3] ^= 1

	target := newHarness(t)
	before := readAll(t, target.fsm)
	err := target.fsm.Restore(io.NopCloser(bytes.NewReader(corrupt)))
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("restore of a corrupt snapshot: %v, want a checksum error", err)
	}
	requireSameReads(t, before, readAll(t, target.fsm))

	err = target.fsm.Restore(io.NopCloser(bytes.NewReader(snapshot[:len(snapshot)/2])))
	if err == nil {
		t.Fatal("restore of a cut snapshot succeeded")
	}
}

func TestRestartSkipsReplayedEntries(t *testing.T) {
	dir := t.TempDir()
	var logs []*raft.Log
	for i, cmd := range []raftfsm.Command{
		&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: "org-r", Name: "R"}},
		&raftfsm.PutMember{Create: true, Member: model.Member{ID: "m-r", OrgID: "org-r", Name: "R", Phone: alicePhone, Consent: consent()}},
		&raftfsm.PutOrganization{Organization: model.Organization{ID: "org-r", Name: "R", PrimaryMemberID: "m-r"}},
		&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "e-r", OrgID: "org-r", Name: "r"}},
		&raftfsm.Intake{RequestID: "req-r", EndpointID: "e-r", Method: "POST", Alert: alert(model.StateFiring, "")},
	} {
		cmd.CommandMeta().Time = startTime.Add(time.Duration(i) * time.Second)
		cmd.CommandMeta().ProposalID = "p" + string(rune('0'+i))
		logs = append(logs, entry(t, uint64(i+1), cmd))
	}

	first, err := raftfsm.New(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	first.ApplyBatch(logs[:3])
	first.Apply(logs[3])
	first.Apply(logs[4])
	want := snapshotBytes(t, first)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := openFSM(t, dir)
	if got := second.AppliedIndex(); got != 5 {
		t.Fatalf("applied index after restart: %d, want 5", got)
	}
	// Raft replays the log from its last snapshot; nothing is applied twice.
	out := second.ApplyBatch(logs)
	for i, r := range out {
		if resp, ok := r.(*raftfsm.Response); !ok || resp.Err != nil {
			t.Errorf("replayed entry %d answered %#v", i+1, r)
		}
	}
	if got := snapshotBytes(t, second); !bytes.Equal(got, want) {
		t.Error("replaying applied entries changed the state")
	}
	calls, _ := second.ListCalls(raftfsm.CallQuery{})
	if len(calls) != 1 {
		t.Errorf("calls after replay: %d, want 1", len(calls))
	}

	next := entry(t, 6, &raftfsm.CancelCalls{Meta: raftfsm.Meta{Time: startTime.Add(time.Minute)}, CallIDs: []string{"req-r-1"}, Reason: "test"})
	resp := second.Apply(next).(*raftfsm.Response)
	if len(resp.Calls) != 1 || second.AppliedIndex() != 6 {
		t.Errorf("entry after replay: %+v, applied index %d", resp, second.AppliedIndex())
	}
}

func TestPruneDeletesOldHistory(t *testing.T) {
	h := newHarness(t)
	h.seed()
	oldCalls := h.apply(intake("old", model.StateFiring, model.SeverityCritical)).Calls
	h.apply(&raftfsm.FailCall{CallID: oldCalls[0].ID, Reason: "no agent"}) // finished, prunable
	// oldCalls[1] stays queued and must survive.
	h.advance(31 * 24 * time.Hour)
	h.apply(intake("new", model.StateFiring, model.SeverityMajor))

	resp := h.apply(&raftfsm.Prune{Before: h.now.Add(-raftfsm.DefaultRetention)})
	var res raftfsm.PruneResult
	if err := json.Unmarshal(resp.Object, &res); err != nil {
		t.Fatalf("decode prune result: %v", err)
	}
	if res.Requests != 1 || res.Calls != 1 || res.More {
		t.Errorf("prune result %+v, want 1 request and 1 call", res)
	}
	if res.Counters == 0 {
		t.Error("prune kept every brake counter of a month ago")
	}
	if _, err := h.fsm.GetRequest("old"); err == nil {
		t.Error("old request survived the prune")
	}
	if _, err := h.fsm.GetCall(oldCalls[0].ID); err == nil {
		t.Error("old finished call survived the prune")
	}
	if c, err := h.fsm.GetCall(oldCalls[1].ID); err != nil || c.Status != model.CallQueued {
		t.Errorf("old queued call after prune: %+v, %v; want kept", c, err)
	}
	if _, err := h.fsm.GetRequest("new"); err != nil {
		t.Errorf("new request after prune: %v", err)
	}
	queued, _ := h.fsm.ListCalls(raftfsm.CallQuery{Status: model.CallFinished})
	if len(queued) != 0 {
		t.Errorf("finished-call index still lists %d calls", len(queued))
	}

	// Proposal ids older than a day are forgotten: a very late retry is new.
	cmd := &raftfsm.PutAgent{Meta: raftfsm.Meta{ProposalID: "p-agent"}, Create: true, Agent: model.Agent{ID: "agent-c", Name: "c"}}
	h.apply(cmd)
	h.advance(25 * time.Hour)
	h.apply(&raftfsm.Prune{Before: h.now.Add(-raftfsm.DefaultRetention)})
	retry := &raftfsm.PutAgent{Meta: raftfsm.Meta{ProposalID: "p-agent"}, Create: true, Agent: model.Agent{ID: "agent-c", Name: "c"}}
	h.reject(retry, raftfsm.CodeConflict)
}

func TestDecodeFailureStopsNode(t *testing.T) {
	if _, err := raftfsm.Decode([]byte{200, '{', '}'}); err == nil {
		t.Error("Decode accepted unknown command type 200")
	}
	if _, err := raftfsm.Decode([]byte{byte(raftfsm.CmdIntake), '{'}); err == nil {
		t.Error("Decode accepted broken JSON")
	}

	h := newHarness(t)
	h.seed()
	before := snapshotBytes(t, h.fsm)
	index := h.fsm.AppliedIndex()

	good := entry(t, index+1, &raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "agent-x", Name: "x"}})
	bad := &raft.Log{Index: index + 2, Term: 1, Type: raft.LogCommand, Data: []byte{200, '{', '}'}}
	panicked := func() (p any) {
		defer func() { p = recover() }()
		h.fsm.ApplyBatch([]*raft.Log{good, bad})
		return nil
	}()
	if panicked == nil {
		t.Fatal("ApplyBatch with an unknown command type did not panic")
	}
	if !strings.Contains(panicked.(string), "type 200") {
		t.Errorf("panic %q does not name the command type", panicked)
	}
	if got := h.fsm.AppliedIndex(); got != index {
		t.Errorf("applied index after the failed batch: %d, want %d", got, index)
	}
	if after := snapshotBytes(t, h.fsm); !bytes.Equal(after, before) {
		t.Error("the failed batch left part of its writes")
	}

	panicked = func() (p any) {
		defer func() { p = recover() }()
		h.fsm.Apply(bad)
		return nil
	}()
	if panicked == nil {
		t.Error("Apply with an unknown command type did not panic")
	}
}

func TestChangedAfterCallBatches(t *testing.T) {
	h := newHarness(t)
	h.seed()
	drain := func() {
		select {
		case <-h.fsm.Changed():
		default:
		}
	}
	drain()
	h.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{ID: "agent-c", Name: "c"}})
	select {
	case <-h.fsm.Changed():
		t.Error("Changed signaled after a batch without calls")
	default:
	}
	h.apply(intake("r1", model.StateFiring, model.SeverityMajor))
	select {
	case <-h.fsm.Changed():
	default:
		t.Error("Changed not signaled after an intake queued a call")
	}
}

func TestSnapshotIsolatedFromLaterApplies(t *testing.T) {
	h := newHarness(t)
	h.seed()
	want := readAll(t, h.fsm)

	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	// Raft persists while it goes on applying entries.
	h.apply(intake("r1", model.StateFiring, model.SeverityCritical))
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("persist: %v", err)
	}

	fresh := openFSM(t, t.TempDir())
	restore(t, fresh, sink.Bytes())
	requireSameReads(t, want, readAll(t, fresh))
}
