package classify_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ringhook/ringhook/agent/classify"
	"github.com/ringhook/ringhook/integration/shareddata"
)

// recorded is the expected outcome of each recorded call.
var recorded = map[string]classify.Result{
	"answered-200.json":      {Disposition: classify.Answered, Cause: 16, CauseText: "Normal Clearing"},
	"busy-486.json":          {Disposition: classify.Busy, Cause: 17, CauseText: "User busy"},
	"declined-603.json":      {Disposition: classify.Busy, Cause: 21, CauseText: "Call Rejected"},
	"ringing-no-answer.json": {Disposition: classify.NoAnswer, Cause: 19, CauseText: "User alerting, no answer"},
	"unavailable-480.json":   {Disposition: classify.Failed, Retryable: true, Cause: 19, CauseText: "User alerting, no answer"},
	"unallocated-404.json":   {Disposition: classify.Failed, Retryable: false, Cause: 1, CauseText: "Unallocated (unassigned) number"},
	"trunk-503.json":         {Disposition: classify.Failed, Retryable: true, Cause: 34, CauseText: "Circuit/channel congestion"},
	"trunk-unreachable.json": {Disposition: classify.Failed, Retryable: true, Cause: 19, CauseText: "User alerting, no answer"},
}

func TestClassifyRecordings(t *testing.T) {
	dir := shareddata.Dir(t, "ari-traces")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no recordings in %s", dir)
	}
	sort.Strings(files)

	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := recorded[name]
			if !ok {
				t.Fatalf("recording %s has no expected outcome in this test; add one", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, err := classify.ParseRecording(data)
			if err != nil {
				t.Fatal(err)
			}
			got := classify.Classify(in)
			if got.Disposition != want.Disposition {
				t.Errorf("disposition = %q, want %q (reason %q)", got.Disposition, want.Disposition, got.Reason)
			}
			if got.Retryable != want.Retryable {
				t.Errorf("retryable = %v, want %v", got.Retryable, want.Retryable)
			}
			if got.Cause != want.Cause {
				t.Errorf("cause = %d, want %d", got.Cause, want.Cause)
			}
			if got.CauseText != want.CauseText {
				t.Errorf("cause text = %q, want %q", got.CauseText, want.CauseText)
			}
			if got.Reason == "" {
				t.Error("reason is empty")
			}
		})
	}
}

func destroyed(cause, techCause int) classify.Event {
	return classify.Event{Type: "ChannelDestroyed", ChannelID: "c1", Cause: cause, TechCause: techCause}
}

func dial(status string) classify.Event {
	return classify.Event{Type: "Dial", ChannelID: "c1", DialStatus: status}
}

func state(s string) classify.Event {
	return classify.Event{Type: "ChannelStateChange", ChannelID: "c1", State: s}
}

func TestClassifyRules(t *testing.T) {
	tests := []struct {
		name      string
		in        classify.Input
		want      string
		retryable bool
		sipCode   int
	}{
		{"pjsip busy 486", classify.Input{Events: []classify.Event{dial(""), dial("BUSY"), destroyed(17, 486)}}, classify.Busy, false, 486},
		{"pjsip decline 603", classify.Input{Events: []classify.Event{dial(""), dial("NOANSWER"), destroyed(21, 603)}}, classify.Busy, false, 603},
		{"pjsip forbidden 403", classify.Input{Events: []classify.Event{dial(""), dial("NOANSWER"), destroyed(21, 403)}}, classify.Failed, true, 403},
		{"rejected without busy", classify.Input{Events: []classify.Event{dial(""), destroyed(21, 0)}}, classify.Failed, true, 0},
		{"local Busy() cause 0", classify.Input{Events: []classify.Event{dial(""), dial("BUSY"), destroyed(0, 0)}}, classify.Busy, false, 0},
		{"timeout before 20.18 after ringing", classify.Input{Events: []classify.Event{state("Ringing"), destroyed(0, 0)}}, classify.NoAnswer, false, 0},
		{"cause 0 without ringing", classify.Input{Events: []classify.Event{dial(""), destroyed(0, 0)}}, classify.Failed, true, 0},
		{"early media then timeout", classify.Input{Events: []classify.Event{dial("PROGRESS"), destroyed(19, 480)}}, classify.NoAnswer, false, 480},
		{"no user responding 408 without ringing", classify.Input{Events: []classify.Event{dial(""), destroyed(18, 408)}}, classify.Failed, true, 408},
		{"congestion after ringing cause 0", classify.Input{Events: []classify.Event{state("Ringing"), dial("CONGESTION"), destroyed(0, 0)}}, classify.Failed, true, 0},
		{"chanunavail", classify.Input{Events: []classify.Event{dial("CHANUNAVAIL"), destroyed(3, 0)}}, classify.Failed, true, 0},
		{"number changed 410", classify.Input{Events: []classify.Event{destroyed(22, 410)}}, classify.Failed, false, 410},
		{"invalid format 484", classify.Input{Events: []classify.Event{destroyed(28, 484)}}, classify.Failed, false, 484},
		{"server error 500", classify.Input{Events: []classify.Event{destroyed(38, 500)}}, classify.Failed, true, 500},
		{"gateway timeout 504", classify.Input{Events: []classify.Event{destroyed(102, 504)}}, classify.Failed, true, 504},
		{"answered callee hangs up cause 0", classify.Input{Events: []classify.Event{state("Up"), {Type: "StasisStart", ChannelID: "c1"}, destroyed(0, 0)}}, classify.Answered, false, 0},
		{"dial answer only", classify.Input{Events: []classify.Event{dial("ANSWER")}}, classify.Answered, false, 0},
		{"events lost", classify.Input{Events: []classify.Event{dial(""), state("Ringing")}, EventsLost: true}, classify.Failed, true, 0},
		{"normal clearing unanswered", classify.Input{Events: []classify.Event{dial(""), destroyed(16, 0)}}, classify.Failed, true, 0},
		{"other channel ignored", classify.Input{ChannelID: "c1", Events: []classify.Event{{Type: "StasisStart", ChannelID: "c2"}, destroyed(17, 486)}}, classify.Busy, false, 486},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.OriginateStatus = 200
			if in.ChannelID == "" {
				in.ChannelID = "c1"
			}
			got := classify.Classify(in)
			if got.Disposition != tt.want {
				t.Errorf("disposition = %q, want %q (reason %q)", got.Disposition, tt.want, got.Reason)
			}
			if got.Retryable != tt.retryable {
				t.Errorf("retryable = %v, want %v", got.Retryable, tt.retryable)
			}
			if got.SIPCode != tt.sipCode {
				t.Errorf("sip code = %d, want %d", got.SIPCode, tt.sipCode)
			}
		})
	}
}

func TestClassifyOriginateFailures(t *testing.T) {
	for _, status := range []int{0, 400, 401, 403, 409, 500, 503} {
		got := classify.Classify(classify.Input{ChannelID: "c1", OriginateStatus: status, OriginateError: "boom"})
		if got.Disposition != classify.Failed {
			t.Errorf("status %d: disposition = %q, want failed", status, got.Disposition)
		}
		if !got.Retryable {
			t.Errorf("status %d: retryable = false, want true", status)
		}
		if got.Reason == "" {
			t.Errorf("status %d: reason is empty", status)
		}
	}
}

func TestParseEventTechCause(t *testing.T) {
	for _, raw := range []string{
		`{"type":"ChannelDestroyed","cause":17,"cause_txt":"User busy","tech_cause":486,"channel":{"id":"x","state":"Down"}}`,
		`{"type":"ChannelDestroyed","cause":17,"cause_txt":"User busy","tech_cause":"486","channel":{"id":"x","state":"Down"}}`,
	} {
		ev, err := classify.ParseEvent([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if ev.TechCause != 486 {
			t.Errorf("tech cause = %d, want 486 from %s", ev.TechCause, raw)
		}
		if ev.ChannelID != "x" {
			t.Errorf("channel id = %q, want x", ev.ChannelID)
		}
	}
}
