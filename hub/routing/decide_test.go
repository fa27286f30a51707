package routing

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

// fakeDirectory is an in-memory Directory.
type fakeDirectory struct {
	orgs      map[string]model.Organization
	members   map[string]model.Member
	schedules map[string]model.Schedule
}

func (d *fakeDirectory) Organization(id string) (model.Organization, bool) {
	o, ok := d.orgs[id]
	return o, ok
}

func (d *fakeDirectory) Member(id string) (model.Member, bool) {
	m, ok := d.members[id]
	return m, ok
}

func (d *fakeDirectory) sorted(keep func(model.Member) bool) []model.Member {
	var out []model.Member
	for _, m := range d.members {
		if keep(m) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b model.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (d *fakeDirectory) MembersOfOrg(orgID string) []model.Member {
	return d.sorted(func(m model.Member) bool { return m.OrgID == orgID })
}

func (d *fakeDirectory) MembersOfProject(projectID string) []model.Member {
	return d.sorted(func(m model.Member) bool { return slices.Contains(m.ProjectIDs, projectID) })
}

func (d *fakeDirectory) Schedule(id string) (model.Schedule, bool) {
	s, ok := d.schedules[id]
	return s, ok
}

// fakeCounters is an in-memory Counters.
type fakeCounters struct {
	perDay     map[string]int // "org/day"
	lastCall   map[string]time.Time
	suppressed map[string]time.Time
}

func (c *fakeCounters) CallsOnDay(orgID, day string) int { return c.perDay[orgID+"/"+day] }

func (c *fakeCounters) LastCallAt(phone string) (time.Time, bool) {
	t, ok := c.lastCall[phone]
	return t, ok
}

func (c *fakeCounters) SuppressedUntil(endpointID string) (time.Time, bool) {
	t, ok := c.suppressed[endpointID]
	return t, ok
}

var (
	testNow = time.Date(2025, 6, 2, 23, 59, 30, 0, time.UTC)
	consent = &model.Consent{ConfirmedBy: "admin", ConfirmedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
)

func newFixture() (*fakeDirectory, *fakeCounters) {
	dir := &fakeDirectory{
		orgs: map[string]model.Organization{
			"org1": {ID: "org1", PrimaryMemberID: "alice"},
			"org2": {ID: "org2", PrimaryMemberID: "mallory"},
		},
		members: map[string]model.Member{
			"alice":   {ID: "alice", OrgID: "org1", Phone: "+4915112345671", ProjectIDs: []string{"db"}, Consent: consent},
			"bob":     {ID: "bob", OrgID: "org1", Phone: "+4915112345672", ProjectIDs: []string{"db", "web"}, Consent: consent},
			"carol":   {ID: "carol", OrgID: "org1", Phone: "+4915112345673", ProjectIDs: []string{"web"}},                    // no consent
			"dave":    {ID: "dave", OrgID: "org1", Phone: "+499001234567", ProjectIDs: []string{"web"}, Consent: consent},    // premium rate
			"erin":    {ID: "erin", OrgID: "org1", Phone: "+4915112345671", ProjectIDs: []string{"db"}, Consent: consent},    // alice's phone
			"frank":   {ID: "frank", OrgID: "org1", Phone: "", Consent: consent},                                             // no phone
			"mallory": {ID: "mallory", OrgID: "org2", Phone: "+4915112345679", ProjectIDs: []string{"db"}, Consent: consent}, // other org
		},
		schedules: map[string]model.Schedule{
			"ops": {ID: "ops", OrgID: "org1", TimeZone: "Europe/Berlin", Rotations: []model.Rotation{{
				Start: time.Date(2025, 6, 2, 7, 0, 0, 0, time.UTC), ShiftLength: 1, ShiftUnit: model.ShiftDays,
				MemberIDs: []string{"bob", "alice"},
			}}},
			"foreign": {ID: "foreign", OrgID: "org2", TimeZone: "UTC", Rotations: []model.Rotation{{
				Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ShiftLength: 1, ShiftUnit: model.ShiftWeeks,
				MemberIDs: []string{"mallory"},
			}}},
		},
	}
	ctr := &fakeCounters{perDay: map[string]int{}, lastCall: map[string]time.Time{}, suppressed: map[string]time.Time{}}
	return dir, ctr
}

func input(action model.Action) Input {
	return Input{
		Endpoint: model.Endpoint{ID: "ep1", OrgID: "org1"},
		Scenario: model.Scenario{Default: action},
		Alert:    model.Alert{State: model.StateFiring, Severity: model.SeverityCritical, Fields: map[string]any{}},
		Now:      testNow,
	}
}

type phoneWant struct {
	member string
	reason string
}

func checkPhones(t *testing.T, d Decision, want []phoneWant) {
	t.Helper()
	var got []phoneWant
	for _, p := range d.Phones {
		got = append(got, phoneWant{p.MemberID, p.Reason})
		if p.Queued != (p.Reason == model.ReasonQueued) {
			t.Errorf("phone of %s: Queued=%v with reason %s", p.MemberID, p.Queued, p.Reason)
		}
		if p.CallID != "" {
			t.Errorf("phone of %s: CallID %q set, want it left to the caller", p.MemberID, p.CallID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("phones = %v, want %v", got, want)
	}
}

func TestDecideActions(t *testing.T) {
	cases := []struct {
		name    string
		action  model.Action
		outcome string
		phones  []phoneWant
	}{
		{"primary", model.Action{Type: model.ActionCallPrimary}, model.OutcomeQueued,
			[]phoneWant{{"alice", model.ReasonQueued}}},
		{"empty type is primary", model.Action{}, model.OutcomeQueued,
			[]phoneWant{{"alice", model.ReasonQueued}}},
		{"member", model.Action{Type: model.ActionCallMember, MemberID: "bob"}, model.OutcomeQueued,
			[]phoneWant{{"bob", model.ReasonQueued}}},
		{"member of other org", model.Action{Type: model.ActionCallMember, MemberID: "mallory"}, model.OutcomeNoPhones, nil},
		{"unknown member", model.Action{Type: model.ActionCallMember, MemberID: "nobody"}, model.OutcomeNoPhones, nil},
		{"member without phone", model.Action{Type: model.ActionCallMember, MemberID: "frank"}, model.OutcomeNoPhones, nil},
		{"all", model.Action{Type: model.ActionCallAll}, model.OutcomeQueued, []phoneWant{
			{"alice", model.ReasonQueued}, {"bob", model.ReasonQueued},
			{"carol", model.ReasonNoConsent}, {"dave", model.ReasonBlockedNumber},
		}},
		{"project drops other org", model.Action{Type: model.ActionCallProject, ProjectID: "db"}, model.OutcomeQueued, []phoneWant{
			{"alice", model.ReasonQueued}, {"bob", model.ReasonQueued},
		}},
		{"project mixed reasons", model.Action{Type: model.ActionCallProject, ProjectID: "web"}, model.OutcomeQueued, []phoneWant{
			{"bob", model.ReasonQueued}, {"carol", model.ReasonNoConsent}, {"dave", model.ReasonBlockedNumber},
		}},
		{"unknown project", model.Action{Type: model.ActionCallProject, ProjectID: "none"}, model.OutcomeNoPhones, nil},
		// testNow is 01:59 on 3 June in Berlin, before the 09:00 handover: day 0, bob.
		{"schedule", model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "ops"}, model.OutcomeQueued,
			[]phoneWant{{"bob", model.ReasonQueued}}},
		{"schedule of other org", model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "foreign"}, model.OutcomeNoPhones, nil},
		{"unknown schedule", model.Action{Type: model.ActionCallOnSchedule, ScheduleID: "x"}, model.OutcomeNoPhones, nil},
		{"none", model.Action{Type: model.ActionNone}, model.OutcomeActionNone, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, ctr := newFixture()
			d := Decide(dir, ctr, input(c.action))
			if d.Outcome != c.outcome {
				t.Errorf("outcome %q, want %q", d.Outcome, c.outcome)
			}
			if d.RuleIndex != -1 {
				t.Errorf("rule index %d, want -1 for the default action", d.RuleIndex)
			}
			if d.CancelQueued {
				t.Error("CancelQueued set for a firing alert")
			}
			checkPhones(t, d, c.phones)
		})
	}
}

func TestDecideOutcomeWhenAllHeldBack(t *testing.T) {
	dir, ctr := newFixture()
	in := input(model.Action{Type: model.ActionCallProject, ProjectID: "web"})
	ctr.lastCall["+4915112345672"] = testNow.Add(-30 * time.Second)
	d := Decide(dir, ctr, in)
	if d.Outcome != model.OutcomeNoCall {
		t.Errorf("outcome %q, want no_call", d.Outcome)
	}
	checkPhones(t, d, []phoneWant{{"bob", model.ReasonCooldown}, {"carol", model.ReasonNoConsent}, {"dave", model.ReasonBlockedNumber}})
	if detail := d.Phones[2].Detail; !strings.Contains(detail, "premium_rate") {
		t.Errorf("blocked number detail %q does not name premium_rate", detail)
	}
}

func TestDecideSharedPhoneKeepsConsentingMember(t *testing.T) {
	dir, ctr := newFixture()
	alice := dir.members["alice"]
	alice.Consent = nil
	dir.members["alice"] = alice
	d := Decide(dir, ctr, input(model.Action{Type: model.ActionCallProject, ProjectID: "db"}))
	// alice and erin share a phone; erin consented, so the phone is called once, for erin.
	checkPhones(t, d, []phoneWant{{"erin", model.ReasonQueued}, {"bob", model.ReasonQueued}})
}

func TestDecideSuppressed(t *testing.T) {
	dir, ctr := newFixture()
	ctr.suppressed["ep1"] = testNow.Add(time.Minute)
	d := Decide(dir, ctr, input(model.Action{Type: model.ActionCallAll}))
	if d.Outcome != model.OutcomeSuppressed {
		t.Errorf("outcome %q, want suppressed", d.Outcome)
	}
	checkPhones(t, d, []phoneWant{
		{"alice", model.ReasonSuppressed}, {"bob", model.ReasonSuppressed},
		{"carol", model.ReasonNoConsent}, {"dave", model.ReasonBlockedNumber},
	})

	// The suppression ends at its time stamp.
	ctr.suppressed["ep1"] = testNow
	if d := Decide(dir, ctr, input(model.Action{Type: model.ActionCallAll})); d.Outcome != model.OutcomeQueued {
		t.Errorf("outcome at the end of the suppression %q, want queued", d.Outcome)
	}
	// Another endpoint of the organization is not suppressed.
	ctr.suppressed["ep1"] = testNow.Add(time.Minute)
	in := input(model.Action{Type: model.ActionCallAll})
	in.Endpoint.ID = "ep2"
	if d := Decide(dir, ctr, in); d.Outcome != model.OutcomeQueued {
		t.Errorf("outcome on another endpoint %q, want queued", d.Outcome)
	}
}

func TestDecideCooldown(t *testing.T) {
	cases := []struct {
		name  string
		ago   time.Duration
		brake model.Brakes
		want  string
	}{
		{"within default", 59 * time.Second, model.Brakes{}, model.ReasonCooldown},
		{"at default", 60 * time.Second, model.Brakes{}, model.ReasonQueued},
		{"within custom", 4 * time.Minute, model.Brakes{PhoneCooldown: model.Duration(5 * time.Minute)}, model.ReasonCooldown},
		{"after custom", 90 * time.Second, model.Brakes{PhoneCooldown: model.Duration(80 * time.Second)}, model.ReasonQueued},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, ctr := newFixture()
			org := dir.orgs["org1"]
			org.Brakes = c.brake
			dir.orgs["org1"] = org
			ctr.lastCall["+4915112345671"] = testNow.Add(-c.ago)
			d := Decide(dir, ctr, input(model.Action{}))
			checkPhones(t, d, []phoneWant{{"alice", c.want}})
		})
	}
}

func TestDecideDailyCap(t *testing.T) {
	dir, ctr := newFixture()
	org := dir.orgs["org1"]
	org.Brakes.DailyCallCap = 5
	dir.orgs["org1"] = org
	ctr.perDay["org1/2025-06-02"] = 4
	ctr.perDay["org1/2025-06-01"] = 100 // another day does not count

	d := Decide(dir, ctr, input(model.Action{Type: model.ActionCallProject, ProjectID: "db"}))
	// One call fits under the cap of 5; the second phone of this same request is capped.
	checkPhones(t, d, []phoneWant{{"alice", model.ReasonQueued}, {"bob", model.ReasonDailyCap}})
	if d.Outcome != model.OutcomeQueued {
		t.Errorf("outcome %q, want queued", d.Outcome)
	}

	ctr.perDay["org1/2025-06-02"] = 5
	d = Decide(dir, ctr, input(model.Action{}))
	checkPhones(t, d, []phoneWant{{"alice", model.ReasonDailyCap}})
	if d.Outcome != model.OutcomeNoCall {
		t.Errorf("outcome %q, want no_call", d.Outcome)
	}

	// A time in another zone is counted on its UTC day: 2025-06-03 01:59 in
	// Berlin is still 2025-06-02 in UTC.
	in := input(model.Action{})
	in.Now = testNow.In(time.FixedZone("CEST", 2*3600))
	checkPhones(t, Decide(dir, ctr, in), []phoneWant{{"alice", model.ReasonDailyCap}})
}

func TestDecideDefaultDailyCap(t *testing.T) {
	dir, ctr := newFixture()
	ctr.perDay["org1/2025-06-02"] = model.DefaultDailyCallCap - 1
	d := Decide(dir, ctr, input(model.Action{Type: model.ActionCallProject, ProjectID: "db"}))
	checkPhones(t, d, []phoneWant{{"alice", model.ReasonQueued}, {"bob", model.ReasonDailyCap}})
}

func TestDecideResolved(t *testing.T) {
	dir, ctr := newFixture()
	in := input(model.Action{Type: model.ActionCallAll})
	in.Alert.State = model.StateResolved
	in.Alert.Severity = model.SeverityInfo

	d := Decide(dir, ctr, in)
	if d.Outcome != model.OutcomeResolved || !d.CancelQueued || len(d.Phones) != 0 {
		t.Errorf("resolved with default handling = outcome %q, cancel %v, %d phones; want resolved, true, 0", d.Outcome, d.CancelQueued, len(d.Phones))
	}

	in.Scenario.OnResolved = model.ResolvedCancel
	if d := Decide(dir, ctr, in); d.Outcome != model.OutcomeResolved || !d.CancelQueued {
		t.Errorf("resolved with cancel = outcome %q, cancel %v", d.Outcome, d.CancelQueued)
	}

	in.Scenario.OnResolved = model.ResolvedRoute
	in.Scenario.Rules = []model.Rule{{
		Name:       "resolved to primary",
		Conditions: []model.Condition{{Field: "state", Op: OpIn, Value: []any{"resolved"}}},
		Action:     model.Action{Type: model.ActionCallPrimary},
	}}
	d = Decide(dir, ctr, in)
	if d.Outcome != model.OutcomeQueued || d.CancelQueued || d.RuleIndex != 0 || d.RuleName != "resolved to primary" {
		t.Errorf("resolved with route = outcome %q, cancel %v, rule %d %q", d.Outcome, d.CancelQueued, d.RuleIndex, d.RuleName)
	}
	checkPhones(t, d, []phoneWant{{"alice", model.ReasonQueued}})
}

func TestDecideUnknownOrganization(t *testing.T) {
	dir, ctr := newFixture()
	in := input(model.Action{Type: model.ActionCallAll})
	in.Endpoint.OrgID = "gone"
	if d := Decide(dir, ctr, in); d.Outcome != model.OutcomeNoPhones {
		t.Errorf("outcome %q, want no_phones", d.Outcome)
	}
	if d := Decide(nil, nil, in); d.Outcome != model.OutcomeNoPhones {
		t.Errorf("outcome with nil directory %q, want no_phones", d.Outcome)
	}
}

func TestDecideIsDeterministic(t *testing.T) {
	dir, ctr := newFixture()
	in := input(model.Action{Type: model.ActionCallAll})
	first := Decide(dir, ctr, in)
	for range 50 {
		again := Decide(dir, ctr, in)
		if !slices.Equal(again.Phones, first.Phones) || again.Outcome != first.Outcome {
			t.Fatalf("Decide gave %v then %v", first, again)
		}
	}
}
