package routing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ringhook/ringhook/hub/model"
)

// ErrInvalidScenario is wrapped by every error of ValidateScenario.
var ErrInvalidScenario = errors.New("invalid scenario")

// MaxFieldLength caps the length of a condition's field path.
const MaxFieldLength = 512

// MaxRules and MaxConditions bound the work of Match, which runs inside
// every hub node's Raft Apply. BenchmarkMatchWorstCase measures a scenario
// at both limits.
const (
	// MaxRules is the maximum number of rules in a scenario.
	MaxRules = 200
	// MaxConditions is the maximum number of conditions in a rule.
	MaxConditions = 20
)

// ValidateScenario returns the first problem of a scenario, and the message
// names the rule by index and name. It rejects a missing or malformed field,
// an unknown operator, a missing value or one of the wrong type for its
// operator, an unknown action type, an action without the id it needs, and
// an unknown on_resolved setting, and more than MaxRules rules or
// MaxConditions conditions in a rule.
func ValidateScenario(s model.Scenario) error {
	if len(s.Rules) > MaxRules {
		return fmt.Errorf("%w: %d rules: the maximum is %d; merge rules with the in operator or split the endpoint", ErrInvalidScenario, len(s.Rules), MaxRules)
	}
	for i, r := range s.Rules {
		if len(r.Conditions) > MaxConditions {
			return fmt.Errorf("%w: rule %d %q: %d conditions: the maximum is %d; merge conditions on one field with the in operator", ErrInvalidScenario, i, r.Name, len(r.Conditions), MaxConditions)
		}
		for j, c := range r.Conditions {
			if err := validateCondition(c); err != nil {
				return fmt.Errorf("%w: rule %d %q: condition %d (field %q, op %q): %w", ErrInvalidScenario, i, r.Name, j, c.Field, c.Op, err)
			}
		}
		if err := validateAction(r.Action); err != nil {
			return fmt.Errorf("%w: rule %d %q: action: %w", ErrInvalidScenario, i, r.Name, err)
		}
	}
	if err := validateAction(s.Default); err != nil {
		return fmt.Errorf("%w: default action: %w", ErrInvalidScenario, err)
	}

	switch s.OnResolved {
	case "", model.ResolvedCancel, model.ResolvedRoute:
	default:
		return fmt.Errorf("%w: on_resolved %q is unknown: use %q or %q", ErrInvalidScenario, s.OnResolved, model.ResolvedCancel, model.ResolvedRoute)
	}
	return nil
}

func validateCondition(c model.Condition) error {
	if err := validateField(c.Field); err != nil {
		return err
	}

	switch c.Op {
	case OpExists, OpNotExists:
		if c.Value != nil {
			return fmt.Errorf("operator %s takes no value, but value is %v: remove it", c.Op, c.Value)
		}
	case OpIn, OpNotIn:
		if c.Value == nil {
			return fmt.Errorf("value is missing: operator %s needs a list of strings, numbers or bools", c.Op)
		}
		if _, ok := valueList(c.Value); !ok {
			return fmt.Errorf("value %v has the wrong type: operator %s needs a non-empty list of strings, numbers or bools", c.Value, c.Op)
		}
	case OpContains, OpNotContains, OpStartsWith, OpEndsWith:
		if c.Value == nil {
			return fmt.Errorf("value is missing: operator %s needs a string", c.Op)
		}
		text, ok := scalarText(c.Value)
		if !ok {
			return fmt.Errorf("value %v has the wrong type: operator %s needs a string or a number", c.Value, c.Op)
		}
		if text == "" {
			return fmt.Errorf("value is empty: operator %s needs a non-empty string", c.Op)
		}
	case OpGT, OpGTE, OpLT, OpLTE:
		if c.Value == nil {
			return fmt.Errorf("value is missing: operator %s needs a number", c.Op)
		}
		if isSeverityField(c.Field) {
			if name, _ := c.Value.(string); severityRank(name) == 0 {
				return fmt.Errorf("value %v is not a severity: operator %s on severity needs one of info, minor, major, critical", c.Value, c.Op)
			}
		}
		if _, ok := comparator(c); !ok {
			return fmt.Errorf("value %v has the wrong type: operator %s needs a number", c.Value, c.Op)
		}
	case "":
		return fmt.Errorf("op is missing: use one of %s", strings.Join(Operators, ", "))
	default:
		return fmt.Errorf("operator %q is unknown: use one of %s", c.Op, strings.Join(Operators, ", "))
	}
	return nil
}

func validateField(field string) error {
	if field == "" {
		return errors.New("field is missing: name a payload field, a dotted path such as commonLabels.env, or severity, state, message, tool, alert_count")
	}
	if len(field) > MaxFieldLength {
		return fmt.Errorf("field is %d bytes long: the maximum is %d", len(field), MaxFieldLength)
	}
	for seg := range strings.SplitSeq(field, ".") {
		if seg == "" {
			return errors.New("field has an empty path segment: remove the leading, trailing or doubled dot")
		}
	}
	if strings.EqualFold(field, strings.TrimSuffix(FieldsPrefix, ".")) {
		return fmt.Errorf("field %q names no value: add the payload field after it, as in fields.severity", field)
	}
	return nil
}

func validateAction(a model.Action) error {
	switch a.Type {
	case "", model.ActionCallPrimary, model.ActionCallAll, model.ActionNone:
	case model.ActionCallOnSchedule:
		if a.ScheduleID == "" {
			return errors.New("call_on_schedule needs a schedule_id")
		}
	case model.ActionCallProject:
		if a.ProjectID == "" {
			return errors.New("call_project needs a project_id")
		}
	case model.ActionCallMember:
		if a.MemberID == "" {
			return errors.New("call_member needs a member_id")
		}
	default:
		return fmt.Errorf("action type %q is unknown: use one of %s, %s, %s, %s, %s, %s", a.Type,
			model.ActionCallPrimary, model.ActionCallOnSchedule, model.ActionCallAll, model.ActionCallProject, model.ActionCallMember, model.ActionNone)
	}
	return nil
}
