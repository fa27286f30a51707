// Package oncall computes who is on call on a schedule at a given time.
//
// A schedule has one or more rotations and any number of overrides, all read
// in the schedule's IANA time zone:
//
//   - A rotation hands the shift to the next member of its list every
//     ShiftLength units, counted from Start. The member on call at t is
//     MemberIDs[k mod len(MemberIDs)], where k is the number of handovers
//     between Start and t. Before Start the rotation puts nobody on call.
//   - "hours" are elapsed hours, so a 12-hour shift is 12 real hours even on
//     the night a daylight-saving change makes the local day 23 or 25 hours.
//   - "days" and "weeks" are calendar days in the schedule's zone. A handover
//     at 09:00 local time stays at 09:00 local time across daylight-saving
//     changes, so one shift in the year is an hour shorter or longer.
//   - With several rotations, the on-call set is the union of each rotation's
//     current member, in rotation order, without duplicates.
//   - An override is active from its Start (inclusive) to its End
//     (exclusive). While any override is active, the active overrides'
//     members replace the whole on-call set of the rotations.
//
// OnCall is a pure function of the schedule and the time, so every hub node
// computes the same answer. The zone database is embedded (time/tzdata), so
// the answer does not depend on the host's zone files.
package oncall

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // zone data for hosts without /usr/share/zoneinfo

	"github.com/ringhook/ringhook/hub/model"
)

// MaxShiftHours caps a rotation's shift length, whatever its unit: about
// ten years, far longer than any real rotation and small enough that the
// handover arithmetic cannot overflow.
const MaxShiftHours = 24 * 366 * 10

// ErrInvalidSchedule is wrapped by every error of ValidateSchedule.
var ErrInvalidSchedule = errors.New("invalid schedule")

// ValidateSchedule returns the first problem of a schedule. It checks the
// time zone, each rotation's shift unit, shift length, start and members, and
// that each override has a member and ends after it starts.
func ValidateSchedule(s model.Schedule) error {
	if s.TimeZone == "" {
		return fmt.Errorf("%w: time_zone is missing: set an IANA zone such as \"Europe/Berlin\" or \"UTC\"", ErrInvalidSchedule)
	}
	if _, err := loadLocation(s.TimeZone); err != nil {
		return fmt.Errorf("%w: time_zone %q is not an IANA zone name such as \"Europe/Berlin\": %w", ErrInvalidSchedule, s.TimeZone, err)
	}
	if len(s.Rotations) == 0 {
		return fmt.Errorf("%w: the schedule has no rotation: add one with at least one member", ErrInvalidSchedule)
	}

	for i, r := range s.Rotations {
		if err := validateRotation(r); err != nil {
			return fmt.Errorf("%w: rotation %d %q: %w", ErrInvalidSchedule, i, r.Name, err)
		}
	}
	for i, o := range s.Overrides {
		if err := validateOverride(o); err != nil {
			return fmt.Errorf("%w: override %d: %w", ErrInvalidSchedule, i, err)
		}
	}
	return nil
}

func validateRotation(r model.Rotation) error {
	unitHours, ok := shiftUnitHours(r.ShiftUnit)
	if !ok {
		return fmt.Errorf("shift_unit %q is unknown: use %q, %q or %q", r.ShiftUnit, model.ShiftHours, model.ShiftDays, model.ShiftWeeks)
	}
	if r.ShiftLength < 1 {
		return fmt.Errorf("shift_length %d is invalid: it must be at least 1", r.ShiftLength)
	}
	if r.ShiftLength > MaxShiftHours/unitHours {
		return fmt.Errorf("shift_length %d %s is too long: the maximum is %d %s", r.ShiftLength, r.ShiftUnit, MaxShiftHours/unitHours, r.ShiftUnit)
	}
	if r.Start.IsZero() {
		return errors.New("start is missing: set the time of the first handover")
	}
	if len(r.MemberIDs) == 0 {
		return errors.New("member_ids is empty: list at least one member")
	}
	for j, id := range r.MemberIDs {
		if id == "" {
			return fmt.Errorf("member_ids[%d] is empty", j)
		}
	}
	return nil
}

func validateOverride(o model.Override) error {
	if o.MemberID == "" {
		return errors.New("member_id is missing")
	}
	if o.Start.IsZero() || o.End.IsZero() {
		return errors.New("start and end are both required")
	}
	if !o.End.After(o.Start) {
		return fmt.Errorf("end %s is not after start %s", o.End.Format(time.RFC3339), o.Start.Format(time.RFC3339))
	}
	return nil
}

// shiftUnitHours returns the nominal length of a shift unit in hours.
func shiftUnitHours(unit string) (int, bool) {
	switch unit {
	case model.ShiftHours:
		return 1, true
	case model.ShiftDays:
		return 24, true
	case model.ShiftWeeks:
		return 24 * 7, true
	}
	return 0, false
}

// OnCall returns the ids of the members on call at t, without duplicates, in
// the order of the schedule's rotations or overrides. It returns nil when
// nobody is on call. Rotations that ValidateSchedule would reject are
// skipped.
func OnCall(s model.Schedule, t time.Time) []string {
	var ids []string
	for _, o := range s.Overrides {
		if o.MemberID != "" && !t.Before(o.Start) && t.Before(o.End) && !slices.Contains(ids, o.MemberID) {
			ids = append(ids, o.MemberID)
		}
	}
	if len(ids) > 0 {
		return ids
	}

	loc, err := loadLocation(s.TimeZone)
	if err != nil {
		// NOTE: a saved schedule always has a valid zone (ValidateSchedule);
		// UTC keeps a schedule stored before a zone was withdrawn usable.
		loc = time.UTC
	}
	for _, r := range s.Rotations {
		id, ok := rotationMember(r, loc, t)
		if ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// rotationMember returns the rotation's member on call at t.
func rotationMember(r model.Rotation, loc *time.Location, t time.Time) (string, bool) {
	unitHours, ok := shiftUnitHours(r.ShiftUnit)
	if !ok || r.ShiftLength < 1 || r.ShiftLength > MaxShiftHours/unitHours || len(r.MemberIDs) == 0 {
		return "", false
	}
	if t.Before(r.Start) {
		return "", false
	}

	var k int64
	if r.ShiftUnit == model.ShiftHours {
		k = int64(t.Sub(r.Start) / (time.Duration(r.ShiftLength) * time.Hour))
	} else {
		k = calendarHandovers(r.Start.In(loc), t, r.ShiftLength*unitHours/24)
	}

	id := r.MemberIDs[k%int64(len(r.MemberIDs))]
	return id, id != ""
}

// calendarHandovers returns the number of handovers after start up to and
// including t, where handover k is at start's wall-clock time, k*stepDays
// calendar days later in start's zone.
func calendarHandovers(start, t time.Time, stepDays int) int64 {
	handover := func(k int64) time.Time {
		return start.AddDate(0, 0, int(k)*stepDays)
	}

	// Estimate from elapsed time, then correct: a daylight-saving change
	// moves a handover by at most a few hours, so the estimate is off by at
	// most one step.
	k := int64(t.Sub(start) / (time.Duration(stepDays) * 24 * time.Hour))
	for k > 0 && handover(k).After(t) {
		k--
	}
	for !handover(k + 1).After(t) {
		k++
	}
	return k
}

var locations sync.Map // zone name -> *time.Location

// loadLocation is time.LoadLocation with a cache, because OnCall runs on every
// routed alert. "Local" is rejected because it differs between hosts.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("zone %q differs between hosts", name)
	}
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}
