// Package oncall answers who is on call on a schedule at a given time.
package oncall

import (
	"errors"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

// ValidateSchedule reports the first problem of a schedule.
func ValidateSchedule(s model.Schedule) error {
	return errors.New("oncall: ValidateSchedule not implemented yet")
}

// OnCall returns the ids of the members on call at t.
func OnCall(s model.Schedule, t time.Time) []string { return nil }
