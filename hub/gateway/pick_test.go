package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringhook/ringhook/protocol"
)

func TestPickAgent(t *testing.T) {
	a := candidate{agentID: "a", trunk: "t1", free: -1}
	b := candidate{agentID: "b", trunk: "t2", free: -1}
	c := candidate{agentID: "c", trunk: "t3", free: 2}
	full := candidate{agentID: "b", trunk: "t2", free: 0}

	cases := []struct {
		name      string
		cands     []candidate
		tried     map[string]int
		connected []string
		cursor    string
		want      string // agent id, "" to wait
	}{
		{"first call starts at lowest id", []candidate{a, b, c}, nil, []string{"t1", "t2", "t3"}, "", "a"},
		{"round-robin continues after cursor", []candidate{a, b, c}, nil, []string{"t1", "t2", "t3"}, "a", "b"},
		{"round-robin wraps", []candidate{a, b, c}, nil, []string{"t1", "t2", "t3"}, "c", "a"},
		{"cursor agent gone", []candidate{a, c}, nil, []string{"t1", "t3"}, "b", "c"},
		{"tried trunk skipped", []candidate{a, b, c}, map[string]int{"t2": 1}, []string{"t1", "t2", "t3"}, "a", "c"},
		{"full agent skipped", []candidate{a, full, c}, nil, []string{"t1", "t2", "t3"}, "a", "c"},
		{"untried trunk connected but unhealthy: wait", []candidate{a}, map[string]int{"t1": 1}, []string{"t1", "t2"}, "", ""},
		{"untried trunk agent full: wait", []candidate{a, full}, map[string]int{"t1": 1}, []string{"t1", "t2"}, "", ""},
		{"every connected trunk tried: least tried", []candidate{a, b}, map[string]int{"t1": 2, "t2": 1}, []string{"t1", "t2"}, "b", "b"},
		{"every connected trunk tried: tie follows round-robin", []candidate{a, b}, map[string]int{"t1": 1, "t2": 1}, []string{"t1", "t2"}, "a", "b"},
		{"no agent", nil, nil, nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			connected := map[string]bool{}
			for _, tr := range tc.connected {
				connected[tr] = true
			}
			tried := tc.tried
			if tried == nil {
				tried = map[string]int{}
			}
			got := ""
			if i := pickAgent(tc.cands, tried, connected, tc.cursor); i >= 0 {
				got = tc.cands[i].agentID
			}
			if got != tc.want {
				t.Errorf("pickAgent = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	if code, msg := checkVersion(protocol.Version); code != "" {
		t.Errorf("current version rejected: %s %s", code, msg)
	}
	if code, msg := checkVersion(protocol.MinVersion - 1); code != protocol.CodeVersionTooOld || !strings.Contains(msg, "upgrade the agent") {
		t.Errorf("old version: code %q, message %q", code, msg)
	}
	if code, msg := checkVersion(protocol.Version + 1); code != protocol.CodeVersionTooNew || !strings.Contains(msg, "upgrade the hub") {
		t.Errorf("new version: code %q, message %q", code, msg)
	}
}

func TestCloseReasonFitsFrame(t *testing.T) {
	long := strings.Repeat("ä", 100) // 200 bytes
	got := closeReason(long)
	if len(got) > 123 {
		t.Errorf("reason is %d bytes, want at most 123", len(got))
	}
	if !utf8.ValidString(got) {
		t.Errorf("reason %q is not valid UTF-8", got)
	}
	if short := "upgrade the agent"; closeReason(short) != short {
		t.Errorf("short reason changed to %q", closeReason(short))
	}
}
