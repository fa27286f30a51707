package routing

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
)

func TestValidateScenarioAcceptsValid(t *testing.T) {
	s := model.Scenario{
		Rules: []model.Rule{
			{Name: "all operators", Conditions: []model.Condition{
				{Field: "severity", Op: OpIn, Value: []any{"critical", "major"}},
				{Field: "severity", Op: OpGTE, Value: "major"},
				{Field: "commonLabels.env", Op: OpNotIn, Value: "staging"},
				{Field: "message", Op: OpContains, Value: "disk"},
				{Field: "message", Op: OpNotContains, Value: "test"},
				{Field: "alerts.0.labels.instance", Op: OpStartsWith, Value: "db-"},
				{Field: "alerts.*.labels.instance", Op: OpEndsWith, Value: ":9100"},
				{Field: "runbook", Op: OpExists},
				{Field: "silenced", Op: OpNotExists},
				{Field: "value", Op: OpGT, Value: 90.0},
				{Field: "value", Op: OpLTE, Value: "100"},
				{Field: "count", Op: OpLT, Value: 3},
			}, Action: model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "s1"}},
			{Name: "catch-all", Action: model.Action{Type: model.ActionNone}},
		},
		OnResolved: model.ResolvedRoute,
	}
	if err := ValidateScenario(s); err != nil {
		t.Fatalf("valid scenario rejected: %v", err)
	}
	if err := ValidateScenario(model.Scenario{}); err != nil {
		t.Fatalf("empty scenario rejected: %v", err)
	}
}

func TestValidateScenarioRejects(t *testing.T) {
	rule := func(c model.Condition) model.Scenario {
		return model.Scenario{Rules: []model.Rule{
			{Name: "first", Action: model.Action{Type: model.ActionNone}},
			{Name: "db alerts", Conditions: []model.Condition{{Field: "severity", Op: OpExists}, c}},
		}}
	}
	action := func(a model.Action) model.Scenario {
		return model.Scenario{Rules: []model.Rule{{Name: "db alerts", Action: a}}}
	}
	const where = `rule 1 "db alerts": condition 1`
	cases := []struct {
		name string
		s    model.Scenario
		want []string // parts of the message
	}{
		{"unknown operator", rule(model.Condition{Field: "x", Op: "eq", Value: "a"}), []string{where, `operator "eq" is unknown`}},
		{"upper-case operator", rule(model.Condition{Field: "x", Op: "IN", Value: []any{"a"}}), []string{where, `"IN" is unknown`}},
		{"missing operator", rule(model.Condition{Field: "x", Value: "a"}), []string{where, "op is missing"}},
		{"missing field", rule(model.Condition{Op: OpExists}), []string{where, "field is missing"}},
		{"empty path segment", rule(model.Condition{Field: "labels..env", Op: OpExists}), []string{where, "empty path segment"}},
		{"trailing dot", rule(model.Condition{Field: "labels.", Op: OpExists}), []string{where, "empty path segment"}},
		{"bare fields prefix", rule(model.Condition{Field: "fields", Op: OpExists}), []string{where, "names no value"}},
		{"too long field", rule(model.Condition{Field: strings.Repeat("a", MaxFieldLength+1), Op: OpExists}), []string{where, "maximum"}},
		{"in missing value", rule(model.Condition{Field: "x", Op: OpIn}), []string{where, "value is missing"}},
		{"in empty list", rule(model.Condition{Field: "x", Op: OpIn, Value: []any{}}), []string{where, "wrong type"}},
		{"in object value", rule(model.Condition{Field: "x", Op: OpIn, Value: map[string]any{"a": 1}}), []string{where, "wrong type"}},
		{"nin nested list", rule(model.Condition{Field: "x", Op: OpNotIn, Value: []any{[]any{"a"}}}), []string{where, "wrong type"}},
		{"contains missing value", rule(model.Condition{Field: "x", Op: OpContains}), []string{where, "value is missing"}},
		{"contains list value", rule(model.Condition{Field: "x", Op: OpNotContains, Value: []any{"a"}}), []string{where, "wrong type"}},
		{"starts_with empty value", rule(model.Condition{Field: "x", Op: OpStartsWith, Value: ""}), []string{where, "value is empty"}},
		{"ends_with object value", rule(model.Condition{Field: "x", Op: OpEndsWith, Value: map[string]any{}}), []string{where, "wrong type"}},
		{"exists with value", rule(model.Condition{Field: "x", Op: OpExists, Value: true}), []string{where, "takes no value"}},
		{"not_exists with value", rule(model.Condition{Field: "x", Op: OpNotExists, Value: "a"}), []string{where, "takes no value"}},
		{"gt missing value", rule(model.Condition{Field: "x", Op: OpGT}), []string{where, "value is missing"}},
		{"gt text value", rule(model.Condition{Field: "x", Op: OpGT, Value: "high"}), []string{where, "needs a number"}},
		{"lte bool value", rule(model.Condition{Field: "x", Op: OpLTE, Value: true}), []string{where, "needs a number"}},
		{"severity gte unknown name", rule(model.Condition{Field: "severity", Op: OpGTE, Value: "high"}), []string{where, "not a severity"}},
		{"severity gt number", rule(model.Condition{Field: "severity", Op: OpGT, Value: 2.0}), []string{where, "not a severity"}},
		{"unknown action", action(model.Action{Type: "page"}), []string{`rule 0 "db alerts": action`, `action type "page" is unknown`}},
		{"schedule without id", action(model.Action{Type: model.ActionCallOnSchedule}), []string{`rule 0 "db alerts"`, "schedule_id"}},
		{"project without id", action(model.Action{Type: model.ActionCallProject}), []string{`rule 0 "db alerts"`, "project_id"}},
		{"member without id", action(model.Action{Type: model.ActionCallMember}), []string{`rule 0 "db alerts"`, "member_id"}},
		{"bad default", model.Scenario{Default: model.Action{Type: "sms"}}, []string{"default action", `"sms" is unknown`}},
		{"bad on_resolved", model.Scenario{OnResolved: "ignore"}, []string{`on_resolved "ignore" is unknown`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateScenario(c.s)
			if err == nil {
				t.Fatal("invalid scenario accepted")
			}
			if !errors.Is(err, ErrInvalidScenario) {
				t.Errorf("error %v does not wrap ErrInvalidScenario", err)
			}
			for _, part := range c.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}
