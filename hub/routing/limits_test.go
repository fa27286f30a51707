package routing

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
)

// rulesWithConditions returns n rules of k conditions each on
// alerts.*.labels.alertname.
func rulesWithConditions(n, k int) []model.Rule {
	rules := make([]model.Rule, n)
	for i := range rules {
		conds := make([]model.Condition, k)
		for j := range conds {
			conds[j] = model.Condition{Field: "alerts.*.labels.alertname", Op: OpNotIn, Value: []any{fmt.Sprintf("rule-%d-%d", i, j)}}
		}
		rules[i] = model.Rule{Name: fmt.Sprintf("rule %d", i), Conditions: conds, Action: model.Action{Type: model.ActionNone}}
	}
	return rules
}

func TestValidateScenarioLimits(t *testing.T) {
	if err := ValidateScenario(model.Scenario{Rules: rulesWithConditions(MaxRules, MaxConditions)}); err != nil {
		t.Fatalf("scenario at both limits rejected: %v", err)
	}

	err := ValidateScenario(model.Scenario{Rules: rulesWithConditions(MaxRules+1, 1)})
	if !errors.Is(err, ErrInvalidScenario) {
		t.Fatalf("scenario with %d rules: error %v, want ErrInvalidScenario", MaxRules+1, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("maximum is %d", MaxRules)) {
		t.Errorf("message %q does not state the maximum of %d rules", err, MaxRules)
	}

	rules := rulesWithConditions(3, 1)
	rules[2] = rulesWithConditions(1, MaxConditions+1)[0]
	rules[2].Name = "too many"
	err = ValidateScenario(model.Scenario{Rules: rules})
	if !errors.Is(err, ErrInvalidScenario) {
		t.Fatalf("rule with %d conditions: error %v, want ErrInvalidScenario", MaxConditions+1, err)
	}
	if !strings.Contains(err.Error(), `rule 2 "too many"`) {
		t.Errorf("message %q does not name rule 2", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("maximum is %d", MaxConditions)) {
		t.Errorf("message %q does not state the maximum of %d conditions", err, MaxConditions)
	}
}

// manyAlerts returns an alert whose payload lists n alerts, each with the
// label alertname "alert-<index>".
func manyAlerts(n int) model.Alert {
	alerts := make([]any, n)
	for i := range alerts {
		alerts[i] = map[string]any{"labels": map[string]any{"alertname": fmt.Sprintf("alert-%d", i)}}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("alert-%d", i)
	}
	return model.Alert{
		Format:     model.FormatJSON,
		Fields:     map[string]any{"alerts": alerts, "names": names},
		AlertCount: n,
		State:      model.StateFiring,
	}
}

func TestWildcardVisitsFirstElements(t *testing.T) {
	a := manyAlerts(MaxWildcardElements + 500)
	last := fmt.Sprintf("alert-%d", MaxWildcardElements-1)
	beyond := fmt.Sprintf("alert-%d", MaxWildcardElements)

	cases := []struct {
		field, value string
		want         bool
	}{
		{"alerts.*.labels.alertname", last, true},
		{"alerts.*.labels.alertname", beyond, false},
		{"names.*", last, true},
		{"names.*", beyond, false},
	}
	for _, c := range cases {
		cond := model.Condition{Field: c.field, Op: OpIn, Value: []any{c.value}}
		if got := conditionMatches(cond, a); got != c.want {
			t.Errorf("%s in [%s] = %v, want %v", c.field, c.value, got, c.want)
		}
	}

	// An index reaches beyond the wildcard limit.
	cond := model.Condition{Field: fmt.Sprintf("alerts.%d.labels.alertname", MaxWildcardElements), Op: OpIn, Value: []any{beyond}}
	if !conditionMatches(cond, a) {
		t.Errorf("%s does not match %s", cond.Field, beyond)
	}
}

// BenchmarkMatchWorstCase runs the largest valid scenario against a payload
// of 10,000 alerts. Every condition is a nin on a wildcard path that every
// element satisfies, so each one visits MaxWildcardElements alerts, and the
// last condition of every rule fails, so no rule matches before the last.
func BenchmarkMatchWorstCase(b *testing.B) {
	rules := rulesWithConditions(MaxRules, MaxConditions)
	for i := range rules {
		rules[i].Conditions[MaxConditions-1] = model.Condition{Field: "alerts.*.labels.alertname", Op: OpIn, Value: []any{"no such alert"}}
	}
	s := model.Scenario{Rules: rules, Default: model.Action{Type: model.ActionNone}}
	if err := ValidateScenario(s); err != nil {
		b.Fatalf("benchmark scenario is invalid: %v", err)
	}
	a := manyAlerts(10000)
	if i, _, _ := Match(s, a); i != -1 {
		b.Fatalf("rule %d matched, want the default", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		Match(s, a)
	}
}
