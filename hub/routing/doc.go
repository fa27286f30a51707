// Package routing decides what the hub does with one parsed webhook: which
// rule of the endpoint's scenario matches, which phones its action resolves
// to, and which of those the brakes hold back. It is pure and deterministic,
// because the Raft state machine calls Decide from Apply on every node.
//
// # Scenarios
//
// A scenario is an ordered list of rules and a default action. Rules are
// evaluated top to bottom, and the first rule whose conditions all match
// decides the action. A rule without conditions matches every alert. When
// no rule matches, the default action applies. An empty action type, in a
// rule or in the default, means call_primary, so an alert is never dropped
// silently. ValidateScenario rejects a scenario when it is saved, and its
// message names the rule by index and name and states the problem.
//
// # Limits
//
// Match runs inside every hub node's Raft Apply, and nothing else is
// applied while it runs. A scenario therefore has at most MaxRules (200)
// rules and a rule at most MaxConditions (20) conditions, and a wildcard
// visits at most 1,000 elements of a list. BenchmarkMatchWorstCase runs a
// scenario at both limits with every condition on alerts.*.labels.alertname
// against 10,000 alerts, so each condition reads 1,000 values and no rule
// matches. It takes about 1.5 s per Match on a 2 vCPU AMD EPYC development
// container (go test -bench MatchWorstCase ./hub/routing). A typical
// scenario of a few rules takes microseconds (BenchmarkDecide).
//
// NOTE: the worst case still stalls writes for over a second. The limits
// bound it, but do not make it cheap. Scenarios stored before the limits
// existed are not checked again until they are saved. The wildcard limit
// changes the outcome for lists longer than 1,000, so during a rolling
// upgrade an older node may route such a webhook differently.
//
// # Fields
//
// A condition's field names one value of the alert:
//
//   - severity, state, message, tool and alert_count read the parsed alert,
//     and these names are matched ignoring case. severity is the normalized
//     level (critical, major, minor or info), missing when the payload states
//     no level. state is firing or resolved. message is the short summary,
//     tool the detected sending tool, and alert_count the number of alerts
//     the webhook carried.
//   - Any other name is a top-level field of the payload, with query-string
//     parameters merged in ("alertname", "status").
//   - "fields." followed by a path always reads the payload, so
//     fields.severity is the payload's own severity field, as sent.
//   - A dotted path goes into nested objects: commonLabels.env. In a list, a
//     segment is a zero-based index: alerts.0.labels.severity. The segment
//     "*" stands for every element of a list or every value of an object:
//     alerts.*.labels.team. In a list, "*" visits only the first
//     MaxWildcardElements (1,000) elements, so an alert beyond them is
//     reached by index only. An object's values have no order, so "*" visits
//     all of them, and the receiver's body limit (1 MiB by default) bounds
//     their number.
//   - Object keys are matched exactly first, then ignoring case. A key that
//     itself contains dots is found because the longest run of segments
//     that names a key wins: labels.app.kubernetes.io/name reads the key
//     "app.kubernetes.io/name" of labels. The walk does not backtrack after
//     choosing a key.
//   - A field that is absent, or whose value is JSON null, is missing.
//
// # Operators
//
//   - in, nin: the value is a list of strings, numbers or bools (a single
//     one counts as a list of one). in matches when the field equals an
//     element of the list.
//   - contains, not_contains: the value is a non-empty string or a number.
//     A string or number field matches when its text contains the value. A
//     list field matches when one of its elements equals the value.
//   - starts_with, ends_with: the value is a non-empty string or number, and
//     the field's text must start or end with it.
//   - exists, not_exists: take no value. exists matches when the field is
//     present and not null.
//   - gt, gte, lt, lte: the value is a number, and the field must be a
//     number greater than, at least, less than or at most the value. On the
//     severity field the value is a severity name instead, and severities
//     are ordered info < minor < major < critical: severity gte major
//     matches major and critical.
//
// Equality (in, nin, list elements in contains) compares two values as
// numbers when both read as numbers, and otherwise compares their text
// ignoring case: "CRITICAL" equals "critical", the number 2 equals "2.0",
// and true equals "true". Every text comparison ignores case. The text of a
// number is the number as the payload sent it (json.Number), or the shortest
// decimal form of a float. Bools have no text for contains, starts_with and
// ends_with.
//
// A number is a JSON number or a string holding a decimal number, such as
// "42", "-1.5" or "2e3" (spaces around it are ignored). "NaN", "Inf", hex
// and underscores are not numbers. Numbers compare as float64, so integers
// above 2^53 may compare equal to their neighbours.
//
// # Missing fields and wrong types
//
// A condition never panics. A positive operator (in, contains, starts_with,
// ends_with, exists, gt, gte, lt, lte) matches only when the field is
// present and at least one of its values (a path with "*" can give several)
// has a type the operator reads and satisfies it. A missing field therefore
// never matches them, and neither does a wrong type, such as an object for
// in or the text "high" for gt.
//
// A negative operator (nin, not_contains, not_exists) matches a missing
// field: an alert without severity satisfies severity nin [critical]. When
// the field is present, every value must have a type the operator reads and
// none may satisfy the positive operator. A wrong type therefore does not
// match either way: an object field matches neither in nor nin.
//
// # Actions
//
//   - call_primary calls the organization's primary member.
//   - call_on_schedule calls whoever is on call on schedule_id at the time of
//     the request (see package oncall).
//   - call_all calls every member of the organization.
//   - call_project calls every member of project_id.
//   - call_member calls member_id.
//   - none records the request and places no call.
//
// Members of another organization than the endpoint's, and members without a
// phone, are never called. The phones are de-duplicated in the order the
// action gives them. When two members share a phone, the first member who
// consented to be called is recorded for it.
//
// # Resolved notifications
//
// With on_resolved "cancel" (the default), a resolved notification places no
// call and cancels the endpoint's calls that are still queued: the outcome is
// resolved. With on_resolved "route", it is routed like any alert, and rules
// can test state.
//
// # Brakes
//
// Each phone of a routed alert is checked in this order, and the first check
// that fails is recorded as its reason:
//
//  1. no_consent: the member has no recorded consent.
//  2. blocked_number: phone.Check rejects the number (emergency, short code,
//     premium-rate and other special numbers). Detail gives the reason.
//  3. suppressed: one of the endpoint's calls was answered recently. The
//     state machine suppresses the endpoint for the organization's
//     endpoint_suppression (default 120 s) after an answered call.
//  4. cooldown: a call to the phone was queued within the organization's
//     phone_cooldown (default 60 s).
//  5. daily_cap: the organization has reached its daily_call_cap (default
//     100 calls) on the current UTC day, counting the calls this request
//     queued before this phone.
//  6. Otherwise the call is queued.
//
// The request's outcome is queued when at least one call is queued,
// action_none for the none action, no_phones when the action resolved to
// nobody, suppressed when the endpoint's suppression held the calls back,
// and no_call when every phone was held back for another reason.
package routing
