package routing

import (
	"strings"

	"github.com/ringhook/ringhook/hub/model"
)

// Condition operators.
const (
	OpIn          = "in"
	OpNotIn       = "nin"
	OpContains    = "contains"
	OpNotContains = "not_contains"
	OpStartsWith  = "starts_with"
	OpEndsWith    = "ends_with"
	OpExists      = "exists"
	OpNotExists   = "not_exists"
	OpGT          = "gt"
	OpGTE         = "gte"
	OpLT          = "lt"
	OpLTE         = "lte"
)

// Operators lists every condition operator, in the order the docs give them.
var Operators = []string{OpIn, OpNotIn, OpContains, OpNotContains, OpStartsWith, OpEndsWith, OpExists, OpNotExists, OpGT, OpGTE, OpLT, OpLTE}

// Match returns the index, name and action of the first rule whose
// conditions all match the alert. When no rule matches, it returns -1, "" and
// the scenario's default action. An empty action type is returned as
// call_primary. A condition that Match cannot evaluate, such as one with an
// unknown operator, does not match; FuzzMatch checks that no input panics.
func Match(s model.Scenario, a model.Alert) (int, string, model.Action) {
	for i, r := range s.Rules {
		if ruleMatches(r, a) {
			return i, r.Name, withDefaultType(r.Action)
		}
	}
	return -1, "", withDefaultType(s.Default)
}

func withDefaultType(a model.Action) model.Action {
	if a.Type == "" {
		a.Type = model.ActionCallPrimary
	}
	return a
}

func ruleMatches(r model.Rule, a model.Alert) bool {
	for _, c := range r.Conditions {
		if !conditionMatches(c, a) {
			return false
		}
	}
	return true
}

// conditionMatches evaluates one condition. A positive operator matches when
// at least one value at the field's path satisfies it. A negative operator
// matches when the field is missing, or when every value can be read by the
// operator and none satisfies its positive form.
func conditionMatches(c model.Condition, a model.Alert) bool {
	var buf [4]any
	values := resolve(a, c.Field, buf[:0])

	switch c.Op {
	case OpExists:
		return len(values) > 0
	case OpNotExists:
		return len(values) == 0
	}

	var test func(v any) (matched, readable bool)
	negate := false
	switch c.Op {
	case OpIn, OpNotIn:
		list, ok := valueList(c.Value)
		if !ok {
			return false
		}
		test = func(v any) (bool, bool) { return inList(v, list) }
		negate = c.Op == OpNotIn
	case OpContains, OpNotContains:
		test = func(v any) (bool, bool) { return contains(v, c.Value) }
		negate = c.Op == OpNotContains
	case OpStartsWith, OpEndsWith:
		want, ok := scalarText(c.Value)
		if !ok || want == "" {
			return false
		}
		want = strings.ToLower(want)
		suffix := c.Op == OpEndsWith
		test = func(v any) (bool, bool) { return hasAffix(v, want, suffix) }
	case OpGT, OpGTE, OpLT, OpLTE:
		cmp, ok := comparator(c)
		if !ok {
			return false
		}
		test = cmp
	default:
		return false
	}

	if negate {
		if len(values) == 0 {
			return true
		}
		for _, v := range values {
			if matched, readable := test(v); matched || !readable {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if matched, readable := test(v); matched && readable {
			return true
		}
	}
	return false
}

// inList reports whether the scalar v equals an element of list.
func inList(v any, list []any) (matched, readable bool) {
	if !isScalar(v) {
		return false, false
	}
	for _, want := range list {
		if scalarEqual(v, want) {
			return true, true
		}
	}
	return false, true
}

// contains reports whether v, a string or number, contains want as a
// substring, or whether v, a list, has an element equal to want.
func contains(v, want any) (matched, readable bool) {
	switch list := v.(type) {
	case []any:
		for _, e := range list {
			if isScalar(e) && scalarEqual(e, want) {
				return true, true
			}
		}
		return false, true
	case []string:
		for _, e := range list {
			if scalarEqual(e, want) {
				return true, true
			}
		}
		return false, true
	}

	text, ok := fieldText(v)
	if !ok {
		return false, false
	}
	sub, ok := scalarText(want)
	if !ok || sub == "" {
		return false, false
	}
	return strings.Contains(strings.ToLower(text), strings.ToLower(sub)), true
}

// hasAffix reports whether v, a string or number, starts (or, with suffix,
// ends) with want, which is already lower-case.
func hasAffix(v any, want string, suffix bool) (matched, readable bool) {
	text, ok := fieldText(v)
	if !ok {
		return false, false
	}
	text = strings.ToLower(text)
	if suffix {
		return strings.HasSuffix(text, want), true
	}
	return strings.HasPrefix(text, want), true
}

// comparator returns the test of an ordering condition. On the normalized
// severity field with a severity name as its value, it orders severities
// (info < minor < major < critical); otherwise it compares numbers.
func comparator(c model.Condition) (func(v any) (bool, bool), bool) {
	order := orderFunc(c.Op)
	if isSeverityField(c.Field) {
		if name, ok := c.Value.(string); ok {
			want := severityRank(name)
			if want == 0 {
				return nil, false
			}
			return func(v any) (bool, bool) {
				s, _ := v.(string)
				got := severityRank(s)
				if got == 0 {
					return false, false
				}
				return order(float64(got), float64(want)), true
			}, true
		}
	}

	want, ok := toNumber(c.Value)
	if !ok {
		return nil, false
	}
	return func(v any) (bool, bool) {
		got, ok := toNumber(v)
		if !ok {
			return false, false
		}
		return order(got, want), true
	}, true
}

func orderFunc(op string) func(a, b float64) bool {
	switch op {
	case OpGT:
		return func(a, b float64) bool { return a > b }
	case OpGTE:
		return func(a, b float64) bool { return a >= b }
	case OpLT:
		return func(a, b float64) bool { return a < b }
	default:
		return func(a, b float64) bool { return a <= b }
	}
}

// severityRank returns 1 for info up to 4 for critical, and 0 for anything
// that is not a severity name.
func severityRank(s string) int {
	switch strings.ToLower(s) {
	case model.SeverityInfo:
		return 1
	case model.SeverityMinor:
		return 2
	case model.SeverityMajor:
		return 3
	case model.SeverityCritical:
		return 4
	}
	return 0
}
