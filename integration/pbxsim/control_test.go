package pbxsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func controlRequest(t *testing.T, base, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestControlAPI(t *testing.T) {
	s := startSim(t, Config{})
	control := httptest.NewServer(s.ControlHandler("tok"))
	defer control.Close()
	base := control.URL

	if code, _ := controlRequest(t, base, "GET", "/sim/behaviors", "", ""); code != 401 {
		t.Errorf("without token: %d, want 401", code)
	}
	if code, _ := controlRequest(t, base, "GET", "/sim/behaviors", "wrong", ""); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}

	steps := []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/sim/behaviors/%2B1555*", `{"kind":"busy","ring_after":"1s"}`, 204},
		{"PUT", "/sim/behaviors/%2B15550001111", `{"kind":"answer","answer_after":"2s","hangup_after":"5s"}`, 204},
		{"PUT", "/sim/behaviors/%2B1", `{"kind":"answer","answer_after":"soon"}`, 400},
		{"PUT", "/sim/default", `{"kind":"no-answer"}`, 204},
		{"PUT", "/sim/default", `{"kind":""}`, 400},
		{"PUT", "/sim/fail-share", `{"fail_share":0.25}`, 204},
		{"PUT", "/sim/fail-share", `{"fail_share":1.5}`, 400},
		{"PUT", "/sim/slow", `{"delay":"10ms"}`, 204},
		{"PUT", "/sim/slow", `{"delay":"0s"}`, 204},
		{"PUT", "/sim/wrong-credentials", `{"wrong":true}`, 204},
		{"DELETE", "/sim/behaviors/%2B1999", "", 404},
	}
	for _, st := range steps {
		if code, body := controlRequest(t, base, st.method, st.path, "tok", st.body); code != st.status {
			t.Errorf("%s %s %s: %d %s, want %d", st.method, st.path, st.body, code, body, st.status)
		}
	}

	rules, def := s.Rules()
	if def.Kind != KindNoAnswer || len(rules) != 2 {
		t.Fatalf("rules = %+v, default %+v", rules, def)
	}
	if b := s.BehaviorFor("+15550001111"); b.AnswerAfter != 2*time.Second || b.HangupAfter != 5*time.Second {
		t.Errorf("behavior of +15550001111 = %+v", b)
	}
	if b := s.BehaviorFor("+15559"); b.Kind != KindBusy || b.RingAfter != time.Second {
		t.Errorf("behavior of +15559 = %+v", b)
	}
	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 401 {
		t.Errorf("ARI with wrong credentials set over the control API: %d", res.status)
	}
	controlRequest(t, base, "PUT", "/sim/wrong-credentials", "tok", `{"wrong":false}`)

	code, body := controlRequest(t, base, "GET", "/sim/behaviors", "tok", "")
	var listed struct {
		Default Behavior `json:"default"`
		Rules   []Rule   `json:"rules"`
	}
	if err := json.Unmarshal([]byte(body), &listed); code != 200 || err != nil || len(listed.Rules) != 2 || listed.Default.Kind != KindNoAnswer {
		t.Errorf("GET behaviors = %d %s (%v)", code, body, err)
	}
	if code, _ := controlRequest(t, base, "DELETE", "/sim/behaviors/%2B1555*", "tok", ""); code != 204 {
		t.Errorf("delete rule: %d", code)
	}

	events := dialEvents(t, s, "app1")
	if code, body := controlRequest(t, base, "POST", "/sim/apps/app1/events", "tok", `{"type":"CallClaimed"}`); code != 204 {
		t.Errorf("emit: %d %s", code, body)
	}
	if e := events.next(); e["type"] != "CallClaimed" {
		t.Errorf("emitted event = %v", e)
	}
	if code, body := controlRequest(t, base, "GET", "/sim/apps", "tok", ""); code != 200 || strings.TrimSpace(body) != `["app1"]` {
		t.Errorf("apps = %d %s", code, body)
	}
	if code, _ := controlRequest(t, base, "POST", "/sim/drop-websockets", "tok", ""); code != 204 {
		t.Errorf("drop websockets: %d", code)
	}
	select {
	case <-events.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("websocket not dropped")
	}

	ariRequest(t, s, "POST", originateQuery("PJSIP/+4930123@t", "app1", "c1", 30), testUser, testPass, "")
	code, body = controlRequest(t, base, "GET", "/sim/originations", "tok", "")
	var origs []Origination
	if err := json.Unmarshal([]byte(body), &origs); code != 200 || err != nil || len(origs) != 1 || origs[0].Number != "+4930123" || origs[0].Timeout != 30*time.Second {
		t.Errorf("originations = %d %s (%v)", code, body, err)
	}

	addr := s.Addr()
	if code, _ := controlRequest(t, base, "POST", "/sim/restart", "tok", ""); code != 204 {
		t.Fatalf("restart: %d", code)
	}
	if s.Addr() != addr {
		t.Errorf("address after restart = %s, want %s", s.Addr(), addr)
	}
	if res := ariRequest(t, s, "GET", "/ari/channels", testUser, testPass, ""); strings.TrimSpace(string(res.body)) != "[]" {
		t.Errorf("channels after restart = %s", res.body)
	}
}
