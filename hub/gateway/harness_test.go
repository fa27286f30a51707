package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"nhooyr.io/websocket"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/protocol"
	"github.com/ringhook/ringhook/raftfsm"
	"github.com/ringhook/ringhook/raftfsm/fsmtest"
)

// waitDeadline bounds every eventual condition in these tests.
const waitDeadline = 20 * time.Second

// testNode is a single-node cluster: commands go straight to a real state
// machine, and the test sets leadership.
type testNode struct {
	id        string
	fsm       *raftfsm.FSM
	applier   *fsmtest.Applier
	leader    atomic.Bool
	changes   chan bool
	leaderURL string

	mu      sync.Mutex
	applied []raftfsm.Command
}

func (n *testNode) ID() string                 { return n.id }
func (n *testNode) FSM() *raftfsm.FSM          { return n.fsm }
func (n *testNode) IsLeader() bool             { return n.leader.Load() }
func (n *testNode) LeaderChanges() <-chan bool { return n.changes }
func (n *testNode) Leader() (string, string)   { return "node-leader", n.leaderURL }

func (n *testNode) Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	resp, err := n.applier.Apply(ctx, cmd)
	if err == nil {
		n.mu.Lock()
		n.applied = append(n.applied, cmd)
		n.mu.Unlock()
	}
	return resp, err
}

// countFinished counts applied AttemptFinished commands for one attempt.
func (n *testNode) countFinished(callID string, attempt int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	count := 0
	for _, c := range n.applied {
		if f, ok := c.(*raftfsm.AttemptFinished); ok && f.CallID == callID && f.Attempt == attempt {
			count++
		}
	}
	return count
}

type harness struct {
	t        *testing.T
	node     *testNode
	endpoint string
	// gateway is the one the last start call created.
	gateway *Gateway
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("RINGHOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newHarness opens a state machine with one organization, member and
// endpoint. The endpoint has no scenario, so every firing alert calls the
// primary member and a resolved one cancels queued calls.
func newHarness(t *testing.T) *harness {
	t.Helper()
	fsm, err := raftfsm.New(t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatalf("open state machine: %v", err)
	}
	t.Cleanup(func() { _ = fsm.Close() })
	node := &testNode{
		id:      "node-1",
		fsm:     fsm,
		applier: &fsmtest.Applier{FSM: fsm, NodeID: "node-1"},
		changes: make(chan bool, 8),
	}
	node.leader.Store(true)
	h := &harness{t: t, node: node}

	orgID, memberID, endpointID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	// Brakes of one nanosecond let a test queue calls back to back.
	org := model.Organization{ID: orgID, Name: "ops", Brakes: model.Brakes{
		PhoneCooldown:       model.Duration(time.Nanosecond),
		EndpointSuppression: model.Duration(time.Nanosecond),
	}}
	h.apply(&raftfsm.PutOrganization{Create: true, Organization: org})
	h.apply(&raftfsm.PutMember{Create: true, Member: model.Member{
		ID: memberID, OrgID: orgID, Name: "Ada", Phone: "+4915112345678",
		Consent: &model.Consent{ConfirmedBy: "test", ConfirmedAt: time.Now().UTC()},
	}})
	org.PrimaryMemberID = memberID
	h.apply(&raftfsm.PutOrganization{Organization: org})
	h.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: endpointID, OrgID: orgID, Name: "prod"}})
	h.endpoint = endpointID
	return h
}

func (h *harness) apply(cmd raftfsm.Command) *raftfsm.Response {
	h.t.Helper()
	resp, err := h.node.Apply(context.Background(), cmd)
	if err != nil {
		h.t.Fatalf("apply %T: %v", cmd, err)
	}
	return resp
}

// addAgent registers an agent and returns its token.
func (h *harness) addAgent(name, trunk string) (id, token string) {
	h.t.Helper()
	id = uuid.NewString()
	secret := strings.ReplaceAll(uuid.NewString(), "-", "")
	sum := sha256.Sum256([]byte(secret))
	h.apply(&raftfsm.PutAgent{Create: true, Agent: model.Agent{
		ID: id, Name: name, Trunk: trunk, TokenHash: hex.EncodeToString(sum[:]),
	}})
	return id, "rha_" + id + "_" + secret
}

// queueCall sends a firing alert and returns the id of the queued call.
func (h *harness) queueCall() string {
	h.t.Helper()
	resp := h.apply(&raftfsm.Intake{
		RequestID:  uuid.NewString(),
		EndpointID: h.endpoint,
		Method:     http.MethodPost,
		Alert:      model.Alert{Format: model.FormatJSON, Fields: map[string]any{}, AlertCount: 1, State: model.StateFiring, Message: "disk full"},
	})
	if resp.Request == nil || len(resp.Calls) != 1 {
		h.t.Fatalf("intake queued no call: response %+v", resp)
	}
	return resp.Calls[0].ID
}

func (h *harness) resolve() {
	h.t.Helper()
	resp := h.apply(&raftfsm.Intake{
		RequestID:  uuid.NewString(),
		EndpointID: h.endpoint,
		Method:     http.MethodPost,
		Alert:      model.Alert{Format: model.FormatJSON, Fields: map[string]any{}, AlertCount: 1, State: model.StateResolved},
	})
	if resp.Request == nil || resp.Request.Outcome != model.OutcomeResolved {
		h.t.Fatalf("resolved notification was not recorded as resolved: %+v", resp.Request)
	}
}

func (h *harness) call(id string) model.Call {
	h.t.Helper()
	c, err := h.node.fsm.GetCall(id)
	if err != nil {
		h.t.Fatalf("get call %s: %v", id, err)
	}
	return c
}

// waitCall polls until the call satisfies cond.
func (h *harness) waitCall(id, what string, cond func(model.Call) bool) model.Call {
	h.t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		c := h.call(id)
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("call %s never became %s; last state: status %s, disposition %q, reason %q, attempts %+v",
				id, what, c.Status, c.Disposition, c.Reason, c.Attempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig returns timings short enough for tests; a loaded machine
// still has several heartbeats of slack.
func testConfig() Config {
	return Config{
		HeartbeatInterval: 300 * time.Millisecond,
		HeartbeatMisses:   3,
		HelloTimeout:      5 * time.Second,
		ReconnectGrace:    time.Second,
		AckTimeout:        5 * time.Second,
		NoAgentWait:       time.Hour,
		DispatchInterval:  50 * time.Millisecond,
	}
}

// start runs a Gateway on the harness' node behind a real HTTP server.
func (h *harness) start(cfg Config) (url string, stop func()) {
	h.t.Helper()
	cfg.Registerer = prometheus.NewRegistry()
	return h.startWith(cfg)
}

// startWith is start with the caller's Registerer.
func (h *harness) startWith(cfg Config) (url string, stop func()) {
	h.t.Helper()
	cfg.Node = h.node
	cfg.Logger = testLogger(h.t)
	g := New(cfg)
	h.gateway = g
	srv := httptest.NewServer(g.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
		})
	}
	h.t.Cleanup(stop)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + ConnectPath, stop
}

// testAgent speaks the protocol over a real websocket.
type testAgent struct {
	t    *testing.T
	id   string
	conn *websocket.Conn
	// autoAccept makes the agent reply to every Assign with AssignAccepted.
	autoAccept bool

	mu       sync.Mutex
	received []protocol.Envelope
	readErr  error
	done     chan struct{}
	stopBeat chan struct{}
}

func dial(url, token string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	hdr := http.Header{}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
}

func healthy() protocol.Health {
	return protocol.Health{ARIReachable: true, ARIWebsocketUp: true, MaxCalls: 10}
}

// connect dials, sends hello and starts reading. It does not heartbeat.
func connect(t *testing.T, url, id, token string, hello protocol.Hello) *testAgent {
	t.Helper()
	conn, _, err := dial(url, token)
	if err != nil {
		t.Fatalf("dial as agent %s: %v", id, err)
	}
	conn.SetReadLimit(maxMessageSize)
	a := &testAgent{t: t, id: id, conn: conn, autoAccept: true, done: make(chan struct{}), stopBeat: make(chan struct{})}
	if hello.ProtocolVersion == 0 {
		hello.ProtocolVersion = protocol.Version
	}
	if hello.AgentID == "" {
		hello.AgentID = id
	}
	a.send(protocol.TypeHello, hello)
	go a.read()
	t.Cleanup(a.vanish)
	return a
}

// connectHealthy connects and heartbeats a healthy PBX.
func connectHealthy(t *testing.T, url, id, token string, inFlight ...protocol.InFlight) *testAgent {
	t.Helper()
	a := connect(t, url, id, token, protocol.Hello{Health: healthy(), InFlight: inFlight})
	a.waitFor(protocol.TypeWelcome, nil)
	go a.heartbeat(100 * time.Millisecond)
	return a
}

func (a *testAgent) read() {
	defer close(a.done)
	for {
		_, data, err := a.conn.Read(context.Background())
		if err != nil {
			a.mu.Lock()
			a.readErr = err
			a.mu.Unlock()
			return
		}
		env, err := protocol.Decode(data)
		if err != nil {
			a.mu.Lock()
			a.readErr = fmt.Errorf("agent %s got an undecodable message: %w", a.id, err)
			a.mu.Unlock()
			return
		}
		a.mu.Lock()
		a.received = append(a.received, env)
		auto := a.autoAccept
		a.mu.Unlock()
		if env.Type == protocol.TypeAssign && auto {
			var as protocol.Assign
			if err := protocol.DecodePayload(env, &as); err == nil {
				a.sendQuiet(protocol.TypeAssignAccepted, protocol.AssignAccepted{CallRef: as.CallRef})
			}
		}
	}
}

func (a *testAgent) heartbeat(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stopBeat:
			return
		case <-a.done:
			return
		case <-t.C:
			a.sendQuiet(protocol.TypeHeartbeat, protocol.Heartbeat{Health: healthy()})
		}
	}
}

func (a *testAgent) sendQuiet(msgType string, payload any) error {
	data, err := protocol.Encode(msgType, payload)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.conn.Write(ctx, websocket.MessageText, data)
}

func (a *testAgent) send(msgType string, payload any) {
	a.t.Helper()
	if err := a.sendQuiet(msgType, payload); err != nil {
		a.t.Fatalf("agent %s send %s: %v", a.id, msgType, err)
	}
}

// vanish drops the connection without a close handshake, as a crashed
// agent or a cut network does.
func (a *testAgent) vanish() {
	select {
	case <-a.stopBeat:
	default:
		close(a.stopBeat)
	}
	_ = a.conn.CloseNow()
}

// messages returns the received messages of a type.
func (a *testAgent) messages(msgType string) []protocol.Envelope {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []protocol.Envelope
	for _, env := range a.received {
		if env.Type == msgType {
			out = append(out, env)
		}
	}
	return out
}

// waitFor polls until a message of the type for which match returns true
// arrived, and decodes it into v when v is not nil.
func (a *testAgent) waitFor(msgType string, match func(json.RawMessage) bool) json.RawMessage {
	a.t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		for _, env := range a.messages(msgType) {
			if match == nil || match(env.Payload) {
				return env.Payload
			}
		}
		a.mu.Lock()
		readErr := a.readErr
		a.mu.Unlock()
		if readErr != nil {
			a.t.Fatalf("agent %s: connection ended before a %s message arrived: %v", a.id, msgType, readErr)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("agent %s: no %s message arrived", a.id, msgType)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assigns decodes every Assign the agent received.
func (a *testAgent) assigns() []protocol.Assign {
	var out []protocol.Assign
	for _, env := range a.messages(protocol.TypeAssign) {
		var as protocol.Assign
		if err := protocol.DecodePayload(env, &as); err != nil {
			a.t.Fatalf("decode assign: %v", err)
		}
		out = append(out, as)
	}
	return out
}

// waitAssign waits for the Assign of one call and attempt.
func (a *testAgent) waitAssign(callID string, attempt int) protocol.Assign {
	a.t.Helper()
	raw := a.waitFor(protocol.TypeAssign, func(p json.RawMessage) bool {
		var as protocol.Assign
		return json.Unmarshal(p, &as) == nil && as.CallID == callID && as.Attempt == attempt
	})
	var as protocol.Assign
	if err := json.Unmarshal(raw, &as); err != nil {
		a.t.Fatalf("decode assign: %v", err)
	}
	return as
}

// waitAck waits for the Ack of a report.
func (a *testAgent) waitAck(reportID string) {
	a.t.Helper()
	a.waitFor(protocol.TypeAck, func(p json.RawMessage) bool {
		var ack protocol.Ack
		return json.Unmarshal(p, &ack) == nil && ack.ReportID == reportID
	})
}

// countAcks counts the Acks of a report.
func (a *testAgent) countAcks(reportID string) int {
	n := 0
	for _, env := range a.messages(protocol.TypeAck) {
		var ack protocol.Ack
		if protocol.DecodePayload(env, &ack) == nil && ack.ReportID == reportID {
			n++
		}
	}
	return n
}

// waitClose waits for the connection to end and returns its close status.
func (a *testAgent) waitClose() websocket.CloseError {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(waitDeadline):
		a.t.Fatalf("agent %s: the hub did not close the session", a.id)
	}
	a.mu.Lock()
	err := a.readErr
	a.mu.Unlock()
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		a.t.Fatalf("agent %s: connection ended without a close frame: %v", a.id, err)
	}
	return ce
}

// finish reports an attempt's outcome and waits for its Ack.
func (a *testAgent) finish(ref protocol.CallRef, disposition string, retryable bool) string {
	a.t.Helper()
	report := protocol.Finished{
		ReportID:    uuid.NewString(),
		CallRef:     ref,
		Disposition: disposition,
		Retryable:   retryable,
		At:          time.Now().UTC(),
	}
	if disposition == model.DispositionFailed {
		report.Error = "trunk returned 503"
	}
	reportID := report.ReportID
	a.send(protocol.TypeFinished, report)
	a.waitAck(reportID)
	return reportID
}
