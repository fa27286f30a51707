package raftfsm_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

func phoneDecision(t *testing.T, req *model.Request, phone string) model.PhoneDecision {
	t.Helper()
	for _, p := range req.Phones {
		if p.Phone == phone {
			return p
		}
	}
	t.Fatalf("request %s has no decision for a phone; phones: %+v", req.ID, req.Phones)
	return model.PhoneDecision{}
}

func TestIntakeStoresRequestAndCalls(t *testing.T) {
	h := newHarness(t)
	h.seed()
	resp := h.apply(intake("req-1", model.StateFiring, model.SeverityCritical))

	req := resp.Request
	if req == nil {
		t.Fatal("response has no request")
	}
	if req.Outcome != model.OutcomeQueued || req.RuleIndex != 0 || req.RuleName != "critical" || req.Action.Type != model.ActionCallAll {
		t.Errorf("routing: outcome %s rule %d %q action %s, want queued by rule 0 critical, call_all", req.Outcome, req.RuleIndex, req.RuleName, req.Action.Type)
	}
	if !req.ReceivedAt.Equal(h.now) || req.OrgID != orgID || req.NodeID != "node-1" || req.Severity != model.SeverityCritical {
		t.Errorf("request fields: %+v", req)
	}
	alice := phoneDecision(t, req, alicePhone)
	if !alice.Queued || alice.CallID != "req-1-1" {
		t.Errorf("alice decision %+v, want queued as req-1-1", alice)
	}
	bob := phoneDecision(t, req, bobPhone)
	if !bob.Queued || bob.CallID != "req-1-2" {
		t.Errorf("bob decision %+v, want queued as req-1-2", bob)
	}
	carol := phoneDecision(t, req, carolPhone)
	if carol.Queued || carol.Reason != model.ReasonNoConsent || carol.CallID != "" {
		t.Errorf("carol decision %+v, want no_consent without call", carol)
	}

	if len(resp.Calls) != 2 {
		t.Fatalf("response calls: %d, want 2", len(resp.Calls))
	}
	call, err := h.fsm.GetCall("req-1-1")
	if err != nil {
		t.Fatalf("get call: %v", err)
	}
	if call.Status != model.CallQueued || call.Phone != alicePhone || call.MemberID != aliceID || call.RequestID != "req-1" || !call.QueuedAt.Equal(h.now) {
		t.Errorf("stored call %+v", call)
	}
	stored, err := h.fsm.GetRequest("req-1")
	if err != nil {
		t.Fatalf("get request: %v", err)
	}
	if stored.Body != `{"status":"firing"}` || stored.Method != "POST" {
		t.Errorf("stored request body %q method %q", stored.Body, stored.Method)
	}

	h.reject(intake("req-1", model.StateFiring, model.SeverityCritical), raftfsm.CodeConflict)
	bad := intake("req-2", model.StateFiring, "")
	bad.EndpointID = "unknown"
	h.reject(bad, raftfsm.CodeNotFound)
}

func TestIntakeCapsBody(t *testing.T) {
	h := newHarness(t)
	h.seed()
	cmd := intake("req-big", model.StateFiring, "")
	cmd.Body = strings.Repeat("é", model.MaxStoredBody) // two bytes each
	cmd.BodySize = len(cmd.Body)
	resp := h.apply(cmd)
	if len(resp.Request.Body) > model.MaxStoredBody || len(resp.Request.Body) < model.MaxStoredBody-1 {
		t.Errorf("stored body is %d bytes, want at most %d and cut at a character", len(resp.Request.Body), model.MaxStoredBody)
	}
	if !resp.Request.BodyTruncated {
		t.Error("BodyTruncated is false for a cut body")
	}
	if resp.Request.BodySize != cmd.BodySize {
		t.Errorf("BodySize %d, want the original %d", resp.Request.BodySize, cmd.BodySize)
	}
}

func TestBrakeCountersAcrossCommands(t *testing.T) {
	h := newHarness(t)
	h.seed()
	h.apply(&raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme", PrimaryMemberID: aliceID,
		Brakes: model.Brakes{DailyCallCap: 3, PhoneCooldown: model.Duration(time.Minute), EndpointSuppression: model.Duration(10 * time.Minute)}}})

	// The primary member is called, then held back by the cooldown.
	first := h.apply(intake("r1", model.StateFiring, model.SeverityMajor))
	if d := phoneDecision(t, first.Request, alicePhone); !d.Queued {
		t.Fatalf("first call %+v, want queued", d)
	}
	h.advance(30 * time.Second)
	second := h.apply(intake("r2", model.StateFiring, model.SeverityMajor))
	if d := phoneDecision(t, second.Request, alicePhone); d.Queued || d.Reason != model.ReasonCooldown {
		t.Errorf("call within cooldown %+v, want cooldown", d)
	}

	// After the cooldown two more calls fit the cap of 3: alice and bob.
	h.advance(time.Minute)
	third := h.apply(intake("r3", model.StateFiring, model.SeverityCritical))
	if len(third.Calls) != 2 {
		t.Fatalf("calls after cooldown: %d, want 2 (%+v)", len(third.Calls), third.Request.Phones)
	}
	h.advance(2 * time.Minute)
	fourth := h.apply(intake("r4", model.StateFiring, model.SeverityMajor))
	if d := phoneDecision(t, fourth.Request, alicePhone); d.Queued || d.Reason != model.ReasonDailyCap {
		t.Errorf("call over the cap %+v, want daily_cap", d)
	}

	// A new UTC day resets the cap; an answered call suppresses the endpoint.
	h.now = time.Date(startTime.Year(), startTime.Month(), startTime.Day()+1, 0, 5, 0, 0, time.UTC)
	fifth := h.apply(intake("r5", model.StateFiring, model.SeverityMajor))
	if len(fifth.Calls) != 1 {
		t.Fatalf("calls on the next day: %d, want 1 (%+v)", len(fifth.Calls), fifth.Request.Phones)
	}
	callID := fifth.Calls[0].ID
	h.apply(&raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: agentA, Trunk: "trunk-a"})
	h.apply(&raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionAnswered, At: h.now})
	h.advance(5 * time.Minute)
	sixth := h.apply(intake("r6", model.StateFiring, model.SeverityCritical))
	if sixth.Request.Outcome != model.OutcomeSuppressed || len(sixth.Calls) != 0 {
		t.Errorf("during suppression: outcome %s, %d calls; want suppressed, none", sixth.Request.Outcome, len(sixth.Calls))
	}
	h.advance(6 * time.Minute)
	seventh := h.apply(intake("r7", model.StateFiring, model.SeverityCritical))
	if seventh.Request.Outcome != model.OutcomeQueued {
		t.Errorf("after suppression: outcome %s, want queued (%+v)", seventh.Request.Outcome, seventh.Request.Phones)
	}
}

func TestResolvedCancelsQueuedCalls(t *testing.T) {
	h := newHarness(t)
	h.seed()
	fired := h.apply(intake("r1", model.StateFiring, model.SeverityCritical))
	h.apply(&raftfsm.AssignAttempt{CallID: fired.Calls[0].ID, Attempt: 1, AgentID: agentA})

	h.advance(time.Second)
	resolved := h.apply(intake("r2", model.StateResolved, model.SeverityCritical))
	if resolved.Request.Outcome != model.OutcomeResolved {
		t.Errorf("outcome %s, want resolved", resolved.Request.Outcome)
	}
	want := []string{fired.Calls[1].ID}
	if strings.Join(resolved.Request.CancelledCallIDs, ",") != strings.Join(want, ",") {
		t.Errorf("cancelled %v, want only the queued call %v", resolved.Request.CancelledCallIDs, want)
	}
	cancelled, _ := h.fsm.GetCall(fired.Calls[1].ID)
	if cancelled.Status != model.CallCancelled || cancelled.Reason == "" || !cancelled.FinishedAt.Equal(h.now) {
		t.Errorf("queued call after resolve: %+v", cancelled)
	}
	assigned, _ := h.fsm.GetCall(fired.Calls[0].ID)
	if assigned.Status != model.CallAssigned {
		t.Errorf("assigned call after resolve: status %s, want assigned", assigned.Status)
	}
}

func TestAttemptsUntilFailure(t *testing.T) {
	h := newHarness(t)
	h.seed()
	callID := h.apply(intake("r1", model.StateFiring, model.SeverityMajor)).Calls[0].ID

	h.reject(&raftfsm.AssignAttempt{CallID: callID, Attempt: 2, AgentID: agentA}, raftfsm.CodeConflict)
	h.reject(&raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: "nope"}, raftfsm.CodeNotFound)
	h.reject(&raftfsm.AssignAttempt{CallID: "nope-1", Attempt: 1, AgentID: agentA}, raftfsm.CodeNotFound)

	for n := 1; n <= model.MaxAttempts; n++ {
		agent := agentA
		if n%2 == 0 {
			agent = agentB
		}
		resp := h.apply(&raftfsm.AssignAttempt{CallID: callID, Attempt: n, AgentID: agent, Trunk: "trunk-" + agent})
		if resp.Call.Status != model.CallAssigned || len(resp.Call.Attempts) != n {
			t.Fatalf("after assigning attempt %d: %+v", n, resp.Call)
		}
		h.reject(&raftfsm.AssignAttempt{CallID: callID, Attempt: n + 1, AgentID: agent}, raftfsm.CodeConflict)
		h.apply(&raftfsm.AttemptProgress{CallID: callID, Attempt: n, Progress: "dialing", At: h.now})
		h.advance(time.Second)
		fin := h.apply(&raftfsm.AttemptFinished{CallID: callID, Attempt: n, Disposition: model.DispositionFailed, Retryable: true,
			Cause: 34, CauseText: "No circuit available", SIPCode: 503, At: h.now, Raw: json.RawMessage(`{"event":"ChannelDestroyed"}`)})
		if n < model.MaxAttempts && fin.Call.Status != model.CallQueued {
			t.Fatalf("after retryable failure %d: status %s, want queued", n, fin.Call.Status)
		}
	}

	call, err := h.fsm.GetCall(callID)
	if err != nil {
		t.Fatal(err)
	}
	if call.Status != model.CallFinished || call.Disposition != model.DispositionFailed {
		t.Errorf("final status %s disposition %s, want finished failed", call.Status, call.Disposition)
	}
	for n := 1; n <= model.MaxAttempts; n++ {
		if !strings.Contains(call.Reason, "attempt "+string(rune('0'+n))) {
			t.Errorf("reason %q does not name attempt %d", call.Reason, n)
		}
	}
	if got := call.Attempts[0]; got.Progress != "dialing" || got.Cause != 34 || string(got.Raw) != `{"event":"ChannelDestroyed"}` {
		t.Errorf("first attempt recorded as %+v", got)
	}
	h.reject(&raftfsm.AssignAttempt{CallID: callID, Attempt: model.MaxAttempts + 1, AgentID: agentA}, raftfsm.CodeConflict)
}

func TestAttemptFinishedTwiceChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.seed()
	callID := h.apply(intake("r1", model.StateFiring, model.SeverityMajor)).Calls[0].ID
	h.apply(&raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: agentA})
	h.apply(&raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionNoAnswer, At: h.now})
	before, _ := h.fsm.GetCall(callID)

	h.advance(time.Minute)
	again := h.apply(&raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionAnswered, At: h.now})
	if !again.Duplicate {
		t.Error("second report of a finished attempt is not marked duplicate")
	}
	after, _ := h.fsm.GetCall(callID)
	if after.Disposition != model.DispositionNoAnswer || after.Status != model.CallFinished || !after.FinishedAt.Equal(before.FinishedAt) {
		t.Errorf("call changed by a repeated report: before %+v after %+v", before, after)
	}
	h.apply(&raftfsm.AttemptProgress{CallID: callID, Attempt: 1, Progress: "ringing"})
	if late, _ := h.fsm.GetCall(callID); late.Attempts[0].Progress != "" {
		t.Errorf("late progress changed a finished attempt to %q", late.Attempts[0].Progress)
	}
	h.reject(&raftfsm.AttemptProgress{CallID: callID, Attempt: 1, Progress: "exploded"}, raftfsm.CodeInvalid)
	h.reject(&raftfsm.AttemptProgress{CallID: callID, Attempt: 2, Progress: "ringing"}, raftfsm.CodeNotFound)
}

func TestCancelledAttemptCancelsCall(t *testing.T) {
	h := newHarness(t)
	h.seed()
	callID := h.apply(intake("r1", model.StateFiring, model.SeverityMajor)).Calls[0].ID
	h.apply(&raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: agentA})
	resp := h.apply(&raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionNoAnswer, Cancelled: true, Retryable: true})
	if resp.Call.Status != model.CallCancelled {
		t.Errorf("status %s, want cancelled", resp.Call.Status)
	}
}

func TestFailCallAndCancelCalls(t *testing.T) {
	h := newHarness(t)
	h.seed()
	calls := h.apply(intake("r1", model.StateFiring, model.SeverityCritical)).Calls
	if len(calls) != 2 {
		t.Fatalf("calls: %d, want 2", len(calls))
	}
	first, second := calls[0].ID, calls[1].ID

	failed := h.apply(&raftfsm.FailCall{CallID: first, Reason: "no healthy agent within 2m"})
	if failed.Call.Status != model.CallFinished || failed.Call.Disposition != model.DispositionFailed || failed.Call.Reason != "no healthy agent within 2m" {
		t.Errorf("failed call %+v", failed.Call)
	}
	h.reject(&raftfsm.FailCall{CallID: first, Reason: "again"}, raftfsm.CodeConflict)

	resp := h.apply(&raftfsm.CancelCalls{CallIDs: []string{first, second, "nope-1"}, Reason: "operator"})
	if len(resp.Calls) != 1 || resp.Calls[0].ID != second {
		t.Fatalf("cancelled %+v, want only %s", resp.Calls, second)
	}
	if got, _ := h.fsm.GetCall(first); got.Status != model.CallFinished {
		t.Errorf("finished call became %s", got.Status)
	}
	if got, _ := h.fsm.GetCall(second); got.Status != model.CallCancelled || got.Reason != "operator" {
		t.Errorf("queued call after cancel: %+v", got)
	}
}

func TestDuplicateProposalAppliedOnce(t *testing.T) {
	h := newHarness(t)
	h.seed()
	cmd := intake("r1", model.StateFiring, model.SeverityCritical)
	cmd.ProposalID = "proposal-1"
	first := h.apply(cmd)

	h.advance(time.Minute)
	retry := intake("r1", model.StateFiring, model.SeverityCritical)
	retry.ProposalID = "proposal-1"
	second := h.apply(retry)
	if !second.Duplicate {
		t.Error("retry is not marked duplicate")
	}
	if second.Request == nil || second.Request.ID != first.Request.ID || len(second.Calls) != len(first.Calls) {
		t.Errorf("retry answer %+v, want the first request and its %d calls", second, len(first.Calls))
	}
	if reqs, _ := h.fsm.ListRequests(raftfsm.RequestQuery{}); len(reqs) != 1 {
		t.Errorf("requests after retry: %d, want 1", len(reqs))
	}

	// A rejected command is answered with the same rejection.
	bad := &raftfsm.FailCall{Meta: raftfsm.Meta{ProposalID: "proposal-2"}, CallID: "nope"}
	h.reject(bad, raftfsm.CodeNotFound)
	resp, err := h.app.Apply(t.Context(), &raftfsm.FailCall{Meta: raftfsm.Meta{ProposalID: "proposal-2"}, CallID: "nope"})
	var ae *raftfsm.ApplyError
	if !errors.As(err, &ae) || !resp.Duplicate {
		t.Errorf("repeated rejected proposal: resp %+v err %v, want the duplicate rejection", resp, err)
	}
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	h := newHarness(t)
	h.seed()
	late := h.now
	h.now = late.Add(-time.Hour) // a new leader with a slow clock
	resp := h.apply(intake("r1", model.StateFiring, model.SeverityMajor))
	if !resp.Request.ReceivedAt.Equal(late) {
		t.Errorf("ReceivedAt %v, want the last applied time %v", resp.Request.ReceivedAt, late)
	}
	if !resp.Calls[0].QueuedAt.Equal(late) {
		t.Errorf("QueuedAt %v, want %v", resp.Calls[0].QueuedAt, late)
	}
}

func TestPreviewStoresNothing(t *testing.T) {
	h := newHarness(t)
	h.seed()
	cmd := intake("preview-1", model.StateFiring, model.SeverityCritical)
	cmd.Time = h.now
	before := snapshotBytes(t, h.fsm)

	resp, err := h.fsm.Preview(cmd)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if resp.Request.Outcome != model.OutcomeQueued || len(resp.Calls) != 2 || resp.Calls[0].ID != "preview-1-1" {
		t.Errorf("preview answer: outcome %s, calls %+v", resp.Request.Outcome, resp.Calls)
	}
	if after := snapshotBytes(t, h.fsm); string(after) != string(before) {
		t.Error("preview changed the state")
	}

	cmd.EndpointID = "nope"
	_, err = h.fsm.Preview(cmd)
	var ae *raftfsm.ApplyError
	if !errors.As(err, &ae) || ae.Code != raftfsm.CodeNotFound {
		t.Errorf("preview of unknown endpoint: %v, want not_found", err)
	}
}

func TestListQueries(t *testing.T) {
	h := newHarness(t)
	h.seed()
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "endpoint-2", OrgID: orgID, Name: "staging"}})
	var ids []string
	for i := range 6 {
		cmd := intake("r"+string(rune('a'+i)), model.StateFiring, model.SeverityMajor)
		if i%2 == 1 {
			cmd.EndpointID = "endpoint-2"
		}
		h.apply(cmd)
		ids = append(ids, cmd.RequestID)
		h.advance(2 * time.Minute) // past the cooldown
	}

	all, err := h.fsm.ListRequests(raftfsm.RequestQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0].ID != "rf" || all[5].ID != "ra" {
		t.Errorf("all requests: %v, want newest first rf..ra", requestIDs(all))
	}
	byEndpoint, _ := h.fsm.ListRequests(raftfsm.RequestQuery{EndpointID: "endpoint-2", Limit: 2})
	if got := requestIDs(byEndpoint); got != "rf,rd" {
		t.Errorf("endpoint-2 limit 2: %s, want rf,rd", got)
	}
	window, _ := h.fsm.ListRequests(raftfsm.RequestQuery{OrgID: orgID, Since: startTime.Add(2 * time.Minute), Until: startTime.Add(6 * time.Minute)})
	if got := requestIDs(window); got != "rc,rb" {
		t.Errorf("window: %s, want rc,rb", got)
	}
	if none, _ := h.fsm.ListRequests(raftfsm.RequestQuery{Outcome: model.OutcomeSuppressed}); len(none) != 0 {
		t.Errorf("suppressed requests: %v, want none", requestIDs(none))
	}

	newest, _ := h.fsm.ListCalls(raftfsm.CallQuery{Phone: alicePhone})
	if len(newest) != 6 || newest[0].RequestID != "rf" {
		t.Errorf("calls of alice: %d, first of %s; want 6, newest first", len(newest), newest[0].RequestID)
	}
	h.apply(&raftfsm.AssignAttempt{CallID: "rc-1", Attempt: 1, AgentID: agentA})
	queued, _ := h.fsm.ListCalls(raftfsm.CallQuery{Status: model.CallQueued})
	if got := callRequestIDs(queued); got != "ra,rb,rd,re,rf" {
		t.Errorf("queued calls: %s, want oldest first without rc", got)
	}
	byStatus, _ := h.fsm.ListCallsByStatus(model.CallAssigned)
	if len(byStatus) != 1 || byStatus[0].ID != "rc-1" {
		t.Errorf("assigned calls: %+v, want rc-1", byStatus)
	}
	ofRequest, _ := h.fsm.ListCalls(raftfsm.CallQuery{RequestID: "rb"})
	if len(ofRequest) != 1 || ofRequest[0].ID != "rb-1" {
		t.Errorf("calls of request rb: %+v", ofRequest)
	}
	ofEndpoint, _ := h.fsm.ListCalls(raftfsm.CallQuery{EndpointID: endpointID, Limit: 1})
	if len(ofEndpoint) != 1 || ofEndpoint[0].RequestID != "re" {
		t.Errorf("newest call of %s: %+v, want re's", endpointID, ofEndpoint)
	}
}

func requestIDs(reqs []model.Request) string {
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.ID
	}
	return strings.Join(ids, ",")
}

func callRequestIDs(calls []model.Call) string {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.RequestID
	}
	return strings.Join(ids, ",")
}

func TestDeleteEndpointCancelsQueuedCalls(t *testing.T) {
	h := newHarness(t)
	h.seed()
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "endpoint-2", OrgID: orgID, Name: "staging", ScenarioID: scenarioID}})
	fired := h.apply(intake("r1", model.StateFiring, model.SeverityCritical))
	if len(fired.Calls) != 2 {
		t.Fatalf("firing alert queued %d calls, want 2", len(fired.Calls))
	}
	h.apply(&raftfsm.AssignAttempt{CallID: fired.Calls[0].ID, Attempt: 1, AgentID: agentA})

	h.advance(time.Hour)
	other := intake("r2", model.StateFiring, model.SeverityMajor)
	other.EndpointID = "endpoint-2"
	otherCall := h.apply(other).Calls[0]

	h.advance(time.Second)
	resp := h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteEndpoint, ID: endpointID})
	if len(resp.Calls) != 1 || resp.Calls[0].ID != fired.Calls[1].ID {
		t.Errorf("delete response lists calls %+v, want only the queued call %s", resp.Calls, fired.Calls[1].ID)
	}

	cancelled, err := h.fsm.GetCall(fired.Calls[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != model.CallCancelled {
		t.Errorf("queued call after endpoint delete: status %s, want cancelled", cancelled.Status)
	}
	if !strings.Contains(cancelled.Reason, "endpoint "+endpointID+" was deleted") {
		t.Errorf("reason %q does not say the endpoint was deleted", cancelled.Reason)
	}
	if !cancelled.FinishedAt.Equal(h.now) {
		t.Errorf("FinishedAt %v, want %v", cancelled.FinishedAt, h.now)
	}
	assigned, _ := h.fsm.GetCall(fired.Calls[0].ID)
	if assigned.Status != model.CallAssigned {
		t.Errorf("assigned call after endpoint delete: status %s, want assigned", assigned.Status)
	}
	kept, _ := h.fsm.GetCall(otherCall.ID)
	if kept.Status != model.CallQueued {
		t.Errorf("call of another endpoint after delete: status %s, want queued", kept.Status)
	}
	queued, err := h.fsm.ListCallsByStatus(model.CallQueued)
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0].ID != otherCall.ID {
		t.Errorf("queue after delete: %+v, want only %s", queued, otherCall.ID)
	}
}
