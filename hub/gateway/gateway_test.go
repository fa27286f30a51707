package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/protocol"
)

func TestConnectRejectsBadTokens(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())
	secret := token[strings.LastIndex(token, "_")+1:]

	cases := map[string]string{
		"missing header": "",
		"admin prefix":   "rhk_" + id + "_" + secret,
		"unknown agent":  "rha_6b0c7c1e-0000-4000-8000-000000000000_" + secret,
		"wrong secret":   "rha_" + id + "_nottherightsecret",
		"no secret":      "rha_" + id,
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			conn, resp, err := dial(url, tok)
			if err == nil {
				conn.CloseNow()
				t.Fatal("the hub accepted the connection")
			}
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestHelloWithOtherAgentIDIsUnauthorized(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())

	a := connect(t, url, id, token, protocol.Hello{AgentID: "someone-else", Health: healthy()})
	ce := a.waitClose()
	if ce.Code != protocol.CloseUnauthorized {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseUnauthorized)
	}
}

func TestIncompatibleVersionIsClosedWithReason(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())

	cases := []struct {
		name    string
		version int
		code    string
		upgrade string
	}{
		{"too old", protocol.MinVersion - 1, protocol.CodeVersionTooOld, "upgrade the agent"},
		{"too new", protocol.Version + 1, protocol.CodeVersionTooNew, "upgrade the hub"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := connectVersion(t, url, id, token, tc.version)
			raw := a.waitFor(protocol.TypeError, nil)
			var e protocol.Error
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("decode error message: %v", err)
			}
			if e.Code != tc.code {
				t.Errorf("error code = %q, want %q", e.Code, tc.code)
			}
			ce := a.waitClose()
			if ce.Code != protocol.CloseIncompatibleVersion {
				t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseIncompatibleVersion)
			}
			if !strings.Contains(ce.Reason, tc.upgrade) {
				t.Errorf("close reason %q does not say %q", ce.Reason, tc.upgrade)
			}
		})
	}
}

// connectVersion sends a Hello with an explicit protocol version, which
// may be 0.
func connectVersion(t *testing.T, url, id, token string, version int) *testAgent {
	t.Helper()
	conn, _, err := dial(url, token)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	a := &testAgent{t: t, id: id, conn: conn, done: make(chan struct{}), stopBeat: make(chan struct{})}
	a.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: version, AgentID: id, Health: healthy()})
	go a.read()
	t.Cleanup(a.vanish)
	return a
}

func TestFollowerSendsAgentToLeader(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	h.node.leader.Store(false)
	h.node.leaderURL = "http://127.0.0.1:7700"
	url, _ := h.start(testConfig())

	a := connect(t, url, id, token, protocol.Hello{Health: healthy()})
	assertSentToLeader(t, a, h.node.leaderURL)
	if len(a.messages(protocol.TypeWelcome)) != 0 {
		t.Error("a follower sent welcome")
	}
}

func TestMissedHeartbeatsCloseSession(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())

	a := connect(t, url, id, token, protocol.Hello{Health: healthy()})
	raw := a.waitFor(protocol.TypeWelcome, nil)
	var w protocol.Welcome
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("decode welcome: %v", err)
	}
	if w.HeartbeatInterval() != testConfig().HeartbeatInterval {
		t.Errorf("welcome heartbeat interval = %s, want %s", w.HeartbeatInterval(), testConfig().HeartbeatInterval)
	}

	ce := a.waitClose()
	if ce.Code != protocol.CloseHeartbeatTimeout {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseHeartbeatTimeout)
	}
	if !strings.Contains(ce.Reason, "no heartbeat") {
		t.Errorf("close reason %q does not say that heartbeats were missing", ce.Reason)
	}
}

func TestSecondSessionReplacesFirst(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())

	first := connectHealthy(t, url, id, token)
	connectHealthy(t, url, id, token)
	if ce := first.waitClose(); ce.Code != protocol.CloseReplaced {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseReplaced)
	}
}

func TestDispatchRoundRobin(t *testing.T) {
	h := newHarness(t)
	pair := startAgentPair(t, h, testConfig())
	agents, idA, idB := pair.agents, pair.idA, pair.idB

	var calls []string
	for range 4 {
		calls = append(calls, h.queueCall())
	}
	perAgent := map[string]int{}
	for _, id := range calls {
		agentID, _ := assignedTo(t, h, id, 1, agents)
		perAgent[agentID]++
	}
	if perAgent[idA] != 2 || perAgent[idB] != 2 {
		t.Errorf("assignments per agent = %v, want 2 each", perAgent)
	}
	for _, ag := range agents {
		for _, as := range ag.assigns() {
			if as.ChannelID != protocol.ChannelID(as.CallID, as.Attempt) {
				t.Errorf("assign channel id = %q, want %q", as.ChannelID, protocol.ChannelID(as.CallID, as.Attempt))
			}
			if as.Phone != "+4915112345678" {
				t.Errorf("assign phone = %q, want the member's phone", as.Phone)
			}
		}
	}
}

// assertSentToLeader checks that the gateway sent a not_leader naming
// leaderURL and then closed the session with CloseNotLeader.
func assertSentToLeader(t *testing.T, a *testAgent, leaderURL string) {
	t.Helper()
	raw := a.waitFor(protocol.TypeNotLeader, nil)
	var nl protocol.NotLeader
	if err := json.Unmarshal(raw, &nl); err != nil {
		t.Fatalf("decode not_leader: %v", err)
	}
	if nl.LeaderURL != leaderURL {
		t.Errorf("leader URL = %q, want %q", nl.LeaderURL, leaderURL)
	}
	if ce := a.waitClose(); ce.Code != protocol.CloseNotLeader {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseNotLeader)
	}
}

// waitHealthy waits until n agents are healthy on the newest gateway, so
// that the dispatcher can choose among them all when the test queues calls.
func waitHealthy(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		healthy := 0
		for _, st := range h.gateway.AgentHealth() {
			if st.Healthy {
				healthy++
			}
		}
		if healthy == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d agents healthy, want %d: %+v", healthy, n, h.gateway.AgentHealth())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// agentPair is two agents, on PBXs pbx-a and pbx-b with trunks trunk-a and
// trunk-b, connected and healthy on a started gateway.
type agentPair struct {
	idA, idB string
	// tokens and agents are keyed by agent id.
	tokens map[string]string
	agents map[string]*testAgent
	stop   func()
}

// startAgentPair registers two agents, starts the gateway with cfg and
// connects both, waiting until they are healthy.
func startAgentPair(t *testing.T, h *harness, cfg Config) agentPair {
	t.Helper()
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	url, stop := h.start(cfg)
	pair := agentPair{
		idA:    idA,
		idB:    idB,
		tokens: map[string]string{idA: tokA, idB: tokB},
		agents: map[string]*testAgent{
			idA: connectHealthy(t, url, idA, tokA),
			idB: connectHealthy(t, url, idB, tokB),
		},
		stop: stop,
	}
	waitHealthy(t, h, 2)
	return pair
}

// assignedTo waits for the call's attempt and returns which agent got it.
func assignedTo(t *testing.T, h *harness, callID string, attempt int, agents map[string]*testAgent) (string, *testAgent) {
	t.Helper()
	c := h.waitCall(callID, "assigned", func(c model.Call) bool {
		return c.Status == model.CallAssigned && len(c.Attempts) == attempt
	})
	id := c.Attempts[attempt-1].AgentID
	ag := agents[id]
	if ag == nil {
		t.Fatalf("attempt %d went to unknown agent %s", attempt, id)
	}
	ag.waitAssign(callID, attempt)
	return id, ag
}

func TestRetryableFailureMovesToOtherTrunk(t *testing.T) {
	h := newHarness(t)
	agents := startAgentPair(t, h, testConfig()).agents

	callID := h.queueCall()
	first, ag := assignedTo(t, h, callID, 1, agents)
	ag.finish(protocol.CallRef{CallID: callID, Attempt: 1}, model.DispositionFailed, true)

	second, ag2 := assignedTo(t, h, callID, 2, agents)
	if second == first {
		t.Fatalf("retry went to the same agent %s", first)
	}
	ref := protocol.CallRef{CallID: callID, Attempt: 2}
	progressID := "progress-1"
	ag2.send(protocol.TypeProgress, protocol.Progress{ReportID: progressID, CallRef: ref, Progress: protocol.ProgressAnswered, At: time.Now().UTC()})
	ag2.waitAck(progressID)
	ag2.finish(ref, model.DispositionAnswered, false)

	c := h.waitCall(callID, "answered", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionAnswered {
		t.Errorf("disposition = %q, want answered", c.Disposition)
	}
	if len(c.Attempts) != 2 {
		t.Fatalf("attempts = %d, want 2", len(c.Attempts))
	}
	if c.Attempts[0].Trunk == c.Attempts[1].Trunk {
		t.Errorf("both attempts used trunk %q", c.Attempts[0].Trunk)
	}
	if !c.Attempts[0].Retryable || c.Attempts[0].Disposition != model.DispositionFailed {
		t.Errorf("first attempt = %+v, want a retryable failure", c.Attempts[0])
	}
}

func TestBusyIsFinal(t *testing.T) {
	h := newHarness(t)
	agents := startAgentPair(t, h, testConfig()).agents

	callID := h.queueCall()
	_, ag := assignedTo(t, h, callID, 1, agents)
	ag.finish(protocol.CallRef{CallID: callID, Attempt: 1}, model.DispositionBusy, false)

	c := h.waitCall(callID, "finished", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionBusy {
		t.Errorf("disposition = %q, want busy", c.Disposition)
	}
	// Later passes must not try again; a second call proves passes ran.
	next := h.queueCall()
	h.waitCall(next, "assigned", func(c model.Call) bool { return c.Status == model.CallAssigned })
	if n := len(h.call(callID).Attempts); n != 1 {
		t.Errorf("busy call has %d attempts, want 1", n)
	}
}

func TestVanishedAgentAttemptRetried(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	url, _ := h.start(testConfig())
	a := connectHealthy(t, url, idA, tokA)

	callID := h.queueCall()
	a.waitAssign(callID, 1)
	b := connectHealthy(t, url, idB, tokB)
	a.vanish()

	b.waitAssign(callID, 2)
	c := h.call(callID)
	if c.Attempts[0].Disposition != model.DispositionFailed || !c.Attempts[0].Retryable {
		t.Errorf("first attempt = %+v, want a retryable failure", c.Attempts[0])
	}
	if !strings.Contains(c.Attempts[0].Error, "agent lost") {
		t.Errorf("first attempt error %q does not say the agent was lost", c.Attempts[0].Error)
	}
}

func TestReconnectedAgentKeepsClaimedAttempt(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	cfg := testConfig()
	url, _ := h.start(cfg)
	a := connectHealthy(t, url, idA, tokA)

	callID := h.queueCall()
	as := a.waitAssign(callID, 1)
	b := connectHealthy(t, url, idB, tokB)
	a.vanish()

	a2 := connectHealthy(t, url, idA, tokA, protocol.InFlight{CallRef: as.CallRef, ChannelID: as.ChannelID, Progress: protocol.ProgressRinging})
	// Give the dispatcher several grace periods to (wrongly) retry.
	time.Sleep(3 * cfg.ReconnectGrace)
	a2.finish(as.CallRef, model.DispositionAnswered, false)

	c := h.waitCall(callID, "finished", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionAnswered {
		t.Errorf("disposition = %q, want answered", c.Disposition)
	}
	if len(c.Attempts) != 1 {
		t.Errorf("attempts = %d, want 1: a claimed attempt was retried", len(c.Attempts))
	}
	if n := len(b.assigns()); n != 0 {
		t.Errorf("agent B received %d assignments, want 0", n)
	}
}

func TestNoHealthyAgentFailsCall(t *testing.T) {
	h := newHarness(t)
	h.addAgent("pbx-a", "trunk-a")
	cfg := testConfig()
	cfg.NoAgentWait = 1500 * time.Millisecond
	h.start(cfg)

	callID := h.queueCall()
	c := h.waitCall(callID, "finished", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionFailed {
		t.Errorf("disposition = %q, want failed", c.Disposition)
	}
	if !strings.Contains(c.Reason, "no healthy agent") {
		t.Errorf("reason %q does not say that no agent was healthy", c.Reason)
	}
	if len(c.Attempts) != 0 {
		t.Errorf("attempts = %d, want 0", len(c.Attempts))
	}
}

func TestDuplicateFinishedAppliedOnce(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())
	a := connectHealthy(t, url, idA, tokA)

	callID := h.queueCall()
	as := a.waitAssign(callID, 1)
	report := protocol.Finished{ReportID: "report-1", CallRef: as.CallRef, Disposition: model.DispositionNoAnswer, Cause: 19, At: time.Now().UTC()}
	a.send(protocol.TypeFinished, report)
	a.waitAck(report.ReportID)
	a.send(protocol.TypeFinished, report)

	deadline := time.Now().Add(waitDeadline)
	for a.countAcks(report.ReportID) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the duplicate report was not acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.node.countFinished(callID, 1); n != 1 {
		t.Errorf("AttemptFinished applied %d times, want 1", n)
	}
	if c := h.call(callID); c.Disposition != model.DispositionNoAnswer {
		t.Errorf("disposition = %q, want no-answer", c.Disposition)
	}
}

func TestLeaderChangeRetriesOnlyUnclaimed(t *testing.T) {
	h := newHarness(t)
	cfg := testConfig()
	pair := startAgentPair(t, h, cfg)
	agents := pair.agents

	call1, call2 := h.queueCall(), h.queueCall()
	owner1, ag1 := assignedTo(t, h, call1, 1, agents)
	owner2, _ := assignedTo(t, h, call2, 1, agents)
	if owner1 == owner2 {
		t.Fatalf("both calls went to agent %s", owner1)
	}
	claimed := ag1.waitAssign(call1, 1)

	// The old leader stops; a new gateway takes over the same state.
	pair.stop()
	url2, _ := h.start(cfg)
	tok := pair.tokens
	// Only the owner of call1 comes back and claims it.
	back := connectHealthy(t, url2, owner1, tok[owner1], protocol.InFlight{CallRef: claimed.CallRef, ChannelID: claimed.ChannelID, Progress: protocol.ProgressRinging})

	retry := back.waitAssign(call2, 2)
	if retry.ChannelID != protocol.ChannelID(call2, 2) {
		t.Errorf("retry channel id = %q", retry.ChannelID)
	}
	c2 := h.call(call2)
	if !strings.Contains(c2.Attempts[0].Error, "agent lost") {
		t.Errorf("unclaimed attempt error = %q, want agent lost", c2.Attempts[0].Error)
	}
	c1 := h.call(call1)
	if c1.Status != model.CallAssigned || len(c1.Attempts) != 1 {
		t.Errorf("claimed call: status %s with %d attempts, want assigned with 1", c1.Status, len(c1.Attempts))
	}
}

func TestResolvedAlertCancelsUndialedAttempt(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())
	a := connectHealthy(t, url, idA, tokA)

	callID := h.queueCall()
	as := a.waitAssign(callID, 1)
	h.resolve()

	raw := a.waitFor(protocol.TypeCancel, nil)
	var cancel protocol.Cancel
	if err := json.Unmarshal(raw, &cancel); err != nil {
		t.Fatalf("decode cancel: %v", err)
	}
	if cancel.CallRef != as.CallRef {
		t.Errorf("cancel names %+v, want %+v", cancel.CallRef, as.CallRef)
	}
	a.send(protocol.TypeFinished, protocol.Finished{ReportID: "cancelled-1", CallRef: as.CallRef, Disposition: model.DispositionFailed, Cancelled: true, At: time.Now().UTC()})
	a.waitAck("cancelled-1")
	h.waitCall(callID, "cancelled", func(c model.Call) bool { return c.Status == model.CallCancelled })
}

// TestPhoneRingsAtMostMaxAttempts checks the worst case: with every
// attempt failing at the trunk, a call gets model.MaxAttempts assignments,
// each with its own channel id, and then fails.
func TestPhoneRingsAtMostMaxAttempts(t *testing.T) {
	h := newHarness(t)
	agents := startAgentPair(t, h, testConfig()).agents

	callID := h.queueCall()
	for n := 1; n <= model.MaxAttempts; n++ {
		_, ag := assignedTo(t, h, callID, n, agents)
		ag.finish(protocol.CallRef{CallID: callID, Attempt: n}, model.DispositionFailed, true)
	}
	c := h.waitCall(callID, "failed", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionFailed {
		t.Errorf("disposition = %q, want failed", c.Disposition)
	}
	channels := map[string]bool{}
	for _, ag := range agents {
		for _, as := range ag.assigns() {
			if as.CallID == callID {
				channels[as.ChannelID] = true
			}
		}
	}
	if len(channels) != model.MaxAttempts {
		t.Errorf("distinct channel ids = %d, want %d", len(channels), model.MaxAttempts)
	}
}

func TestLostLeadershipSendsAgentsAway(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	h.node.leaderURL = "http://127.0.0.1:7701"
	url, _ := h.start(testConfig())
	a := connectHealthy(t, url, idA, tokA)

	h.node.leader.Store(false)
	h.node.changes <- false

	assertSentToLeader(t, a, h.node.leaderURL)

	// Regaining leadership starts the dispatcher again.
	h.node.leader.Store(true)
	h.node.changes <- true
	again := connectHealthy(t, url, idA, tokA)
	callID := h.queueCall()
	again.waitAssign(callID, 1)
}

func TestRefusedAssignmentRetriedElsewhere(t *testing.T) {
	h := newHarness(t)
	agents := startAgentPair(t, h, testConfig()).agents

	callID := h.queueCall()
	first, ag := assignedTo(t, h, callID, 1, agents)
	ag.send(protocol.TypeAssignRefused, protocol.AssignRefused{
		CallRef: protocol.CallRef{CallID: callID, Attempt: 1}, Code: protocol.CodeARIDown, Message: "ARI websocket reconnecting",
	})
	second, _ := assignedTo(t, h, callID, 2, agents)
	if second == first {
		t.Errorf("retry went to the refusing agent %s", first)
	}
	c := h.call(callID)
	if !strings.Contains(c.Attempts[0].Error, protocol.CodeARIDown) {
		t.Errorf("first attempt error %q does not carry the refusal code", c.Attempts[0].Error)
	}
}

func TestUnacceptedAssignmentRetried(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	cfg := testConfig()
	cfg.AckTimeout = time.Second
	url, _ := h.start(cfg)
	mute := connectHealthy(t, url, idA, tokA)
	mute.mu.Lock()
	mute.autoAccept = false
	mute.mu.Unlock()

	callID := h.queueCall()
	mute.waitAssign(callID, 1)
	b := connectHealthy(t, url, idB, tokB)

	b.waitAssign(callID, 2)
	mute.waitFor(protocol.TypeCancel, nil)
	c := h.call(callID)
	if !strings.Contains(c.Attempts[0].Error, "did not accept") {
		t.Errorf("first attempt error %q does not say the assignment was not accepted", c.Attempts[0].Error)
	}
}

func TestUnhealthyAgentGetsNoCall(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	url, _ := h.start(testConfig())

	down := connect(t, url, idA, tokA, protocol.Hello{Health: protocol.Health{ARIReachable: true, Detail: "ARI events: connection refused"}})
	down.waitFor(protocol.TypeWelcome, nil)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-down.done:
				return
			case <-tick.C:
				down.sendQuiet(protocol.TypeHeartbeat, protocol.Heartbeat{Health: protocol.Health{ARIReachable: true, Detail: "ARI events: connection refused"}})
			}
		}
	}()
	up := connectHealthy(t, url, idB, tokB)
	waitHealthy(t, h, 1)

	for range 3 {
		callID := h.queueCall()
		up.waitAssign(callID, 1)
	}
	if n := len(down.assigns()); n != 0 {
		t.Errorf("agent with its ARI websocket down got %d assignments", n)
	}

	var st AgentStatus
	for _, s := range h.gateway.AgentHealth() {
		if s.AgentID == idA {
			st = s
		}
	}
	if !st.Connected || st.Healthy {
		t.Errorf("status = %+v, want connected and unhealthy", st)
	}
	if !strings.Contains(st.Detail, "websocket down") || !strings.Contains(st.Detail, "connection refused") {
		t.Errorf("detail %q does not explain the ARI websocket state", st.Detail)
	}
	if st.Name != "pbx-a" || st.Trunk != "trunk-a" || st.NodeID != h.node.id {
		t.Errorf("status identity = %+v", st)
	}
}

func TestMetricsCountAttempts(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	url, _ := h.startWith(cfg)
	a := connectHealthy(t, url, idA, tokA)

	callID := h.queueCall()
	as := a.waitAssign(callID, 1)
	a.finish(as.CallRef, model.DispositionBusy, false)

	want := map[string]float64{
		"ringhook_gateway_agents_connected": 1,
		"ringhook_gateway_agents_healthy":   1,
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				got[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil && len(m.GetLabel()) == 1:
				got[f.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()+"/count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want["ringhook_gateway_attempts_total/busy"] = 1
	want["ringhook_gateway_dispatch_latency_seconds/count"] = 1
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	if _, ok := got["ringhook_gateway_queue_depth"]; !ok {
		t.Error("queue depth gauge missing")
	}
}
