package routing

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
)

// testAlert is an Alertmanager-like alert whose fields are decoded the way
// the intake engine decodes them, with json.Number for numbers.
func testAlert(t testing.TB) model.Alert {
	t.Helper()
	body := `{
		"status": "firing",
		"receiver": "ops",
		"groupKey": "{}:{alertname=\"HighLatency\"}",
		"count": 7,
		"ratio": "0.75",
		"code": "503",
		"ok": true,
		"nothing": null,
		"tags": ["db", "Prod", 42],
		"commonLabels": {"env": "Production", "team": "payments", "app.kubernetes.io/name": "checkout"},
		"Mixed": "upper key",
		"alerts": [
			{"labels": {"severity": "warning", "instance": "db-1:9100"}, "value": 12.5},
			{"labels": {"severity": "critical", "instance": "db-2:9100"}, "value": "99"}
		],
		"severity": "P1"
	}`
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("decoding test alert: %v", err)
	}
	return model.Alert{
		Format:     model.FormatJSON,
		Tool:       "alertmanager",
		Fields:     fields,
		AlertCount: 2,
		State:      model.StateFiring,
		Severity:   model.SeverityCritical,
		Message:    "High latency on checkout",
	}
}

func TestConditionOperators(t *testing.T) {
	a := testAlert(t)
	cases := []struct {
		name  string
		field string
		op    string
		value any
		want  bool
	}{
		// in / nin
		{"in normalized severity", "severity", OpIn, []any{"critical", "major"}, true},
		{"in ignores case", "severity", OpIn, []any{"CRITICAL"}, true},
		{"in no element", "severity", OpIn, []any{"minor"}, false},
		{"in single value", "state", OpIn, "firing", true},
		{"in payload severity via prefix", "fields.severity", OpIn, []any{"p1"}, true},
		{"in number field vs string", "count", OpIn, []any{"7"}, true},
		{"in number field vs float", "count", OpIn, []any{7.0}, true},
		{"in numeric string vs number", "code", OpIn, []any{503.0}, true},
		{"in bool field", "ok", OpIn, []any{true}, true},
		{"in bool field vs text", "ok", OpIn, []any{"TRUE"}, true},
		{"in object field is wrong type", "commonLabels", OpIn, []any{"x"}, false},
		{"in list field is wrong type", "tags", OpIn, []any{"db"}, false},
		{"in missing field", "absent", OpIn, []any{"x"}, false},
		{"in null field", "nothing", OpIn, []any{"null"}, false},
		{"nin no element", "severity", OpNotIn, []any{"minor", "info"}, true},
		{"nin element", "severity", OpNotIn, []any{"critical"}, false},
		{"nin missing field matches", "absent", OpNotIn, []any{"x"}, true},
		{"nin null field matches", "nothing", OpNotIn, []any{"x"}, true},
		{"nin object field is wrong type", "commonLabels", OpNotIn, []any{"x"}, false},
		{"nin bad value", "severity", OpNotIn, []any{map[string]any{}}, false},

		// contains / not_contains
		{"contains substring", "message", OpContains, "latency", true},
		{"contains ignores case", "commonLabels.env", OpContains, "PROD", true},
		{"contains absent substring", "message", OpContains, "disk", false},
		{"contains list element", "tags", OpContains, "prod", true},
		{"contains list number element", "tags", OpContains, 42.0, true},
		{"contains list no element", "tags", OpContains, "web", false},
		{"contains number text", "code", OpContains, "50", true},
		{"contains json number text", "count", OpContains, "7", true},
		{"contains bool is wrong type", "ok", OpContains, "tru", false},
		{"contains object is wrong type", "commonLabels", OpContains, "env", false},
		{"contains missing field", "absent", OpContains, "x", false},
		{"not_contains absent substring", "message", OpNotContains, "disk", true},
		{"not_contains substring", "message", OpNotContains, "LATENCY", false},
		{"not_contains list element", "tags", OpNotContains, "db", false},
		{"not_contains missing field matches", "absent", OpNotContains, "x", true},
		{"not_contains bool is wrong type", "ok", OpNotContains, "x", false},
		{"not_contains object is wrong type", "commonLabels", OpNotContains, "x", false},

		// starts_with / ends_with
		{"starts_with", "alerts.0.labels.instance", OpStartsWith, "DB-1", true},
		{"starts_with no", "alerts.0.labels.instance", OpStartsWith, "web", false},
		{"starts_with number text", "code", OpStartsWith, "5", true},
		{"starts_with numeric value", "code", OpStartsWith, 50.0, true},
		{"ends_with", "commonLabels.team", OpEndsWith, "MENTS", true},
		{"ends_with no", "commonLabels.team", OpEndsWith, "x", false},
		{"ends_with bool is wrong type", "ok", OpEndsWith, "e", false},
		{"ends_with list is wrong type", "tags", OpEndsWith, "b", false},
		{"ends_with missing field", "absent", OpEndsWith, "x", false},

		// exists / not_exists
		{"exists", "receiver", OpExists, nil, true},
		{"exists nested", "commonLabels.env", OpExists, nil, true},
		{"exists missing", "commonLabels.region", OpExists, nil, false},
		{"exists null", "nothing", OpExists, nil, false},
		{"not_exists missing", "commonLabels.region", OpNotExists, nil, true},
		{"not_exists present", "receiver", OpNotExists, nil, false},
		{"not_exists null", "nothing", OpNotExists, nil, true},

		// gt / gte / lt / lte
		{"gt json number", "count", OpGT, 5.0, true},
		{"gt equal", "count", OpGT, 7.0, false},
		{"gte equal", "count", OpGTE, 7.0, true},
		{"lt", "count", OpLT, 10.0, true},
		{"lte no", "count", OpLTE, 6.0, false},
		{"gt numeric string field", "ratio", OpGT, 0.5, true},
		{"lt numeric string value", "ratio", OpLT, "1", true},
		{"gte json number value", "code", OpGTE, json.Number("500"), true},
		{"gt int value", "code", OpGT, 502, true},
		{"gt text field is wrong type", "receiver", OpGT, 1.0, false},
		{"gt bool field is wrong type", "ok", OpGT, 0.0, false},
		{"gt object field is wrong type", "commonLabels", OpGT, 0.0, false},
		{"gt missing field", "absent", OpGT, 0.0, false},
		{"gt non-numeric value", "count", OpGT, "many", false},
		{"lt alert_count", "alert_count", OpLT, 3.0, true},
		{"severity gte major", "severity", OpGTE, "major", true},
		{"severity gt critical", "severity", OpGT, "critical", false},
		{"severity lt name ignores case", "severity", OpLT, "MAJOR", false},
		{"severity gt unknown name", "severity", OpGT, "high", false},

		// paths
		{"array index", "alerts.1.labels.severity", OpIn, []any{"critical"}, true},
		{"array index out of range", "alerts.2.labels.severity", OpExists, nil, false},
		{"array index not a number", "alerts.first.labels", OpExists, nil, false},
		{"wildcard any element", "alerts.*.labels.severity", OpIn, []any{"critical"}, true},
		{"wildcard none", "alerts.*.labels.severity", OpIn, []any{"info"}, false},
		{"wildcard nin all must pass", "alerts.*.labels.severity", OpNotIn, []any{"warning"}, false},
		{"wildcard nin passes", "alerts.*.labels.severity", OpNotIn, []any{"info"}, true},
		{"wildcard mixed numbers", "alerts.*.value", OpGT, 50.0, true},
		{"wildcard object values", "commonLabels.*", OpIn, []any{"payments"}, true},
		{"dotted key", "commonLabels.app.kubernetes.io/name", OpIn, []any{"checkout"}, true},
		{"key ignores case", "commonlabels.ENV", OpIn, []any{"production"}, true},
		{"exact key wins", "Mixed", OpIn, []any{"upper key"}, true},
		{"path through scalar", "receiver.name", OpExists, nil, false},
		{"tool", "tool", OpIn, []any{"alertmanager"}, true},
		{"reserved name ignores case", "SEVERITY", OpIn, []any{"critical"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond := model.Condition{Field: c.field, Op: c.op, Value: c.value}
			if got := conditionMatches(cond, a); got != c.want {
				t.Errorf("%s %s %v = %v, want %v", c.field, c.op, c.value, got, c.want)
			}
		})
	}
}

func TestMissingSeverity(t *testing.T) {
	a := testAlert(t)
	a.Severity = ""
	cases := []struct {
		op    string
		value any
		want  bool
	}{
		{OpExists, nil, false},
		{OpNotExists, nil, true},
		{OpIn, []any{"critical"}, false},
		{OpNotIn, []any{"critical"}, true},
		{OpGTE, "info", false},
		{OpLT, "critical", false},
	}
	for _, c := range cases {
		cond := model.Condition{Field: "severity", Op: c.op, Value: c.value}
		if got := conditionMatches(cond, a); got != c.want {
			t.Errorf("absent severity %s %v = %v, want %v", c.op, c.value, got, c.want)
		}
	}
}

func TestConditionNeverPanics(t *testing.T) {
	odd := model.Alert{Fields: map[string]any{
		"m":  map[string]string{"k": "v"},
		"s":  []string{"a", "b"},
		"f":  float32(1.5),
		"u":  uint8(3),
		"n":  json.Number("not-a-number"),
		"nn": []any{nil, []any{}, map[string]any{}},
	}}
	fields := []string{"", ".", "..", "m", "m.k", "m.*", "s", "s.1", "s.*", "s.x.y", "f", "u", "n", "nn.*", "nn.0.x", "fields.", "*", "*.*"}
	values := []any{nil, "", "x", 1.0, true, []any{}, []any{nil}, map[string]any{}, json.Number("1e999"), []string{"a"}}
	for _, f := range fields {
		for _, op := range append(Operators, "", "eq") {
			for _, v := range values {
				conditionMatches(model.Condition{Field: f, Op: op, Value: v}, odd)
			}
		}
	}
	if !conditionMatches(model.Condition{Field: "m.k", Op: OpIn, Value: []any{"V"}}, odd) {
		t.Error("string map value not found")
	}
	if !conditionMatches(model.Condition{Field: "s.1", Op: OpIn, Value: []any{"b"}}, odd) {
		t.Error("string list element not found")
	}
	if !conditionMatches(model.Condition{Field: "f", Op: OpGT, Value: 1}, odd) {
		t.Error("float32 field not compared as a number")
	}
	if conditionMatches(model.Condition{Field: "n", Op: OpGT, Value: 0}, odd) {
		t.Error("malformed json.Number compared as a number")
	}
}

func TestParseDecimal(t *testing.T) {
	good := map[string]float64{"42": 42, " -1.5 ": -1.5, "2e3": 2000, "+7": 7, ".5": 0.5}
	for in, want := range good {
		got, ok := parseDecimal(in)
		if !ok || got != want {
			t.Errorf("parseDecimal(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "NaN", "Inf", "-inf", "0x10", "1_000", "1e999", "e", "-", "12abc", "1.2.3"} {
		if got, ok := parseDecimal(in); ok {
			t.Errorf("parseDecimal(%q) = %v, want not a number", in, got)
		}
	}
}

func TestMatchOrderAndDefault(t *testing.T) {
	a := testAlert(t)
	s := model.Scenario{
		Rules: []model.Rule{
			{Name: "staging", Conditions: []model.Condition{{Field: "commonLabels.env", Op: OpIn, Value: []any{"staging"}}}, Action: model.Action{Type: model.ActionNone}},
			{Name: "payments critical", Conditions: []model.Condition{
				{Field: "severity", Op: OpIn, Value: []any{"critical"}},
				{Field: "commonLabels.team", Op: OpIn, Value: []any{"payments"}},
			}, Action: model.Action{Type: model.ActionCallProject, ProjectID: "p1"}},
			{Name: "everything", Action: model.Action{Type: model.ActionCallAll}},
		},
		Default: model.Action{Type: model.ActionCallMember, MemberID: "m9"},
	}

	i, name, action := Match(s, a)
	if i != 1 || name != "payments critical" || action.Type != model.ActionCallProject || action.ProjectID != "p1" {
		t.Errorf("Match = %d %q %+v, want rule 1 payments critical", i, name, action)
	}

	a.Severity = model.SeverityMinor
	i, name, action = Match(s, a)
	if i != 2 || name != "everything" || action.Type != model.ActionCallAll {
		t.Errorf("Match with minor severity = %d %q %+v, want catch-all rule 2", i, name, action)
	}

	s.Rules = s.Rules[:2]
	i, name, action = Match(s, a)
	if i != -1 || name != "" || action.Type != model.ActionCallMember || action.MemberID != "m9" {
		t.Errorf("Match without a matching rule = %d %q %+v, want the default", i, name, action)
	}

	s.Default = model.Action{}
	if _, _, action = Match(s, a); action.Type != model.ActionCallPrimary {
		t.Errorf("empty default action type = %q, want call_primary", action.Type)
	}
}
