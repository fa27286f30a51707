package pbxsim

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Behavior kinds. Each produces the events of the Asterisk 20 recording
// named in its comment; KindForRecording maps those file names back.
const (
	// KindAnswer rings (180) and answers (200) after AnswerAfter. The
	// callee stays up until the application deletes the channel, or hangs
	// up by itself after HangupAfter when that is set (answered-200).
	KindAnswer = "answer"
	// KindBusy rejects with 486 Busy Here: Dial BUSY, cause 17 (busy-486).
	KindBusy = "busy"
	// KindDecline rejects with 603 Decline: Dial BUSY, cause 21 (declined-603).
	KindDecline = "decline"
	// KindNoAnswer rings until the originate timeout: cause 19 with the
	// channel in state Ringing (ringing-no-answer).
	KindNoAnswer = "no-answer"
	// KindTrunk503 rejects with 503 Service Unavailable: Dial CONGESTION,
	// cause 34 (trunk-503).
	KindTrunk503 = "trunk-503"
	// KindUnreachable never responds: the channel stays Down and ends with
	// cause 19 at the originate timeout (trunk-unreachable).
	KindUnreachable = "unreachable"
	// KindUnavailable rejects with 480 Temporarily Unavailable: Dial BUSY,
	// cause 19, no ringing (unavailable-480).
	KindUnavailable = "unavailable"
	// KindUnallocated rejects with 404 Not Found: Dial NOANSWER, cause 1
	// (unallocated-404).
	KindUnallocated = "unallocated"
	// KindAllocationFailure makes the originate request itself fail with
	// HTTP 500 {"error":"Allocation failed"}; no channel, no events.
	KindAllocationFailure = "allocation-failure"
)

// Kinds returns every behavior kind, in a stable order.
func Kinds() []string {
	return []string{
		KindAnswer, KindBusy, KindDecline, KindNoAnswer, KindTrunk503,
		KindUnreachable, KindUnavailable, KindUnallocated, KindAllocationFailure,
	}
}

// recordings maps the base name of each Asterisk 20 recording to the kind
// that reproduces it.
var recordings = map[string]string{
	"answered-200":      KindAnswer,
	"busy-486":          KindBusy,
	"declined-603":      KindDecline,
	"ringing-no-answer": KindNoAnswer,
	"trunk-503":         KindTrunk503,
	"trunk-unreachable": KindUnreachable,
	"unavailable-480":   KindUnavailable,
	"unallocated-404":   KindUnallocated,
}

// KindForRecording returns the behavior kind that reproduces the recording
// in the named file (a path or a base name such as "busy-486.json"), and
// false for a file it does not know.
func KindForRecording(name string) (string, bool) {
	base := strings.TrimSuffix(filepath.Base(name), ".json")
	kind, ok := recordings[base]
	return kind, ok
}

// Recordings returns the base names (without .json) of the recordings that
// KindForRecording maps, sorted.
func Recordings() []string {
	names := make([]string, 0, len(recordings))
	for name := range recordings {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Behavior is the far end of the trunk for one call. Every
// delay is simulated time: the server multiplies it by Config.TimeScale.
type Behavior struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind" yaml:"kind"`
	// RingAfter is the delay between the INVITE (the first Dial event)
	// and the far end's first response: the 180 Ringing, or the final
	// rejection for busy, decline, trunk-503, unavailable and unallocated.
	// Zero responds at once, as the recorded SIP user agent did.
	RingAfter time.Duration `json:"ring_after,omitempty" yaml:"ring_after"`
	// AnswerAfter is, for KindAnswer, the delay between the 180 and the
	// 200 OK. When the originate timeout comes first, the call ends as
	// no-answer.
	AnswerAfter time.Duration `json:"answer_after,omitempty" yaml:"answer_after"`
	// HangupAfter is, for KindAnswer, how long the callee stays on the line
	// before hanging up by itself. Zero keeps the call up until the
	// application deletes the channel.
	HangupAfter time.Duration `json:"hangup_after,omitempty" yaml:"hangup_after"`
	// RingFor is, for KindNoAnswer, how long the far end rings before it
	// gives up with 480 Temporarily Unavailable. Zero rings until the
	// originate timeout, as recorded.
	RingFor time.Duration `json:"ring_for,omitempty" yaml:"ring_for"`
}

// behaviorJSON is Behavior with durations as Go duration strings ("2s").
type behaviorJSON struct {
	Kind        string `json:"kind"`
	RingAfter   string `json:"ring_after,omitempty"`
	AnswerAfter string `json:"answer_after,omitempty"`
	HangupAfter string `json:"hangup_after,omitempty"`
	RingFor     string `json:"ring_for,omitempty"`
}

// MarshalJSON writes the delays as Go duration strings such as "1.5s".
func (b Behavior) MarshalJSON() ([]byte, error) {
	format := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return json.Marshal(behaviorJSON{
		Kind:        b.Kind,
		RingAfter:   format(b.RingAfter),
		AnswerAfter: format(b.AnswerAfter),
		HangupAfter: format(b.HangupAfter),
		RingFor:     format(b.RingFor),
	})
}

// UnmarshalJSON reads the delays as Go duration strings such as "1.5s".
func (b *Behavior) UnmarshalJSON(data []byte) error {
	var raw behaviorJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := Behavior{Kind: raw.Kind}
	for _, field := range []struct {
		name  string
		value string
		dst   *time.Duration
	}{
		{"ring_after", raw.RingAfter, &out.RingAfter},
		{"answer_after", raw.AnswerAfter, &out.AnswerAfter},
		{"hangup_after", raw.HangupAfter, &out.HangupAfter},
		{"ring_for", raw.RingFor, &out.RingFor},
	} {
		if field.value == "" {
			continue
		}
		d, err := time.ParseDuration(field.value)
		if err != nil {
			return fmt.Errorf("behavior %s %q is not a duration such as \"2s\": %w", field.name, field.value, err)
		}
		*field.dst = d
	}
	*b = out
	return nil
}

// Validate reports an unknown kind or a negative delay.
func (b Behavior) Validate() error {
	known := false
	for _, k := range Kinds() {
		if b.Kind == k {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("unknown behavior kind %q; use one of %s", b.Kind, strings.Join(Kinds(), ", "))
	}
	if b.RingAfter < 0 || b.AnswerAfter < 0 || b.HangupAfter < 0 || b.RingFor < 0 {
		return fmt.Errorf("behavior %s: delays must not be negative", b.Kind)
	}
	return nil
}

// Rule chooses a behavior for the dialed numbers it matches.
type Rule struct {
	// Match is an exact number ("+15551234567"), a prefix ending in "*"
	// ("+1555*"), or "*" for every number. A leading "+" is ignored on
	// both sides, so "+15551234567" also matches SIP/trunk/15551234567.
	Match    string   `json:"match" yaml:"match"`
	Behavior Behavior `json:"behavior" yaml:",inline"`
}

// Validate reports an empty or malformed match and an invalid behavior.
func (r Rule) Validate() error {
	if r.Match == "" {
		return fmt.Errorf("rule with behavior %q: match is empty; use a number, a prefix ending in \"*\", or \"*\"", r.Behavior.Kind)
	}
	if i := strings.Index(r.Match, "*"); i >= 0 && i != len(r.Match)-1 {
		return fmt.Errorf("rule match %q: \"*\" is allowed only at the end", r.Match)
	}
	if err := r.Behavior.Validate(); err != nil {
		return fmt.Errorf("rule match %q: %w", r.Match, err)
	}
	return nil
}

// matchRank returns how well the rule matches number: 0 for no match, a
// higher value for a more specific match (exact beats any prefix, a longer
// prefix beats a shorter one).
func (r Rule) matchRank(number string) int {
	match := strings.TrimPrefix(r.Match, "+")
	number = strings.TrimPrefix(number, "+")
	if prefix, ok := strings.CutSuffix(match, "*"); ok {
		if strings.HasPrefix(number, prefix) {
			return 1 + len(prefix)
		}
		return 0
	}
	if number != "" && number == match {
		return 1 << 20
	}
	return 0
}

// NumberFromEndpoint returns the dialed number in an ARI endpoint such as
// "PJSIP/+15551234567@trunk" or "SIP/trunk-a/15551234567": the longest run
// of digits, with the "+" just before it if there is one (the last of equal
// runs wins). It returns "" when the endpoint has no digits, as in
// "Local/answer@test".
func NumberFromEndpoint(endpoint string) string {
	best := ""
	for i := 0; i < len(endpoint); {
		if endpoint[i] < '0' || endpoint[i] > '9' {
			i++
			continue
		}
		start := i
		for i < len(endpoint) && endpoint[i] >= '0' && endpoint[i] <= '9' {
			i++
		}
		run := endpoint[start:i]
		if start > 0 && endpoint[start-1] == '+' {
			run = "+" + run
		}
		if len(strings.TrimPrefix(run, "+")) >= len(strings.TrimPrefix(best, "+")) {
			best = run
		}
	}
	return best
}
