package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeHub serves fixed JSON bodies by request path, as a hub node would,
// and 404 for any other path. It returns the server's URL.
func fakeHub(t *testing.T, bodies map[string]string) string {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no route ` + r.URL.Path + `"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(server.Close)
	return server.URL
}

// hostileText is what a webhook sender could put in a message: a title
// change (OSC 0), a screen clear, a C1 CSI, a right-to-left override, a
// newline and an invalid UTF-8 byte. As JSON it is written with escapes.
const hostileText = `\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\nline2`

// assertNoTerminalControls fails when out contains a byte or rune that a
// terminal could obey.
func assertNoTerminalControls(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || isUnsafeRune(r) {
			t.Errorf("%s contains control character %U:\n%q", what, r, out)
			return
		}
	}
	if !strings.Contains(out, "pwned") && !strings.Contains(out, "evil") {
		t.Errorf("%s lost the hostile text instead of escaping it:\n%q", what, out)
	}
}

func TestRequestsTableEscapesControls(t *testing.T) {
	hub := fakeHub(t, map[string]string{
		"/api/v1/requests": `{"items":[{"id":"r-1","endpoint_id":"e-1\u001b[2J","state":"firing","outcome":"queued","rule_index":-1,"message":"` + hostileText + "\xff" + `"}],"count":1}`,
	})
	code, stdout, stderr := runCommand(t, "", "requests", "--hub", hub)
	if code != 0 {
		t.Fatalf("requests: exit %d, stderr %q", code, stderr)
	}
	assertNoTerminalControls(t, "requests table", stdout)
	if !strings.Contains(stdout, `\x1b]0;pwned\x07`) {
		t.Errorf("requests table does not show ESC and BEL as visible escapes:\n%s", stdout)
	}
	if !strings.Contains(stdout, `e-1\x1b[2J`) {
		t.Errorf("requests table does not escape the endpoint cell:\n%s", stdout)
	}
	if lines := strings.Count(strings.TrimSpace(stdout), "\n"); lines != 1 {
		t.Errorf("requests table has %d line breaks, want 1 (header and one row):\n%s", lines, stdout)
	}
}

func TestRequestsJSONEscapesControls(t *testing.T) {
	hub := fakeHub(t, map[string]string{
		"/api/v1/requests": `{"items":[{"id":"r-1","endpoint_id":"e-1","state":"firing","outcome":"queued","rule_index":-1,"message":"` + hostileText + `"}],"count":1}`,
	})
	code, stdout, stderr := runCommand(t, "", "requests", "--hub", hub, "-o", "json")
	if code != 0 {
		t.Fatalf("requests -o json: exit %d, stderr %q", code, stderr)
	}
	assertNoTerminalControls(t, "requests JSON", stdout)

	var decoded []struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(stdout), &decoded); err != nil {
		t.Fatalf("requests -o json is not valid JSON: %v\n%s", err, stdout)
	}
	want := "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\nline2"
	if len(decoded) != 1 || decoded[0].Message != want {
		t.Errorf("JSON message = %q, want the original %q", decoded, want)
	}
}

func TestCallTextEscapesControls(t *testing.T) {
	hub := fakeHub(t, map[string]string{
		"/api/v1/calls/c-1": `{"id":"c-1","phone":"+12025550101","status":"finished","disposition":"failed","reason":"` + hostileText + `",
			"attempts":[{"number":1,"agent_id":"a-1","cause":21,"cause_text":"rejected\u001b[8m","error":"dial \u009b failed","raw":{"event":"\u009b2J"}}]}`,
	})
	code, stdout, stderr := runCommand(t, "", "call", "c-1", "--hub", hub)
	if code != 0 {
		t.Fatalf("call: exit %d, stderr %q", code, stderr)
	}
	assertNoTerminalControls(t, "call text", stdout)
	for _, want := range []string{`rejected\x1b[8m`, `dial \u009b failed`, `"event": "\u009b2J"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("call text lacks %s:\n%s", want, stdout)
		}
	}
}

func TestErrorMessageEscapesControls(t *testing.T) {
	hub := fakeHub(t, map[string]string{})
	code, _, stderr := runCommand(t, "", "get", "members", "x\x1b]0;pwned\x07", "--hub", hub)
	if code != 1 {
		t.Fatalf("get a missing member: exit %d, want 1", code)
	}
	assertNoTerminalControls(t, "error message", stderr)
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcödé 日本", "plain text, ünïcödé 日本"},
		{"\x1b[2J", `\x1b[2J`},
		{"a\tb\r\nc", `a\tb\r\nc`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b", `csi\u009b`},
		{"rlo\u202e", `rlo\u202e`},
		{"bad\xffbyte", `bad\xffbyte`},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
