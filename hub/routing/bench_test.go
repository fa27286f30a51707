package routing

import (
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/intake"
	"github.com/ringhook/ringhook/hub/model"
)

// alertmanagerBody is an Alertmanager webhook (version 4) grouping two
// firing alerts.
const alertmanagerBody = `{"receiver":"ringhook","status":"firing","alerts":[` +
	`{"status":"firing","labels":{"alertname":"HighLatency","env":"production","instance":"db-1:9100","job":"node","severity":"critical","team":"payments"},"annotations":{"summary":"p99 latency above 2s on db-1","runbook_url":"https://runbooks.example/latency"},"startsAt":"2025-06-02T10:00:00.032813093Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=latency","fingerprint":"8a07086b74f3ba78"},` +
	`{"status":"firing","labels":{"alertname":"HighLatency","env":"production","instance":"db-2:9100","job":"node","severity":"critical","team":"payments"},"annotations":{"summary":"p99 latency above 2s on db-2"},"startsAt":"2025-06-02T10:00:30Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=latency","fingerprint":"9b17086b74f3ba79"}],` +
	`"groupLabels":{"alertname":"HighLatency"},"commonLabels":{"alertname":"HighLatency","env":"production","job":"node","severity":"critical","team":"payments"},` +
	`"commonAnnotations":{},"externalURL":"http://alertmanager.example:9093","version":"4","groupKey":"{}:{alertname=\"HighLatency\"}","truncatedAlerts":0}` + "\n"

// benchScenario has the shape of a typical production scenario: a few rules
// that are tried before the one that matches, then a schedule.
func benchScenario() model.Scenario {
	return model.Scenario{
		Rules: []model.Rule{
			{Name: "staging is quiet", Conditions: []model.Condition{
				{Field: "commonLabels.env", Op: OpIn, Value: []any{"staging", "dev"}},
			}, Action: model.Action{Type: model.ActionNone}},
			{Name: "low severity", Conditions: []model.Condition{
				{Field: "severity", Op: OpLT, Value: "major"},
			}, Action: model.Action{Type: model.ActionNone}},
			{Name: "web team", Conditions: []model.Condition{
				{Field: "commonLabels.team", Op: OpIn, Value: []any{"web"}},
			}, Action: model.Action{Type: model.ActionCallProject, ProjectID: "web"}},
			{Name: "payments databases", Conditions: []model.Condition{
				{Field: "commonLabels.team", Op: OpIn, Value: []any{"payments"}},
				{Field: "alerts.*.labels.instance", Op: OpStartsWith, Value: "db-"},
				{Field: "message", Op: OpNotContains, Value: "test"},
				{Field: "alert_count", Op: OpGTE, Value: 1},
			}, Action: model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "ops"}},
		},
	}
}

func BenchmarkDecide(b *testing.B) {
	dir, ctr := newFixture()
	ctr.lastCall["+4915112345672"] = testNow.Add(-time.Hour)
	ctr.perDay["org1/2025-06-02"] = 3
	in := Input{
		Endpoint: model.Endpoint{ID: "ep1", OrgID: "org1"},
		Scenario: benchScenario(),
		Alert:    intake.Parse(intake.Request{Method: "POST", ContentType: "application/json", Body: []byte(alertmanagerBody)}),
		Now:      testNow,
	}
	if d := Decide(dir, ctr, in); d.RuleIndex != 3 || d.Outcome != model.OutcomeQueued {
		b.Fatalf("Decide = rule %d, outcome %q; want rule 3, queued", d.RuleIndex, d.Outcome)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(dir, ctr, in)
	}
}

func BenchmarkParseAndRoute(b *testing.B) {
	dir, ctr := newFixture()
	scenario := benchScenario()
	req := intake.Request{Method: "POST", ContentType: "application/json", Body: []byte(alertmanagerBody)}
	b.SetBytes(int64(len(alertmanagerBody)))
	b.ReportAllocs()
	for b.Loop() {
		alert := intake.Parse(req)
		Decide(dir, ctr, Input{Endpoint: model.Endpoint{ID: "ep1", OrgID: "org1"}, Scenario: scenario, Alert: alert, Now: testNow})
	}
}
