package routing

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
)

func decodeJSON(data string) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// FuzzMatch evaluates arbitrary conditions on arbitrary payloads. No input
// may panic, exists and not_exists must disagree, as must in and nin on a
// single scalar, and a scenario that
// passes validation must match the rule or fall to the default.
func FuzzMatch(f *testing.F) {
	seeds := []struct{ field, op, value, payload string }{
		{"severity", "in", `["critical"]`, `{"severity":"critical"}`},
		{"commonLabels.env", "nin", `["prod"]`, `{"commonLabels":{"env":"staging"}}`},
		{"alerts.0.labels.severity", "contains", `"crit"`, `{"alerts":[{"labels":{"severity":"critical"}}]}`},
		{"alerts.*.value", "gt", `10`, `{"alerts":[{"value":5},{"value":"12"}]}`},
		{"msg", "starts_with", `"DB"`, `{"msg":"db down"}`},
		{"msg", "ends_with", `7`, `{"msg":1007}`},
		{"x", "exists", `null`, `{"x":null}`},
		{"a.b.c", "not_exists", `null`, `{"a":{"b":[1,2]}}`},
		{"n", "lte", `"1e3"`, `{"n":"999.5"}`},
		{"severity", "gte", `"major"`, `{}`},
		{"tags", "not_contains", `"x"`, `{"tags":["a",{"b":1},null]}`},
		{"k.*.*", "in", `[true,1,"a"]`, `{"k":{"a":{"b":true}}}`},
		{"..", "bogus", `{}`, `[1,2,3]`},
		{"fields.state", "lt", `-0`, `"text"`},
	}
	for _, s := range seeds {
		f.Add(s.field, s.op, s.value, s.payload)
	}

	f.Fuzz(func(t *testing.T, field, op, valueJSON, payloadJSON string) {
		var value any
		if v, ok := decodeJSON(valueJSON); ok {
			value = v
		} else {
			value = valueJSON
		}
		alert := model.Alert{State: model.StateFiring, Severity: model.SeverityMajor, Fields: map[string]any{}}
		if payload, ok := decodeJSON(payloadJSON); ok {
			if m, isObject := payload.(map[string]any); isObject {
				alert.Fields = m
			} else {
				alert.Fields["body"] = payload
			}
		}

		exists := conditionMatches(model.Condition{Field: field, Op: OpExists}, alert)
		notExists := conditionMatches(model.Condition{Field: field, Op: OpNotExists}, alert)
		if exists == notExists {
			t.Errorf("exists and not_exists both %v for field %q", exists, field)
		}

		// For one scalar value and a valid list, nin is the negation of in.
		if list, ok := valueList(value); ok {
			values := resolve(alert, field, nil)
			if len(values) == 1 && isScalar(values[0]) {
				in := conditionMatches(model.Condition{Field: field, Op: OpIn, Value: list}, alert)
				nin := conditionMatches(model.Condition{Field: field, Op: OpNotIn, Value: list}, alert)
				if in == nin {
					t.Errorf("in and nin both %v for field %q and value %v", in, field, list)
				}
			}
		}

		s := model.Scenario{Rules: []model.Rule{{
			Name:       "fuzzed",
			Conditions: []model.Condition{{Field: field, Op: op, Value: value}},
			Action:     model.Action{Type: model.ActionNone},
		}}}
		index, name, action := Match(s, alert)
		if ValidateScenario(s) != nil {
			return
		}
		switch index {
		case 0:
			if name != "fuzzed" || action.Type != model.ActionNone {
				t.Errorf("rule 0 matched with name %q and action %q", name, action.Type)
			}
		case -1:
			if action.Type != model.ActionCallPrimary {
				t.Errorf("default action %q, want call_primary", action.Type)
			}
		default:
			t.Errorf("Match returned rule index %d for a one-rule scenario", index)
		}
	})
}
