package oncall

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

type onCallCase struct {
	at   string // RFC 3339 with the local offset in force at that moment
	want []string
}

func checkOnCall(t *testing.T, s model.Schedule, cases []onCallCase) {
	t.Helper()
	if err := ValidateSchedule(s); err != nil {
		t.Fatalf("schedule is invalid: %v", err)
	}
	for _, c := range cases {
		got := OnCall(s, mustTime(t, c.at))
		if !slices.Equal(got, c.want) {
			t.Errorf("OnCall at %s = %v, want %v", c.at, got, c.want)
		}
	}
}

func rotationSchedule(zone string, r model.Rotation) model.Schedule {
	return model.Schedule{ID: "s1", TimeZone: zone, Rotations: []model.Rotation{r}}
}

// A daily handover at 09:00 in Berlin stays at 09:00 local time when
// daylight saving time starts (2025-03-30, 23-hour day) and ends
// (2025-10-26, 25-hour day).
func TestDailyRotationAcrossDST(t *testing.T) {
	s := rotationSchedule("Europe/Berlin", model.Rotation{
		Start:       mustTime(t, "2025-03-24T09:00:00+01:00"), // a Monday, CET
		ShiftLength: 1,
		ShiftUnit:   model.ShiftDays,
		MemberIDs:   []string{"a", "b", "c"},
	})
	checkOnCall(t, s, []onCallCase{
		{"2025-03-24T08:59:59+01:00", nil}, // before the first shift
		{"2025-03-24T09:00:00+01:00", []string{"a"}},
		{"2025-03-25T08:59:59+01:00", []string{"a"}},
		{"2025-03-25T09:00:00+01:00", []string{"b"}},
		{"2025-03-29T09:00:00+01:00", []string{"c"}}, // day 5
		// Sunday 2025-03-30 is 23 hours long; handover 6 is still at 09:00 CEST.
		{"2025-03-30T08:59:59+02:00", []string{"c"}},
		{"2025-03-30T09:00:00+02:00", []string{"a"}},
		{"2025-03-31T09:00:00+02:00", []string{"b"}},
		// Day 215 (2025-10-25) and day 216 (2025-10-26, 25 hours long).
		{"2025-10-25T09:00:00+02:00", []string{"c"}},
		{"2025-10-26T08:59:59+01:00", []string{"c"}},
		{"2025-10-26T09:00:00+01:00", []string{"a"}},
		{"2025-10-27T08:59:59+01:00", []string{"a"}},
		{"2025-10-27T09:00:00+01:00", []string{"b"}},
	})
}

// Weekly handovers on Monday 09:00 in New York across the change to EDT on
// 2025-03-09 and back to EST on 2025-11-02.
func TestWeeklyRotationAcrossDST(t *testing.T) {
	s := rotationSchedule("America/New_York", model.Rotation{
		Start:       mustTime(t, "2025-03-03T09:00:00-05:00"),
		ShiftLength: 1,
		ShiftUnit:   model.ShiftWeeks,
		MemberIDs:   []string{"a", "b"},
	})
	checkOnCall(t, s, []onCallCase{
		{"2025-03-10T08:59:59-04:00", []string{"a"}},
		{"2025-03-10T09:00:00-04:00", []string{"b"}},
		{"2025-03-17T09:00:00-04:00", []string{"a"}},
		// 2025-11-03 is week 35 after the start.
		{"2025-11-03T08:59:59-05:00", []string{"a"}},
		{"2025-11-03T09:00:00-05:00", []string{"b"}},
	})
}

// Hour-based shifts count elapsed hours, so the local handover time moves by
// the daylight-saving change.
func TestHourlyRotationAcrossDST(t *testing.T) {
	s := rotationSchedule("Europe/Berlin", model.Rotation{
		Start:       mustTime(t, "2025-03-29T08:00:00+01:00"),
		ShiftLength: 12,
		ShiftUnit:   model.ShiftHours,
		MemberIDs:   []string{"day", "night"},
	})
	checkOnCall(t, s, []onCallCase{
		{"2025-03-29T19:59:59+01:00", []string{"day"}},
		{"2025-03-29T20:00:00+01:00", []string{"night"}},
		// 24 elapsed hours after the start is 09:00 CEST, not 08:00.
		{"2025-03-30T08:30:00+02:00", []string{"night"}},
		{"2025-03-30T09:00:00+02:00", []string{"day"}},
		{"2025-03-30T21:00:00+02:00", []string{"night"}},
	})
}

// Multi-day shifts in a southern-hemisphere zone whose daylight-saving time
// ends in April.
func TestMultiDayRotationSydney(t *testing.T) {
	s := rotationSchedule("Australia/Sydney", model.Rotation{
		Start:       mustTime(t, "2025-04-01T08:00:00+11:00"),
		ShiftLength: 3,
		ShiftUnit:   model.ShiftDays,
		MemberIDs:   []string{"a", "b"},
	})
	// DST ends 2025-04-06 03:00 local; handover 2 is 2025-04-07 08:00 AEST.
	checkOnCall(t, s, []onCallCase{
		{"2025-04-04T07:59:59+11:00", []string{"a"}},
		{"2025-04-04T08:00:00+11:00", []string{"b"}},
		{"2025-04-07T07:59:59+10:00", []string{"b"}},
		{"2025-04-07T08:00:00+10:00", []string{"a"}},
	})
}

func TestSeveralRotationsUnion(t *testing.T) {
	start := mustTime(t, "2025-01-06T00:00:00Z")
	s := model.Schedule{
		TimeZone: "UTC",
		Rotations: []model.Rotation{
			{Name: "primary", Start: start, ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{"a", "b"}},
			{Name: "secondary", Start: start, ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{"b", "c"}},
			{Name: "later", Start: mustTime(t, "2025-01-07T12:00:00Z"), ShiftLength: 1, ShiftUnit: model.ShiftWeeks, MemberIDs: []string{"d"}},
		},
	}
	checkOnCall(t, s, []onCallCase{
		{"2025-01-06T10:00:00Z", []string{"a", "b"}},
		{"2025-01-07T10:00:00Z", []string{"b", "c"}}, // b once
		{"2025-01-07T12:00:00Z", []string{"b", "c", "d"}},
	})
}

func TestOverridesReplaceRotations(t *testing.T) {
	s := model.Schedule{
		TimeZone: "Europe/London",
		Rotations: []model.Rotation{
			{Start: mustTime(t, "2025-01-01T00:00:00Z"), ShiftLength: 1, ShiftUnit: model.ShiftWeeks, MemberIDs: []string{"a", "b"}},
		},
		Overrides: []model.Override{
			{MemberID: "x", Start: mustTime(t, "2025-01-02T10:00:00Z"), End: mustTime(t, "2025-01-02T18:00:00Z")},
			{MemberID: "y", Start: mustTime(t, "2025-01-02T16:00:00Z"), End: mustTime(t, "2025-01-03T00:00:00Z")},
			{MemberID: "x", Start: mustTime(t, "2025-01-02T17:00:00Z"), End: mustTime(t, "2025-01-02T17:30:00Z")},
		},
	}
	checkOnCall(t, s, []onCallCase{
		{"2025-01-02T09:59:59Z", []string{"a"}},
		{"2025-01-02T10:00:00Z", []string{"x"}},
		{"2025-01-02T17:00:00Z", []string{"x", "y"}},
		{"2025-01-02T18:00:00Z", []string{"y"}}, // x's end is exclusive
		{"2025-01-03T00:00:00Z", []string{"a"}},
	})
}

func TestOnCallSkipsBrokenRotation(t *testing.T) {
	s := model.Schedule{
		TimeZone: "Not/AZone",
		Rotations: []model.Rotation{
			{Start: mustTime(t, "2025-01-01T00:00:00Z"), ShiftLength: 0, ShiftUnit: model.ShiftDays, MemberIDs: []string{"a"}},
			{Start: mustTime(t, "2025-01-01T00:00:00Z"), ShiftLength: 1, ShiftUnit: "fortnights", MemberIDs: []string{"b"}},
			{Start: mustTime(t, "2025-01-01T00:00:00Z"), ShiftLength: 1, ShiftUnit: model.ShiftDays},
			{Start: mustTime(t, "2025-01-01T00:00:00Z"), ShiftLength: 1, ShiftUnit: model.ShiftDays, MemberIDs: []string{"c"}},
		},
	}
	got := OnCall(s, mustTime(t, "2025-02-01T00:00:00Z"))
	if !slices.Equal(got, []string{"c"}) {
		t.Errorf("OnCall = %v, want [c]", got)
	}
}

func TestValidateSchedule(t *testing.T) {
	start := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	good := func() model.Schedule {
		return model.Schedule{
			TimeZone:  "Europe/Berlin",
			Rotations: []model.Rotation{{Name: "ops", Start: start, ShiftLength: 1, ShiftUnit: model.ShiftWeeks, MemberIDs: []string{"a"}}},
			Overrides: []model.Override{{MemberID: "b", Start: start, End: start.Add(time.Hour)}},
		}
	}
	if err := ValidateSchedule(good()); err != nil {
		t.Fatalf("valid schedule rejected: %v", err)
	}

	cases := []struct {
		name   string
		modify func(*model.Schedule)
		want   string // part of the message
	}{
		{"no zone", func(s *model.Schedule) { s.TimeZone = "" }, "time_zone is missing"},
		{"unknown zone", func(s *model.Schedule) { s.TimeZone = "Europe/Atlantis" }, "Europe/Atlantis"},
		{"local zone", func(s *model.Schedule) { s.TimeZone = "Local" }, "Local"},
		{"no rotation", func(s *model.Schedule) { s.Rotations = nil }, "no rotation"},
		{"bad unit", func(s *model.Schedule) { s.Rotations[0].ShiftUnit = "months" }, `rotation 0 "ops": shift_unit "months"`},
		{"zero length", func(s *model.Schedule) { s.Rotations[0].ShiftLength = 0 }, "shift_length 0"},
		{"negative length", func(s *model.Schedule) { s.Rotations[0].ShiftLength = -2 }, "shift_length -2"},
		{"huge length", func(s *model.Schedule) { s.Rotations[0].ShiftLength = 100000 }, "too long"},
		{"no start", func(s *model.Schedule) { s.Rotations[0].Start = time.Time{} }, "start is missing"},
		{"no members", func(s *model.Schedule) { s.Rotations[0].MemberIDs = nil }, "member_ids is empty"},
		{"empty member", func(s *model.Schedule) { s.Rotations[0].MemberIDs = []string{"a", ""} }, "member_ids[1]"},
		{"override no member", func(s *model.Schedule) { s.Overrides[0].MemberID = "" }, "override 0: member_id"},
		{"override end before start", func(s *model.Schedule) { s.Overrides[0].End = start.Add(-time.Hour) }, "not after start"},
		{"override end equals start", func(s *model.Schedule) { s.Overrides[0].End = start }, "not after start"},
		{"override no end", func(s *model.Schedule) { s.Overrides[0].End = time.Time{} }, "required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := good()
			c.modify(&s)
			err := ValidateSchedule(s)
			if err == nil {
				t.Fatal("invalid schedule accepted")
			}
			if !errors.Is(err, ErrInvalidSchedule) {
				t.Errorf("error %v does not wrap ErrInvalidSchedule", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func BenchmarkOnCall(b *testing.B) {
	s := rotationSchedule("Europe/Berlin", model.Rotation{
		Start:       time.Date(2020, 1, 6, 9, 0, 0, 0, time.UTC),
		ShiftLength: 1,
		ShiftUnit:   model.ShiftWeeks,
		MemberIDs:   []string{"a", "b", "c", "d"},
	})
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		OnCall(s, at)
	}
}
