package intake

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/shareddata"
)

// payloadRequest converts a recorded webhook into the request Parse reads.
func payloadRequest(p shareddata.Payload) Request {
	return Request{Method: p.Request.Method, ContentType: p.ContentType(), Query: p.Request.Query, Body: []byte(p.Request.Body)}
}

func TestParsePayloadCorpus(t *testing.T) {
	for _, c := range shareddata.Payloads(t) {
		t.Run(c.Name, func(t *testing.T) {
			a := Parse(payloadRequest(c))
			if a.State != c.Expected.State {
				t.Errorf("state = %q (from %q), want %q", a.State, a.StateSource, c.Expected.State)
			}
			want := c.ExpectedSeverity()
			if a.Severity != want {
				t.Errorf("severity = %q (from %q, raw %q), want %q", a.Severity, a.SeveritySource, a.SeverityRaw, want)
			}
			if c.Expected.MessageContains != nil && !strings.Contains(a.Message, *c.Expected.MessageContains) {
				t.Errorf("message = %q, want it to contain %q", a.Message, *c.Expected.MessageContains)
			}
			assertAlertInvariants(t, a)
		})
	}
}

// assertAlertInvariants checks what holds for every parsed alert.
func assertAlertInvariants(t *testing.T, a model.Alert) {
	t.Helper()
	switch a.State {
	case model.StateFiring, model.StateResolved:
	default:
		t.Errorf("state = %q, want firing or resolved", a.State)
	}
	switch a.Severity {
	case "", model.SeverityCritical, model.SeverityMajor, model.SeverityMinor, model.SeverityInfo:
	default:
		t.Errorf("severity = %q, want a model severity or empty", a.Severity)
	}
	if a.State == model.StateResolved && a.Severity != model.SeverityInfo {
		t.Errorf("resolved alert has severity %q, want info", a.Severity)
	}
	if a.Severity != "" && a.SeveritySource == "" {
		t.Errorf("severity %q has no source", a.Severity)
	}
	if a.Fields == nil {
		t.Error("fields is nil, want a map")
	}
	if n := len([]rune(a.Message)); n > MaxMessageRunes {
		t.Errorf("message has %d runes, want at most %d", n, MaxMessageRunes)
	}
	assertRoundTrip(t, a)
}

// assertRoundTrip checks that an alert survives encoding/json with
// UseNumber unchanged, as it must to travel in a Raft command.
func assertRoundTrip(t *testing.T, a model.Alert) {
	t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("marshal alert: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var back model.Alert
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("unmarshal alert: %v", err)
	}
	again, err := json.Marshal(back)
	if err != nil {
		t.Fatalf("marshal decoded alert: %v", err)
	}
	if string(again) != string(data) {
		t.Errorf("alert changed in a JSON round trip:\n first %s\nsecond %s", data, again)
	}
	if !equalJSONValues(a.Fields, back.Fields) {
		t.Errorf("fields changed in a JSON round trip: %#v != %#v", a.Fields, back.Fields)
	}
}

// equalJSONValues compares two decoded JSON values by type and content.
func equalJSONValues(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalJSONValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSONValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
