//go:build e2e

package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/harness"
	"github.com/ringhook/ringhook/integration/pbxsim"
	"github.com/ringhook/ringhook/integration/shareddata"
	"github.com/ringhook/ringhook/protocol"
)

// payloadWebhook converts a recorded webhook into the request the harness
// sends.
func payloadWebhook(p shareddata.Payload) harness.Webhook {
	return harness.Webhook{Method: p.Request.Method, ContentType: p.ContentType(), Query: p.Request.Query, Body: []byte(p.Request.Body)}
}

// testPayloads sends every recorded webhook to its own endpoint (so that a
// resolved one cancels nothing of the others) of a scenario that routes
// each severity to a different member, whose number the PBXs answer, reject
// as busy or let ring.
func testPayloads(t *testing.T, e *env) {
	admin := e.admin()
	o := createOrg(t, admin, "payloads", brakesOff)
	critical := o.addMember(t, admin, "critical-responder", "+12025550111")
	major := o.addMember(t, admin, "major-responder", "+12025550112")
	minor := o.addMember(t, admin, "minor-responder", "+12025550113")
	fallback := o.addMember(t, admin, "fallback-responder", "+12025550114")

	e.setBehavior(t, critical.Phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: 300 * time.Millisecond})
	e.setBehavior(t, major.Phone, pbxsim.Behavior{Kind: pbxsim.KindBusy})
	e.setBehavior(t, minor.Phone, pbxsim.Behavior{Kind: pbxsim.KindDecline})
	e.setBehavior(t, fallback.Phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer})

	rules := []model.Rule{
		severityRule("critical pages the critical responder", model.SeverityCritical, critical),
		severityRule("major pages the major responder", model.SeverityMajor, major),
		severityRule("minor pages the minor responder", model.SeverityMinor, minor),
	}
	scenario := o.addScenario(t, admin, "by severity", rules, callMember(fallback))

	// Per severity: the rule index that must match, the member it calls and
	// the disposition that member's number produces.
	type route struct {
		rule        int
		member      model.Member
		disposition string
	}
	routes := map[string]route{
		model.SeverityCritical: {0, critical, model.DispositionAnswered},
		model.SeverityMajor:    {1, major, model.DispositionBusy},
		model.SeverityMinor:    {2, minor, model.DispositionBusy},
	}
	routeOf := func(severity string) route {
		if r, ok := routes[severity]; ok {
			return r
		}
		return route{-1, fallback, model.DispositionNoAnswer}
	}

	type sent struct {
		c      shareddata.Payload
		callID string
		want   route
	}
	var calls []sent
	hubs := e.cluster.Hubs
	for i, c := range shareddata.Payloads(t) {
		endpointID := o.addEndpoint(t, e, c.Name, scenario.ID, "")
		hub := hubs[i%len(hubs)]
		d := harness.MustSendWebhook(t, hub.URL, endpointID, payloadWebhook(c))

		if d.State != c.Expected.State {
			t.Errorf("%s: answer state = %q, want %q", c.Name, d.State, c.Expected.State)
		}
		gotSeverity := ""
		if d.Severity != nil {
			gotSeverity = *d.Severity
		}
		if gotSeverity != c.ExpectedSeverity() {
			t.Errorf("%s: answer severity = %q, want %q", c.Name, gotSeverity, c.ExpectedSeverity())
		}

		// The node that answered may apply the entry a moment after the
		// leader committed it.
		stored := harness.WaitForRequest(t, hub.Admin, d.RequestID, 20*time.Second)
		if stored.State != c.Expected.State || stored.Severity != c.ExpectedSeverity() {
			t.Errorf("%s: stored state %q severity %q, want %q and %q", c.Name, stored.State, stored.Severity, c.Expected.State, c.ExpectedSeverity())
		}
		if stored.EndpointID != endpointID || stored.Method != payloadWebhook(c).Method {
			t.Errorf("%s: stored endpoint %q method %q, want %q and %q", c.Name, stored.EndpointID, stored.Method, endpointID, payloadWebhook(c).Method)
		}

		if c.Expected.State == model.StateResolved {
			if d.Outcome != model.OutcomeResolved || len(d.Phones) != 0 {
				t.Errorf("%s: resolved answer has outcome %q and %d phones, want resolved and none", c.Name, d.Outcome, len(d.Phones))
			}
			if stored.Outcome != model.OutcomeResolved {
				t.Errorf("%s: stored outcome = %q, want resolved", c.Name, stored.Outcome)
			}
			continue
		}

		want := routeOf(c.ExpectedSeverity())
		if d.Rule.Index != want.rule || stored.RuleIndex != want.rule {
			t.Errorf("%s: matched rule %d (%q), stored %d, want %d", c.Name, d.Rule.Index, d.Rule.Name, stored.RuleIndex, want.rule)
		}
		if want.rule >= 0 && (d.Rule.Name != rules[want.rule].Name || stored.RuleName != rules[want.rule].Name) {
			t.Errorf("%s: rule name %q, stored %q, want %q", c.Name, d.Rule.Name, stored.RuleName, rules[want.rule].Name)
		}
		if d.Outcome != model.OutcomeQueued || stored.Outcome != model.OutcomeQueued {
			t.Errorf("%s: outcome %q, stored %q, want queued", c.Name, d.Outcome, stored.Outcome)
		}
		if len(stored.Phones) != 1 || stored.Phones[0].MemberID != want.member.ID || !stored.Phones[0].Queued {
			t.Errorf("%s: stored phones %+v, want one queued call to member %s", c.Name, stored.Phones, want.member.Name)
			continue
		}
		calls = append(calls, sent{c: c, callID: stored.Phones[0].CallID, want: want})
	}
	if len(calls) == 0 {
		t.Fatal("no payload queued a call")
	}

	for _, s := range calls {
		call := harness.WaitForCall(t, admin, s.callID, callDeadline)
		if call.Phone != s.want.member.Phone {
			t.Errorf("%s: call %s rang member %s, want %s", s.c.Name, call.ID, call.MemberID, s.want.member.Name)
		}
		if call.Status != model.CallFinished || call.Disposition != s.want.disposition {
			t.Errorf("%s: call %s ended %s/%s (%s), want finished/%s", s.c.Name, call.ID, call.Status, call.Disposition, call.Reason, s.want.disposition)
		}
		if len(call.Attempts) == 0 || call.Attempts[0].AgentID == "" {
			t.Errorf("%s: call %s has attempts %+v, want at least one with its agent", s.c.Name, call.ID, call.Attempts)
		}
	}
}

// testTrunkFailover makes PBX a reject one number with 503 while the others
// answer it. Dispatch goes round-robin over the agents, so webhooks are
// sent until one call's first attempt lands on agent a.
func testTrunkFailover(t *testing.T, e *env) {
	admin := e.admin()
	o := createOrg(t, admin, "trunk failover", brakesOff)
	m := o.addMember(t, admin, "on-call", "+12125550121")
	scenario := o.addScenario(t, admin, "call the on-call", nil, callMember(m))
	endpointID := o.addEndpoint(t, e, "failover", scenario.ID, "")

	failing := e.agents[0]
	failing.PBX.SetBehavior(t, m.Phone, pbxsim.Behavior{Kind: pbxsim.KindTrunk503})
	for _, a := range e.agents[1:] {
		a.PBX.SetBehavior(t, m.Phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: 200 * time.Millisecond})
	}

	var call model.Call
	for try := 1; ; try++ {
		d := harness.MustSendWebhook(t, e.cluster.AnyUp().URL, endpointID, harness.Webhook{
			ContentType: "application/json",
			Body:        []byte(`{"status":"firing","severity":"critical","message":"database down"}`),
		})
		if len(d.Phones) != 1 || !d.Phones[0].Queued {
			t.Fatalf("webhook %d: phones %+v, want one queued call", try, d.Phones)
		}
		call = harness.WaitForCall(t, admin, d.Phones[0].CallID, callDeadline)
		if len(call.Attempts) > 0 && call.Attempts[0].AgentID == failing.ID {
			break
		}
		// The call went straight to a PBX that answers.
		if call.Disposition != model.DispositionAnswered || len(call.Attempts) != 1 {
			t.Fatalf("call %s first tried on another agent ended %s after %d attempts, want answered after 1", call.ID, call.Disposition, len(call.Attempts))
		}
		if try == 6 {
			t.Fatalf("after %d webhooks no call's first attempt went to agent %s", try, failing.Name)
		}
	}

	if call.Status != model.CallFinished || call.Disposition != model.DispositionAnswered {
		t.Errorf("call %s ended %s/%s (%s), want finished/answered", call.ID, call.Status, call.Disposition, call.Reason)
	}
	if len(call.Attempts) != 2 {
		t.Fatalf("call %s has %d attempts, want 2: %+v", call.ID, len(call.Attempts), call.Attempts)
	}
	first, second := call.Attempts[0], call.Attempts[1]
	if first.Number != 1 || first.AgentID != failing.ID || first.Trunk != failing.Trunk {
		t.Errorf("attempt 1: number %d agent %s trunk %q, want 1, %s, %q", first.Number, first.AgentID, first.Trunk, failing.ID, failing.Trunk)
	}
	if first.Cause != 34 || !first.Retryable || first.Disposition != model.DispositionFailed {
		t.Errorf("attempt 1: cause %d (%s) retryable %v disposition %q, want cause 34, retryable, failed", first.Cause, first.CauseText, first.Retryable, first.Disposition)
	}
	retryAgent := e.agentByID(second.AgentID)
	if second.Number != 2 || retryAgent == nil || retryAgent == failing || second.Trunk != retryAgent.Trunk {
		t.Errorf("attempt 2: number %d agent %s trunk %q, want 2 on another agent with its own trunk", second.Number, second.AgentID, second.Trunk)
	}
	if second.Cause != 16 || second.Disposition != model.DispositionAnswered {
		t.Errorf("attempt 2: cause %d (%s) disposition %q, want cause 16, answered", second.Cause, second.CauseText, second.Disposition)
	}
	for _, a := range call.Attempts {
		if !json.Valid(a.Raw) {
			t.Errorf("attempt %d: raw ARI data is not JSON: %q", a.Number, a.Raw)
			continue
		}
		channelID := protocol.ChannelID(call.ID, a.Number)
		if !strings.Contains(string(a.Raw), channelID) {
			t.Errorf("attempt %d: raw ARI data does not mention channel %s: %.300s", a.Number, channelID, a.Raw)
		}
	}

	// The PBXs saw the same two originations.
	if !originated(t, failing.PBX, call.ID, 1) {
		t.Errorf("PBX %s has no origination of attempt 1 of call %s", failing.PBX.Name, call.ID)
	}
	if retryAgent != nil && !originated(t, retryAgent.PBX, call.ID, 2) {
		t.Errorf("PBX %s has no origination of attempt 2 of call %s", retryAgent.PBX.Name, call.ID)
	}
}

// originated reports whether the PBX received the originate request of
// one attempt.
func originated(t *testing.T, pbx *harness.PBX, callID string, attempt int) bool {
	t.Helper()
	channelID := protocol.ChannelID(callID, attempt)
	for _, o := range pbx.Originations(t) {
		if o.ChannelID == channelID {
			return true
		}
	}
	return false
}

// testBrakes checks the daily cap, the phone cooldown and the suppression
// after an answered call, each with the reason stored for the phone.
func testBrakes(t *testing.T, e *env) {
	admin := e.admin()
	ctx := context.Background()
	firing := harness.Webhook{ContentType: "application/json", Body: []byte(`{"status":"firing","message":"disk full"}`)}

	t.Run("DailyCap", func(t *testing.T) {
		o := createOrg(t, admin, "daily cap", model.Brakes{
			DailyCallCap:        2,
			PhoneCooldown:       model.Duration(time.Nanosecond),
			EndpointSuppression: model.Duration(time.Nanosecond),
		})
		phones := []string{"+13125550131", "+13125550132", "+13125550133"}
		for i, p := range phones {
			o.addMember(t, admin, "member"+string(rune('1'+i)), p)
			e.setBehavior(t, p, pbxsim.Behavior{Kind: pbxsim.KindBusy})
		}
		scenario := o.addScenario(t, admin, "call everyone", nil, model.Action{Type: model.ActionCallAll})
		endpointID := o.addEndpoint(t, e, "cap", scenario.ID, "")

		d := harness.MustSendWebhook(t, e.cluster.Hubs[0].URL, endpointID, firing)
		if d.Outcome != model.OutcomeQueued {
			t.Errorf("first webhook outcome = %q, want queued", d.Outcome)
		}
		first, err := harness.GetRequest(ctx, admin, d.RequestID)
		if err != nil {
			t.Fatalf("get request %s: %v", d.RequestID, err)
		}
		queued, capped := 0, 0
		for _, p := range first.Phones {
			switch {
			case p.Queued && p.Reason == model.ReasonQueued:
				queued++
			case !p.Queued && p.Reason == model.ReasonDailyCap && p.CallID == "":
				capped++
			default:
				t.Errorf("first webhook phone %+v, want queued or daily_cap", p)
			}
		}
		if queued != 2 || capped != 1 {
			t.Errorf("first webhook: %d queued and %d capped, want 2 and 1", queued, capped)
		}

		d = harness.MustSendWebhook(t, e.cluster.Hubs[1].URL, endpointID, firing)
		if d.Outcome != model.OutcomeNoCall {
			t.Errorf("second webhook outcome = %q, want no_call", d.Outcome)
		}
		second, err := harness.GetRequest(ctx, admin, d.RequestID)
		if err != nil {
			t.Fatalf("get request %s: %v", d.RequestID, err)
		}
		if len(second.Phones) != len(phones) {
			t.Fatalf("second webhook stored %d phones, want %d", len(second.Phones), len(phones))
		}
		for _, p := range second.Phones {
			if p.Queued || p.Reason != model.ReasonDailyCap || !strings.Contains(p.Detail, "2") {
				t.Errorf("second webhook phone %+v, want held back by the daily cap of 2", p)
			}
		}
		calls := listCalls(t, admin, map[string][]string{"org_id": {o.ID}})
		if len(calls) != 2 {
			t.Errorf("organization has %d calls, want the 2 the cap allows", len(calls))
		}
	})

	t.Run("Cooldown", func(t *testing.T) {
		o := createOrg(t, admin, "cooldown", model.Brakes{
			PhoneCooldown:       model.Duration(time.Hour),
			EndpointSuppression: model.Duration(time.Nanosecond),
		})
		m := o.addMember(t, admin, "on-call", "+13125550141")
		e.setBehavior(t, m.Phone, pbxsim.Behavior{Kind: pbxsim.KindBusy})
		scenario := o.addScenario(t, admin, "call the on-call", nil, callMember(m))
		endpointID := o.addEndpoint(t, e, "cooldown", scenario.ID, "")

		d := harness.MustSendWebhook(t, e.cluster.Hubs[2].URL, endpointID, firing)
		if d.Outcome != model.OutcomeQueued {
			t.Fatalf("first webhook outcome = %q, want queued", d.Outcome)
		}
		d = harness.MustSendWebhook(t, e.cluster.Hubs[0].URL, endpointID, firing)
		if d.Outcome != model.OutcomeNoCall {
			t.Errorf("second webhook outcome = %q, want no_call", d.Outcome)
		}
		stored, err := harness.GetRequest(ctx, admin, d.RequestID)
		if err != nil {
			t.Fatalf("get request %s: %v", d.RequestID, err)
		}
		if len(stored.Phones) != 1 || stored.Phones[0].Queued || stored.Phones[0].Reason != model.ReasonCooldown {
			t.Fatalf("second webhook phones %+v, want one held back by the cooldown", stored.Phones)
		}
		if !strings.Contains(stored.Phones[0].Detail, "1h0m0s") {
			t.Errorf("cooldown detail %q does not name the cooldown of 1h0m0s", stored.Phones[0].Detail)
		}
	})

	t.Run("SuppressedAfterAnswer", func(t *testing.T) {
		o := createOrg(t, admin, "suppression", model.Brakes{
			PhoneCooldown:       model.Duration(time.Nanosecond),
			EndpointSuppression: model.Duration(time.Hour),
		})
		m := o.addMember(t, admin, "on-call", "+13125550151")
		e.setBehavior(t, m.Phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: 200 * time.Millisecond})
		scenario := o.addScenario(t, admin, "call the on-call", nil, callMember(m))
		endpointID := o.addEndpoint(t, e, "suppression", scenario.ID, "")

		d := harness.MustSendWebhook(t, e.cluster.Hubs[1].URL, endpointID, firing)
		if len(d.Phones) != 1 || !d.Phones[0].Queued {
			t.Fatalf("first webhook phones %+v, want one queued call", d.Phones)
		}
		call := harness.WaitForCall(t, admin, d.Phones[0].CallID, callDeadline)
		if call.Disposition != model.DispositionAnswered {
			t.Fatalf("call %s ended %s (%s), want answered", call.ID, call.Disposition, call.Reason)
		}

		answer, err := harness.SendWebhook(ctx, e.cluster.Hubs[2].URL, endpointID, firing)
		if err != nil {
			t.Fatalf("send repeated webhook: %v", err)
		}
		if answer.Status != http.StatusAccepted {
			t.Fatalf("repeated webhook returned %d, want 202: %s", answer.Status, answer.Body)
		}
		d, err = answer.Decision()
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != model.OutcomeSuppressed || len(d.Phones) != 1 || d.Phones[0].Reason != model.ReasonSuppressed {
			t.Errorf("repeated webhook outcome %q phones %+v, want suppressed", d.Outcome, d.Phones)
		}
		stored, err := harness.GetRequest(ctx, admin, d.RequestID)
		if err != nil {
			t.Fatalf("get request %s: %v", d.RequestID, err)
		}
		if stored.Outcome != model.OutcomeSuppressed || len(stored.Phones) != 1 || stored.Phones[0].Reason != model.ReasonSuppressed || stored.Phones[0].Queued {
			t.Errorf("stored request outcome %q phones %+v, want suppressed", stored.Outcome, stored.Phones)
		}
	})
}
