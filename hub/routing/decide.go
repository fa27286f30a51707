package routing

import (
	"errors"
	"strconv"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/oncall"
	"github.com/ringhook/ringhook/hub/phone"
)

// Decide routes one webhook and applies the brakes. It reads no clock and
// no randomness, and its output order depends only on its input, so every
// node that applies the same Raft entry reaches the same decision.
//
// A resolved alert is cancelled (Outcome resolved, CancelQueued set, no
// phones) unless the scenario's OnResolved is "route". Any other alert is
// matched against the scenario, its action is resolved to the phones of the
// endpoint's organization, and each phone is checked in this order: consent,
// blocked number, endpoint suppression, phone cooldown, daily call cap.
func Decide(dir Directory, ctr Counters, in Input) Decision {
	if ctr == nil {
		ctr = noCounters{}
	}

	if in.Alert.State == model.StateResolved && in.Scenario.OnResolved != model.ResolvedRoute {
		return Decision{
			RuleIndex:    -1,
			Outcome:      model.OutcomeResolved,
			Phones:       []model.PhoneDecision{},
			CancelQueued: true,
		}
	}

	index, name, action := Match(in.Scenario, in.Alert)
	d := Decision{RuleIndex: index, RuleName: name, Action: action, Phones: []model.PhoneDecision{}}
	if action.Type == model.ActionNone {
		d.Outcome = model.OutcomeActionNone
		return d
	}

	var org model.Organization
	var members []model.Member
	if dir != nil {
		var ok bool
		org, ok = dir.Organization(in.Endpoint.OrgID)
		if ok {
			members = resolveMembers(dir, org, action, in.Now)
		}
	}
	targets := distinctPhones(members)
	if len(targets) == 0 {
		d.Outcome = model.OutcomeNoPhones
		return d
	}

	d.Phones = applyBrakes(ctr, org, in, targets)
	d.Outcome = outcome(d.Phones)
	return d
}

// resolveMembers returns the members an action names, in the order the
// action gives them. Members of other organizations are dropped.
func resolveMembers(dir Directory, org model.Organization, action model.Action, now time.Time) []model.Member {
	var candidates []model.Member
	addByID := func(id string) {
		if m, ok := dir.Member(id); ok {
			candidates = append(candidates, m)
		}
	}

	switch action.Type {
	case model.ActionCallPrimary:
		if org.PrimaryMemberID != "" {
			addByID(org.PrimaryMemberID)
		}
	case model.ActionCallMember:
		addByID(action.MemberID)
	case model.ActionCallAll:
		candidates = dir.MembersOfOrg(org.ID)
	case model.ActionCallProject:
		candidates = dir.MembersOfProject(action.ProjectID)
	case model.ActionCallOnSchedule:
		s, ok := dir.Schedule(action.ScheduleID)
		if ok && s.OrgID == org.ID {
			for _, id := range oncall.OnCall(s, now) {
				addByID(id)
			}
		}
	}

	members := make([]model.Member, 0, len(candidates))
	for _, m := range candidates {
		if m.OrgID == org.ID && m.OrgID != "" {
			members = append(members, m)
		}
	}
	return members
}

// distinctPhones keeps the first member of each phone, in order, and skips
// members without a phone. When several members share a phone, a member who
// consented takes the place of one who did not, so a shared phone is not
// held back for the wrong member's missing consent.
func distinctPhones(members []model.Member) []model.Member {
	var out []model.Member
	index := map[string]int{}
	for _, m := range members {
		if m.Phone == "" {
			continue
		}
		i, seen := index[m.Phone]
		if !seen {
			index[m.Phone] = len(out)
			out = append(out, m)
			continue
		}
		if out[i].Consent == nil && m.Consent != nil {
			out[i] = m
		}
	}
	return out
}

// applyBrakes decides, for each phone in order, whether a call is queued.
func applyBrakes(ctr Counters, org model.Organization, in Input, targets []model.Member) []model.PhoneDecision {
	brakes := org.Brakes.Effective()
	suppressedUntil, suppressed := ctr.SuppressedUntil(in.Endpoint.ID)
	suppressed = suppressed && suppressedUntil.After(in.Now)
	callsToday := ctr.CallsOnDay(org.ID, in.Now.UTC().Format(time.DateOnly))

	decisions := make([]model.PhoneDecision, 0, len(targets))
	for _, m := range targets {
		pd := model.PhoneDecision{Phone: m.Phone, MemberID: m.ID}

		if m.Consent == nil {
			pd.Reason = model.ReasonNoConsent
			pd.Detail = "the member has no recorded consent to be called"
		} else if err := phone.Check(m.Phone); err != nil {
			pd.Reason = model.ReasonBlockedNumber
			pd.Detail = blockedDetail(err)
		} else if suppressed {
			pd.Reason = model.ReasonSuppressed
			pd.Detail = "the endpoint is suppressed until " + suppressedUntil.UTC().Format(time.RFC3339) + " after an answered call"
		} else if last, ok := ctr.LastCallAt(m.Phone); ok && in.Now.Sub(last) < brakes.PhoneCooldown.Std() {
			pd.Reason = model.ReasonCooldown
			pd.Detail = "the phone was called at " + last.UTC().Format(time.RFC3339) + ", within the cooldown of " + brakes.PhoneCooldown.Std().String()
		} else if callsToday >= brakes.DailyCallCap {
			pd.Reason = model.ReasonDailyCap
			pd.Detail = "the organization reached its cap of " + strconv.Itoa(brakes.DailyCallCap) + " calls for the UTC day"
		} else {
			pd.Queued = true
			pd.Reason = model.ReasonQueued
			callsToday++
		}
		decisions = append(decisions, pd)
	}
	return decisions
}

func blockedDetail(err error) string {
	var be *phone.BlockedError
	if errors.As(err, &be) {
		return be.Reason + ": " + be.Detail
	}
	return err.Error()
}

// outcome sums up the phone decisions of a routed alert.
func outcome(phones []model.PhoneDecision) string {
	anySuppressed := false
	for _, p := range phones {
		if p.Queued {
			return model.OutcomeQueued
		}
		if p.Reason == model.ReasonSuppressed {
			anySuppressed = true
		}
	}
	if anySuppressed {
		return model.OutcomeSuppressed
	}
	return model.OutcomeNoCall
}

// noCounters replaces a nil Counters: no call was queued yet.
type noCounters struct{}

func (noCounters) CallsOnDay(string, string) int            { return 0 }
func (noCounters) LastCallAt(string) (time.Time, bool)      { return time.Time{}, false }
func (noCounters) SuppressedUntil(string) (time.Time, bool) { return time.Time{}, false }
