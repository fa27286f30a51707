package pbxsim

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"nhooyr.io/websocket"
)

func TestAuthBasicAndAPIKey(t *testing.T) {
	s := startSim(t, Config{})

	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 200 {
		t.Errorf("basic auth ping status = %d, body %s", res.status, res.body)
	}
	key := url.QueryEscape(testUser + ":" + testPass)
	if res := ariRequest(t, s, "GET", "/ari/asterisk/info?api_key="+key, "", "", ""); res.status != 200 {
		t.Errorf("api_key info status = %d, body %s", res.status, res.body)
	}

	for name, res := range map[string]httpResult{
		"no credentials": ariRequest(t, s, "GET", "/ari/asterisk/ping", "", "", ""),
		"wrong password": ariRequest(t, s, "GET", "/ari/channels", testUser, "nope", ""),
		"wrong api_key":  ariRequest(t, s, "GET", "/ari/channels?api_key=ringhook:nope", "", "", ""),
	} {
		if res.status != 401 {
			t.Errorf("%s: status = %d, want 401", name, res.status)
		}
		if got := strings.TrimSpace(string(res.body)); got != `{"message":"Authentication required"}` {
			t.Errorf("%s: body = %s", name, got)
		}
	}

	s.SetWrongCredentials(true)
	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 401 {
		t.Errorf("with wrong credentials set: status = %d, want 401", res.status)
	}
	s.SetWrongCredentials(false)
	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 200 {
		t.Errorf("after wrong credentials cleared: status = %d, want 200", res.status)
	}
}

func TestWebsocketRejectsWrongCredentials(t *testing.T) {
	s := startSim(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ari/events?app=a"
	_, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {basicAuth(testUser, "nope")}},
	})
	if err == nil {
		t.Fatal("websocket dial with a wrong password succeeded")
	}
	if resp == nil || resp.StatusCode != 401 {
		t.Fatalf("websocket dial response = %v, want 401", resp)
	}
}

func TestOriginateJSONBody(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindBusy}})
	events := dialEvents(t, s, "agent-1")
	body := `{"endpoint":"PJSIP/+15551234567@trunk","app":"agent-1","appArgs":"alert,42,1",` +
		`"callerId":"\"Alert\" <+15550000000>","timeout":30,"channelId":"alert-42-1"}`
	res := ariRequest(t, s, "POST", "/ari/channels", testUser, testPass, body)
	if res.status != 200 {
		t.Fatalf("originate status = %d, body %s", res.status, res.body)
	}
	var snap map[string]any
	_ = json.Unmarshal(res.body, &snap)
	if snap["id"] != "alert-42-1" || snap["state"] != "Down" || snap["name"] != "PJSIP/trunk-00000001" {
		t.Errorf("snapshot = %v", snap)
	}
	got := events.untilDestroyed("alert-42-1")
	if want := []string{"Dial", "Dial", "ChannelDestroyed"}; strings.Join(types(got), ",") != strings.Join(want, ",") {
		t.Errorf("events = %v, want %v", types(got), want)
	}
	if got[0]["dialstring"] != "+15551234567@trunk" {
		t.Errorf("dialstring = %v", got[0]["dialstring"])
	}
	origs := s.Originations()
	if len(origs) != 1 || origs[0].Number != "+15551234567" || origs[0].Timeout != 30*time.Second || origs[0].AppArgs != "alert,42,1" {
		t.Errorf("originations = %+v", origs)
	}
}

func TestOriginateErrors(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindNoAnswer}})
	s.SetBehavior("+15550000999", Behavior{Kind: KindAllocationFailure})

	cases := []struct {
		name   string
		path   string
		status int
		body   string
	}{
		{"missing endpoint", "/ari/channels?app=a", 400, `{"message":"Endpoint must be specified"}`},
		{"endpoint without resource", "/ari/channels?app=a&endpoint=PJSIP/", 400, `{"message":"Invalid endpoint specified"}`},
		{"endpoint without tech", "/ari/channels?app=a&endpoint=trunk", 400, `{"message":"Invalid endpoint specified"}`},
		{"missing app", "/ari/channels?endpoint=PJSIP/123@t", 400, `{"message":"Application or extension must be specified"}`},
		{"allocation failure", originateQuery("PJSIP/+15550000999@t", "a", "c-alloc", 10), 500, `{"error":"Allocation failed"}`},
		{"unknown technology", originateQuery("Foo/+15550000111", "a", "c-foo", 10), 500, `{"error":"Allocation failed"}`},
	}
	for _, tc := range cases {
		res := ariRequest(t, s, "POST", tc.path, testUser, testPass, "")
		if res.status != tc.status || strings.TrimSpace(string(res.body)) != tc.body {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.body)
		}
	}

	// A 600 s timeout (12 s scaled) keeps the channel alive for the 409.
	first := ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "a", "dup-1", 600), testUser, testPass, "")
	if first.status != 200 {
		t.Fatalf("first originate status = %d", first.status)
	}
	dup := ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "a", "dup-1", 600), testUser, testPass, "")
	if dup.status != 409 {
		t.Errorf("duplicate channel id status = %d, body %s; want 409", dup.status, dup.body)
	}
	if del := ariRequest(t, s, "DELETE", "/ari/channels/dup-1", testUser, testPass, ""); del.status != 204 {
		t.Errorf("DELETE status = %d", del.status)
	}
	waitFor(t, "dup-1 destroyed", func() bool {
		return ariRequest(t, s, "GET", "/ari/channels/dup-1", testUser, testPass, "").status == 404
	})
	again := ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "a", "dup-1", 10), testUser, testPass, "")
	if again.status != 200 {
		t.Errorf("originate with the id of a destroyed channel: status = %d", again.status)
	}
	if del := ariRequest(t, s, "DELETE", "/ari/channels/missing", testUser, testPass, ""); del.status != 404 {
		t.Errorf("DELETE of a missing channel: status = %d", del.status)
	}

	var allocs int
	for _, o := range s.Originations() {
		if o.HTTPStatus == 500 {
			allocs++
		}
	}
	if allocs != 2 {
		t.Errorf("originations with status 500 = %d, want 2", allocs)
	}
}

func TestNoEventsWithoutWebsocket(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindAnswer}})
	other := dialEvents(t, s, "other")

	res := ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "absent", "c1", 10), testUser, testPass, "")
	if res.status != 200 {
		t.Fatalf("originate into an app without websocket: status = %d", res.status)
	}
	waitFor(t, "the answered call torn down", func() bool {
		o := s.Originations()
		return len(o) == 1 && o[0].Ended
	})
	if o := s.Originations()[0]; o.Cause != 16 {
		t.Errorf("cause = %d, want 16", o.Cause)
	}
	other.expectNone(100 * time.Millisecond)
}

func TestApplicationReplaced(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindBusy}})
	old := dialEvents(t, s, "app1")
	replacement := dialEvents(t, s, "app1")

	e := old.next()
	if e["type"] != "ApplicationReplaced" || e["application"] != "app1" {
		t.Fatalf("old websocket got %v, want ApplicationReplaced", e)
	}
	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 10), testUser, testPass, "")
	if got := types(replacement.untilDestroyed("c1")); len(got) != 3 {
		t.Errorf("new websocket events = %v", got)
	}
	old.expectNone(100 * time.Millisecond)
}

func TestEventFilter(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindUnallocated}})
	if res := ariRequest(t, s, "PUT", "/ari/applications/nobody/eventFilter", testUser, testPass, `{"allowed":[]}`); res.status != 404 {
		t.Errorf("filter on an unknown app: status = %d", res.status)
	}
	events := dialEvents(t, s, "app1")
	filter := `{"allowed":[{"type":"Dial"},{"type":"ChannelDestroyed"}]}`
	res := ariRequest(t, s, "PUT", "/ari/applications/app1/eventFilter", testUser, testPass, filter)
	if res.status != 200 || !strings.Contains(string(res.body), `"events_allowed":[{"type":"ChannelDestroyed"},{"type":"Dial"}]`) {
		t.Fatalf("set filter: %d %s", res.status, res.body)
	}

	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 10), testUser, testPass, "")
	got := types(events.untilDestroyed("c1"))
	if want := "Dial,Dial,ChannelDestroyed"; strings.Join(got, ",") != want {
		t.Errorf("filtered events = %v, want %s", got, want)
	}

	if err := s.EmitEvent("app1", []byte(`{"type":"CallBroadcast","application":"app1"}`)); err != nil {
		t.Fatalf("emit: %v", err)
	}
	events.expectNone(100 * time.Millisecond)
	if err := s.EmitEvent("app1", []byte(`{"type":"Dial","dialstatus":"X"}`)); err != nil {
		t.Fatalf("emit: %v", err)
	}
	if e := events.next(); e["dialstatus"] != "X" {
		t.Errorf("emitted event = %v", e)
	}
}

func TestEmitUnknownEvent(t *testing.T) {
	s := startSim(t, Config{})
	events := dialEvents(t, s, "app1")
	if err := s.EmitEvent("app1", []byte(`{"type":"ChannelTransfer","x":1}`)); err != nil {
		t.Fatalf("emit: %v", err)
	}
	if e := events.next(); e["type"] != "ChannelTransfer" {
		t.Errorf("event = %v", e)
	}
	if err := s.EmitEvent("nobody", []byte(`{"type":"X"}`)); err == nil {
		t.Errorf("emit to an app without websocket succeeded")
	}
	if err := s.EmitEvent("app1", []byte(`not json`)); err == nil {
		t.Errorf("emit of invalid JSON succeeded")
	}
}

func TestDropWebsocketsLosesEventsInGap(t *testing.T) {
	// The phone rings for 3 s of real time, so the websockets are dropped
	// before the answer even on a loaded machine.
	s := startSim(t, Config{Default: Behavior{Kind: KindAnswer, AnswerAfter: 3 * time.Second}, TimeScale: 1})
	events := dialEvents(t, s, "app1")

	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 60), testUser, testPass, "")
	for _, want := range []string{"Dial", "ChannelStateChange", "Dial"} {
		if e := events.next(); e["type"] != want {
			t.Fatalf("event = %v, want %s", e["type"], want)
		}
	}
	s.DropWebsockets()
	select {
	case <-events.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("websocket not closed by DropWebsockets")
	}

	// The call is answered during the gap: Stasis cannot start, so the
	// call is hung up and nobody hears of it.
	waitFor(t, "call ended in the gap", func() bool { return s.Originations()[0].Ended })
	if got := ariRequest(t, s, "GET", "/ari/channels", testUser, testPass, ""); strings.TrimSpace(string(got.body)) != "[]" {
		t.Errorf("channels after the gap = %s", got.body)
	}

	again := dialEvents(t, s, "app1")
	s.SetDefault(Behavior{Kind: KindBusy})
	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c2", 60), testUser, testPass, "")
	got := again.untilDestroyed("c2")
	for _, e := range got {
		if channelID(e) != "c2" {
			t.Errorf("event of %s delivered after reconnect: %v", channelID(e), e["type"])
		}
	}
}

func TestRefuseConnections(t *testing.T) {
	s := startSim(t, Config{})
	events := dialEvents(t, s, "app1")

	if err := s.RefuseConnections(true); err != nil {
		t.Fatalf("refuse: %v", err)
	}
	select {
	case <-events.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("websocket not closed while refusing")
	}
	conn, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("TCP connect succeeded while refusing")
	}

	if err := s.RefuseConnections(false); err != nil {
		t.Fatalf("accept again: %v", err)
	}
	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 200 {
		t.Errorf("ping after refusing ended: %d", res.status)
	}
}

func TestSlowAnswers(t *testing.T) {
	s := startSim(t, Config{})
	s.SetSlow(time.Minute)
	client := &http.Client{Timeout: 200 * time.Millisecond}
	req, _ := http.NewRequest("GET", s.URL()+"/ari/asterisk/ping", nil)
	req.SetBasicAuth(testUser, testPass)
	_, err := client.Do(req)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("slow ping error = %v, want a client timeout", err)
	}
	s.SetSlow(0)
	if res := ariRequest(t, s, "GET", "/ari/asterisk/ping", testUser, testPass, ""); res.status != 200 {
		t.Errorf("ping after slow ended: %d", res.status)
	}
}

func TestStopAndRestartSameAddress(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindNoAnswer}})
	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 60), testUser, testPass, "")
	addr := s.Addr()
	s.Stop()
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		t.Fatal("TCP connect succeeded after Stop")
	}
	if err := s.Start(addr); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	res := ariRequest(t, s, "GET", "/ari/channels", testUser, testPass, "")
	if res.status != 200 || strings.TrimSpace(string(res.body)) != "[]" {
		t.Errorf("channels after restart = %d %s, want none", res.status, res.body)
	}
}

func TestRulesAndFailShare(t *testing.T) {
	s := New(Config{Default: Behavior{Kind: KindAnswer}})
	mustSet := func(match string, kind string) {
		t.Helper()
		if err := s.SetBehavior(match, Behavior{Kind: kind}); err != nil {
			t.Fatalf("set %s: %v", match, err)
		}
	}
	mustSet("+1555*", KindBusy)
	mustSet("+15551*", KindDecline)
	mustSet("+15551234567", KindNoAnswer)

	cases := map[string]string{
		"+15551234567": KindNoAnswer,
		"15551234567":  KindNoAnswer,
		"+15551000000": KindDecline,
		"+15552000000": KindBusy,
		"+4930123":     KindAnswer,
		"":             KindAnswer,
	}
	for number, want := range cases {
		if got := s.BehaviorFor(number).Kind; got != want {
			t.Errorf("BehaviorFor(%q) = %s, want %s", number, got, want)
		}
	}
	if err := s.SetBehavior("+1*5", Behavior{Kind: KindBusy}); err == nil {
		t.Errorf("match with an inner * accepted")
	}
	if err := s.SetBehavior("+1", Behavior{Kind: "ringing"}); err == nil {
		t.Errorf("unknown kind accepted")
	}

	sim := startSim(t, Config{Default: Behavior{Kind: KindBusy}, FailShare: 0.5, Seed: 7})
	for i := 0; i < 40; i++ {
		id := "c" + strconvItoa(i)
		if res := ariRequest(t, sim, "POST", originateQuery("PJSIP/+15551@t", "a", id, 10), testUser, testPass, ""); res.status != 200 {
			t.Fatalf("originate %s: %d", id, res.status)
		}
	}
	counts := map[string]int{}
	for _, o := range sim.Originations() {
		counts[o.Kind]++
	}
	if counts[KindTrunk503] == 0 || counts[KindBusy] == 0 || counts[KindTrunk503]+counts[KindBusy] != 40 {
		t.Errorf("kinds with fail share 0.5 = %v", counts)
	}
}

func TestNumberFromEndpoint(t *testing.T) {
	cases := map[string]string{
		"PJSIP/+15551234567@trunk":   "+15551234567",
		"SIP/trunk-a/15551234567":    "15551234567",
		"PJSIP/+15551234567@trunk2":  "+15551234567",
		"Local/+4930123456@outbound": "+4930123456",
		"Local/answer@test":          "",
	}
	for endpoint, want := range cases {
		if got := NumberFromEndpoint(endpoint); got != want {
			t.Errorf("NumberFromEndpoint(%q) = %q, want %q", endpoint, got, want)
		}
	}
}

func TestCalleeHangsUp(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindAnswer, HangupAfter: time.Second}})
	events := dialEvents(t, s, "app1")
	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 10), testUser, testPass, "")
	got := events.untilDestroyed("c1")
	var hangup map[string]any
	for _, e := range got {
		if e["type"] == "ChannelHangupRequest" {
			hangup = e
		}
	}
	if hangup == nil || hangup["cause"] != float64(16) || hangup["soft"] != nil {
		t.Errorf("hangup request = %v, want cause 16 without soft", hangup)
	}
	last := got[len(got)-1]
	if last["cause"] != float64(16) {
		t.Errorf("destroyed cause = %v", last["cause"])
	}
}

func TestTechCause(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindDecline}, TechCause: true})
	events := dialEvents(t, s, "app1")
	ariRequest(t, s, "POST", originateQuery("PJSIP/+15551@t", "app1", "c1", 10), testUser, testPass, "")
	got := events.untilDestroyed("c1")
	if last := got[len(got)-1]; last["tech_cause"] != float64(603) || last["cause"] != float64(21) {
		t.Errorf("destroyed = cause %v tech_cause %v, want 21/603", last["cause"], last["tech_cause"])
	}
}
