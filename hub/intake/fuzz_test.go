package intake

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/shareddata"
)

// FuzzParse checks that no request panics Parse or StoredBody and that
// their results keep their contracts. The seed corpus holds the shared
// payloads, when present, and the bodies below.
func FuzzParse(f *testing.F) {
	seeds := []Request{
		{Method: "POST", ContentType: "application/json", Body: []byte(`{"severity":"critical","status":"firing","alerts":[{"labels":{"severity":"warning"}}]}`)},
		{Method: "POST", Body: []byte(`[{"labels":{"severity":"warning"}}]`)},
		{Method: "POST", Body: []byte(`"{\"level\":\"warn\"}"`)},
		{Method: "POST", ContentType: "application/x-www-form-urlencoded", Body: []byte("Status=Down&token=x&data=%7B%22a%22%3A1%7D")},
		{Method: "POST", ContentType: "multipart/form-data; boundary=b", Body: []byte("--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"a\":1}\r\n--b--\r\n")},
		{Method: "GET", Query: "alertType=1&monitorFriendlyName=x&heartbeat=%7B%22status%22%3A0%7D"},
		{Method: "PUT", ContentType: "text/plain", Body: []byte("password=x \xff\xfe Bearer abc")},
		{Method: "POST", Body: []byte(`{"Type":"Notification","TopicArn":"a","Message":"{\"NewStateValue\":\"OK\",\"token\":\"t\"}"}`)},
	}
	for _, s := range seeds {
		f.Add(s.Method, s.ContentType, s.Query, s.Body)
	}
	addPayloadSeeds(f)

	f.Fuzz(func(t *testing.T, method, contentType, query string, body []byte) {
		r := Request{Method: method, ContentType: contentType, Query: query, Body: body}
		a := Parse(r)
		checkFuzzedAlert(t, a)

		stored, truncated := StoredBody(r)
		if !utf8.ValidString(stored) {
			t.Errorf("stored body is not valid UTF-8: %q", stored)
		}
		if len(stored) > model.MaxStoredBody {
			t.Errorf("stored body has %d bytes, want at most %d", len(stored), model.MaxStoredBody)
		}
		if !truncated && len(body) > 4*model.MaxStoredBody {
			t.Errorf("a %d-byte body was stored untruncated", len(body))
		}
		if q := StoredQuery(query); !utf8.ValidString(q) {
			t.Errorf("stored query is not valid UTF-8: %q", q)
		}

		// A secret field next to any valid JSON value is always redacted.
		if json.Valid(body) && len(body) < model.MaxStoredBody/2 {
			wrapped := []byte(`{"x":` + string(body) + `,"password":"S3CR3T-V4LU3"}`)
			stored, _ := StoredBody(Request{ContentType: contentType, Body: wrapped})
			if strings.Contains(stored, "S3CR3T-V4LU3") {
				t.Errorf("password not redacted next to %q: %s", body, stored)
			}
		}
	})
}

func checkFuzzedAlert(t *testing.T, a model.Alert) {
	t.Helper()
	if a.State != model.StateFiring && a.State != model.StateResolved {
		t.Errorf("state = %q", a.State)
	}
	if _, ok := severityRank[a.Severity]; !ok && a.Severity != "" {
		t.Errorf("severity = %q", a.Severity)
	}
	if a.State == model.StateResolved && a.Severity != model.SeverityInfo {
		t.Errorf("resolved with severity %q", a.Severity)
	}

	if utf8.RuneCountInString(a.Message) > MaxMessageRunes {
		t.Errorf("message has %d runes", utf8.RuneCountInString(a.Message))
	}
	switch a.Format {
	case model.FormatJSON, model.FormatJSONArray, model.FormatForm, model.FormatMultipart, model.FormatText, model.FormatEmpty:
	default:
		t.Errorf("format = %q", a.Format)
	}

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
	if !equalJSONValues(a.Fields, back.Fields) {
		t.Errorf("fields changed in a JSON round trip")
	}
}

// addPayloadSeeds adds the shared payload bodies to the seed corpus when
// the folder exists; FuzzParse runs without them otherwise.
func addPayloadSeeds(f *testing.F) {
	payloads, _ := shareddata.ReadPayloads(filepath.Join("..", "..", "..", "shared", "payloads"))
	for _, p := range payloads {
		r := payloadRequest(p)
		f.Add(r.Method, r.ContentType, r.Query, r.Body)
	}
}
