package routing

import (
	"errors"

	"github.com/ringhook/ringhook/hub/model"
)

// ValidateScenario reports the first invalid rule of a scenario.
func ValidateScenario(s model.Scenario) error {
	return errors.New("routing: ValidateScenario not implemented yet")
}

// Match returns the first rule whose conditions all match the alert, or -1
// and the scenario's default action.
func Match(s model.Scenario, a model.Alert) (int, string, model.Action) {
	return -1, "", model.Action{Type: model.ActionCallPrimary}
}

// Decide routes an alert and applies the brakes.
func Decide(dir Directory, ctr Counters, in Input) Decision {
	return Decision{RuleIndex: -1, Action: model.Action{Type: model.ActionCallPrimary}, Outcome: model.OutcomeNoPhones}
}
