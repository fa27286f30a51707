package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringhook/ringhook/integration/pbxsim"
	"github.com/ringhook/ringhook/protocol"
	"nhooyr.io/websocket"
)

const testToken = "rha_agent1_s3cret"

// fakeHub is a hub node speaking the agent protocol. By default it is the
// leader; hubMode makes it answer Hello otherwise.
type fakeHub struct {
	t    *testing.T
	srv  *httptest.Server
	mode hubMode

	mu     sync.Mutex
	conn   *websocket.Conn
	hellos []protocol.Hello
	msgs   chan protocol.Envelope
}

// hubMode sets how a fakeHub answers an agent.
type hubMode struct {
	// autoAck acknowledges every Progress and Finished report.
	autoAck bool
	// notLeader, when set, answers Hello with NotLeader naming this URL.
	notLeader string
	// closeCode, when set, closes the websocket after Hello with this code
	// and closeReason, after an Error message with errorCode and
	// closeReason when errorCode is set.
	closeCode   websocket.StatusCode
	closeReason string
	errorCode   string
	// replaceAfterWelcome closes each session with CloseReplaced right
	// after Welcome, as the hub does when another process connects with
	// the same agent token.
	replaceAfterWelcome bool
}

func newFakeHub(t *testing.T, autoAck bool) *fakeHub {
	return newFakeHubMode(t, hubMode{autoAck: autoAck})
}

func newFakeHubMode(t *testing.T, mode hubMode) *fakeHub {
	h := &fakeHub{t: t, mode: mode, msgs: make(chan protocol.Envelope, 256)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ConnectPath || r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	_, data, err := c.Read(ctx)
	if err != nil {
		return
	}
	env, _ := protocol.Decode(data)
	var hello protocol.Hello
	if protocol.DecodePayload(env, &hello) != nil {
		return
	}
	h.mu.Lock()
	h.hellos = append(h.hellos, hello)
	h.mu.Unlock()
	switch {
	case h.mode.notLeader != "":
		h.write(c, protocol.TypeNotLeader, protocol.NotLeader{LeaderURL: h.mode.notLeader})
		c.Close(websocket.StatusNormalClosure, "not the leader")
		return
	case h.mode.closeCode != 0:
		if h.mode.errorCode != "" {
			h.write(c, protocol.TypeError, protocol.Error{Code: h.mode.errorCode, Message: h.mode.closeReason})
		}
		c.Close(h.mode.closeCode, h.mode.closeReason)
		return
	}
	h.mu.Lock()
	h.conn = c
	h.mu.Unlock()
	h.write(c, protocol.TypeWelcome, protocol.Welcome{ProtocolVersion: protocol.Version, NodeID: "n1", HeartbeatIntervalMS: 100})
	if h.mode.replaceAfterWelcome {
		c.Close(protocol.CloseReplaced, "a newer session of this agent connected")
		return
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		env, err := protocol.Decode(data)
		if err != nil {
			continue
		}
		if h.mode.autoAck && (env.Type == protocol.TypeProgress || env.Type == protocol.TypeFinished) {
			var m struct {
				ReportID string `json:"report_id"`
			}
			_ = json.Unmarshal(env.Payload, &m)
			h.write(c, protocol.TypeAck, protocol.Ack{ReportID: m.ReportID})
		}
		h.msgs <- env
	}
}

func (h *fakeHub) write(c *websocket.Conn, typ string, payload any) {
	data, _ := protocol.Encode(typ, payload)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, data)
}

func (h *fakeHub) send(typ string, payload any) {
	h.mu.Lock()
	c := h.conn
	h.mu.Unlock()
	if c == nil {
		h.t.Fatal("no agent connected")
	}
	h.write(c, typ, payload)
}

func (h *fakeHub) dropAgent() {
	h.mu.Lock()
	c := h.conn
	h.conn = nil
	h.mu.Unlock()
	if c != nil {
		c.Close(websocket.StatusGoingAway, "test drops the agent")
	}
}

func (h *fakeHub) helloCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hellos)
}

// next returns the next message of the given type, skipping others.
func (h *fakeHub) next(typ string) protocol.Envelope {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case env := <-h.msgs:
			if env.Type == typ {
				return env
			}
		case <-deadline:
			h.t.Fatalf("no %s message from the agent", typ)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startSim(t *testing.T) *pbxsim.Server {
	sim := pbxsim.New(pbxsim.Config{Username: "ringhook", Password: "pw", TimeScale: 0.05})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	return sim
}

// runAgent runs a in the background until the test ends or the returned
// stop is called. stop cancels Run and waits for it to return; calling it
// again does nothing.
func runAgent(t *testing.T, a *Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

func startAgent(t *testing.T, hub *fakeHub, sim *pbxsim.Server, mutate func(*Config)) *Agent {
	return startAgentWith(t, hub, sim, mutate, func(a *Agent) { runAgent(t, a) })
}

// startAgentWith builds an agent against hub and sim, starts it with run
// and waits until it is connected to both.
func startAgentWith(t *testing.T, hub *fakeHub, sim *pbxsim.Server, mutate func(*Config), run func(*Agent)) *Agent {
	t.Helper()
	cfg := Config{
		HubURLs:         []string{hub.srv.URL},
		Token:           testToken,
		ARIURL:          sim.URL(),
		ARIUser:         "ringhook",
		ARIPassword:     "pw",
		DialTemplate:    "PJSIP/{number}@trunk",
		CallerID:        `"Alert" <+15550000000>`,
		RingTimeout:     4 * time.Second,
		HangupDelay:     100 * time.Millisecond,
		WatchdogMargin:  3 * time.Second,
		ReconnectMin:    50 * time.Millisecond,
		ReconnectMax:    200 * time.Millisecond,
		ARIPingInterval: 200 * time.Millisecond,
	}
	if os.Getenv("RINGHOOK_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(a)
	eventually(t, "agent connected to hub and ARI", func() bool {
		return hub.helloCount() > 0 && a.Health().ARIWebsocketUp
	})
	return a
}

func assign(callID, phone string) protocol.Assign {
	return protocol.Assign{CallRef: protocol.CallRef{CallID: callID, Attempt: 1}, Phone: phone, ChannelID: protocol.ChannelID(callID, 1)}
}

// assertBusyCall makes phone busy on sim, assigns callID to it through hub
// and checks that the agent reports the call as busy.
func assertBusyCall(t *testing.T, hub *fakeHub, sim *pbxsim.Server, callID, phone string) {
	t.Helper()
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindBusy}); err != nil {
		t.Fatal(err)
	}
	hub.send(protocol.TypeAssign, assign(callID, phone))
	if got := finishedFor(t, hub, 1)[callID].Disposition; got != "busy" {
		t.Errorf("%s: disposition = %q, want busy", callID, got)
	}
}

func finishedFor(t *testing.T, hub *fakeHub, want int) map[string]protocol.Finished {
	t.Helper()
	got := map[string]protocol.Finished{}
	for len(got) < want {
		env := hub.next(protocol.TypeFinished)
		var f protocol.Finished
		if err := protocol.DecodePayload(env, &f); err != nil {
			t.Fatal(err)
		}
		got[f.CallID] = f
	}
	return got
}

func TestAgentOutcomesAgainstSimulator(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a := startAgent(t, hub, sim, nil)

	cases := []struct {
		kind        string
		disposition string
		retryable   bool
		cause       int
	}{
		{pbxsim.KindAnswer, "answered", false, 16},
		{pbxsim.KindBusy, "busy", false, 17},
		{pbxsim.KindDecline, "busy", false, 21},
		{pbxsim.KindNoAnswer, "no-answer", false, 19},
		{pbxsim.KindTrunk503, "failed", true, 34},
		{pbxsim.KindUnreachable, "failed", true, 19},
		{pbxsim.KindUnavailable, "failed", true, 19},
		{pbxsim.KindUnallocated, "failed", false, 1},
		{pbxsim.KindAllocationFailure, "failed", true, 0},
	}
	for i, c := range cases {
		phone := "+4930123456" + string(rune('0'+i))
		if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: c.kind}); err != nil {
			t.Fatal(err)
		}
		hub.send(protocol.TypeAssign, assign("call-"+c.kind, phone))
	}

	got := finishedFor(t, hub, len(cases))
	for _, c := range cases {
		f, ok := got["call-"+c.kind]
		if !ok {
			t.Errorf("%s: no finished report", c.kind)
			continue
		}
		if f.Disposition != c.disposition {
			t.Errorf("%s: disposition = %q, want %q (error %q)", c.kind, f.Disposition, c.disposition, f.Error)
		}
		if f.Retryable != c.retryable {
			t.Errorf("%s: retryable = %v, want %v", c.kind, f.Retryable, c.retryable)
		}
		if f.Cause != c.cause {
			t.Errorf("%s: cause = %d, want %d", c.kind, f.Cause, c.cause)
		}
		if len(f.Raw) == 0 {
			t.Errorf("%s: raw ARI data missing", c.kind)
		}
	}
	if raw := string(got["call-"+pbxsim.KindAllocationFailure].Raw); !strings.Contains(raw, "Allocation failed") {
		t.Errorf("allocation failure raw data %s lacks the originate body", raw)
	}
	eventually(t, "all calls done", func() bool { return a.Health().ActiveCalls == 0 })
}

func TestAgentRepeatedAssignRingsOnce(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	startAgent(t, hub, sim, nil)
	phone := "+4930999000"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer}); err != nil {
		t.Fatal(err)
	}

	m := assign("call-rep", phone)
	hub.send(protocol.TypeAssign, m)
	hub.send(protocol.TypeAssign, m)
	hub.next(protocol.TypeAssignAccepted)
	hub.next(protocol.TypeAssignAccepted)
	finishedFor(t, hub, 1)

	n := 0
	for _, o := range sim.Originations() {
		if o.ChannelID == m.ChannelID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("channel %s originated %d times, want 1", m.ChannelID, n)
	}
}

func TestAgentResendsUnackedReports(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, false)
	a := startAgent(t, hub, sim, func(c *Config) { c.StateFile = t.TempDir() + "/state.json" })
	phone := "+4930999001"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindBusy}); err != nil {
		t.Fatal(err)
	}

	hub.send(protocol.TypeAssign, assign("call-resend", phone))
	first := hub.next(protocol.TypeFinished)
	var f1 protocol.Finished
	if err := protocol.DecodePayload(first, &f1); err != nil {
		t.Fatal(err)
	}

	hub.dropAgent()
	eventually(t, "agent reconnected", func() bool { return hub.helloCount() >= 2 })
	second := hub.next(protocol.TypeFinished)
	var f2 protocol.Finished
	if err := protocol.DecodePayload(second, &f2); err != nil {
		t.Fatal(err)
	}
	if f2.ReportID != f1.ReportID {
		t.Errorf("resent report id = %q, want %q", f2.ReportID, f1.ReportID)
	}
	if f2.Disposition != "busy" {
		t.Errorf("resent disposition = %q, want busy", f2.Disposition)
	}

	hub.send(protocol.TypeAck, protocol.Ack{ReportID: f1.ReportID})
	eventually(t, "report acknowledged", func() bool { return len(a.outbox.pending()) == 0 })
}

func TestAgentHeartbeats(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	startAgent(t, hub, sim, nil)
	env := hub.next(protocol.TypeHeartbeat)
	var hb protocol.Heartbeat
	if err := protocol.DecodePayload(env, &hb); err != nil {
		t.Fatal(err)
	}
	eventually(t, "heartbeat shows ARI up", func() bool {
		_ = protocol.DecodePayload(hub.next(protocol.TypeHeartbeat), &hb)
		return hb.Health.ARIWebsocketUp && hb.Health.ARIReachable
	})
	if hb.Health.MaxCalls != 10 {
		t.Errorf("max calls = %d, want 10", hb.Health.MaxCalls)
	}
}

func TestAgentWrongCredentials(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a, err := New(Config{
		HubURLs: []string{hub.srv.URL}, Token: testToken, ARIURL: sim.URL(),
		ARIUser: "ringhook", ARIPassword: "wrong", DialTemplate: "PJSIP/{number}@trunk",
		ReconnectMin: 50 * time.Millisecond, ARIPingInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, a)

	eventually(t, "health names the credential problem", func() bool {
		return strings.Contains(a.Health().Detail, "rejected user")
	})
	hub.next(protocol.TypeHeartbeat)
	hub.send(protocol.TypeAssign, assign("call-creds", "+4930999002"))
	env := hub.next(protocol.TypeAssignRefused)
	var r protocol.AssignRefused
	if err := protocol.DecodePayload(env, &r); err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.CodeARIDown {
		t.Errorf("refusal code = %q, want %q", r.Code, protocol.CodeARIDown)
	}
}

func TestAgentARIWebsocketDropMidCall(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a := startAgent(t, hub, sim, func(c *Config) { c.RingTimeout = 20 * time.Second })
	phone := "+4930999003"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer}); err != nil {
		t.Fatal(err)
	}

	hub.send(protocol.TypeAssign, assign("call-drop", phone))
	hub.next(protocol.TypeProgress)
	sim.DropWebsockets()

	f := finishedFor(t, hub, 1)["call-drop"]
	if f.Disposition == "" {
		t.Fatal("no disposition after the websocket dropped")
	}
	eventually(t, "ARI websocket back up", func() bool { return a.Health().ARIWebsocketUp })

	assertBusyCall(t, hub, sim, "call-after-drop", "+4930999004")
}

func TestAgentSimulatorRefusingConnections(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a := startAgent(t, hub, sim, nil)

	if err := sim.RefuseConnections(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "health shows ARI unreachable", func() bool {
		h := a.Health()
		return !h.ARIReachable && !h.ARIWebsocketUp
	})
	hub.send(protocol.TypeAssign, assign("call-refused", "+4930999005"))
	var r protocol.AssignRefused
	if err := protocol.DecodePayload(hub.next(protocol.TypeAssignRefused), &r); err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.CodeARIDown {
		t.Errorf("refusal code = %q, want %q", r.Code, protocol.CodeARIDown)
	}

	if err := sim.RefuseConnections(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ARI back up", func() bool {
		h := a.Health()
		return h.ARIReachable && h.ARIWebsocketUp
	})
}
