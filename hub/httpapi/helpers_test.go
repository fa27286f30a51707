package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/raftfsm"
	"github.com/ringhook/ringhook/raftfsm/fsmtest"
)

const testBootstrapToken = "bootstrap-secret-for-tests"

// testBackend is a one-node backend over a real state machine, applying
// commands directly. noLeader makes writes fail as during an election.
// applyErr, when set, is returned by Apply and RemoveServer while the
// leader stays known.
type testBackend struct {
	fsm     *raftfsm.FSM
	applier *fsmtest.Applier

	mu       sync.Mutex
	noLeader bool
	applyErr error
	leader   bool
	removed  []string
}

func (b *testBackend) ID() string { return "node-1" }

func (b *testBackend) Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	b.mu.Lock()
	noLeader, applyErr := b.noLeader, b.applyErr
	b.mu.Unlock()
	if noLeader {
		return nil, cluster.ErrNoLeader
	}
	if applyErr != nil {
		return nil, applyErr
	}
	return b.applier.Apply(ctx, cmd)
}

func (b *testBackend) FSM() *raftfsm.FSM { return b.fsm }

func (b *testBackend) IsLeader() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leader && !b.noLeader
}

func (b *testBackend) Leader() (string, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.noLeader {
		return "", ""
	}
	if b.leader {
		return "node-1", "http://127.0.0.1:1"
	}
	return "node-2", "http://127.0.0.1:2"
}

func (b *testBackend) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.noLeader
}

func (b *testBackend) RemoveServer(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.applyErr != nil {
		return b.applyErr
	}
	if id != "node-2" && id != "node-3" {
		return cluster.ErrUnknownServer
	}
	b.removed = append(b.removed, id)
	return nil
}

func (b *testBackend) Status() cluster.Status {
	leaderID, leaderURL := b.Leader()
	return cluster.Status{
		NodeID: b.ID(), State: "Leader", LeaderID: leaderID, LeaderURL: leaderURL,
		Term: 2, Commit: 7, Applied: 7, Ready: b.Ready(),
		Nodes: []cluster.NodeStatus{{ID: "node-1"}, {ID: "node-2"}, {ID: "node-3"}},
	}
}

func (b *testBackend) setApplyErr(err error) {
	b.mu.Lock()
	b.applyErr = err
	b.mu.Unlock()
}

func (b *testBackend) setNoLeader(v bool) {
	b.mu.Lock()
	b.noLeader = v
	b.mu.Unlock()
}

type testEnv struct {
	t        *testing.T
	backend  *testBackend
	server   *Server
	http     *httptest.Server
	baseURL  string
	client   *http.Client
	registry *prometheus.Registry
	token    string
}

type envOption func(*Config)

func newFSM(tb testing.TB) *raftfsm.FSM {
	tb.Helper()
	fsm, err := raftfsm.New(tb.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("raftfsm.New: %v", err)
	}
	tb.Cleanup(func() { _ = fsm.Close() })
	return fsm
}

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	fsm := newFSM(t)
	backend := &testBackend{fsm: fsm, applier: &fsmtest.Applier{FSM: fsm, NodeID: "node-1"}, leader: true}
	reg := prometheus.NewRegistry()
	cfg := Config{
		Backend:        backend,
		Logger:         slog.New(slog.DiscardHandler),
		Registry:       reg,
		BootstrapToken: testBootstrapToken,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testEnv{t: t, backend: backend, server: srv, http: ts, baseURL: ts.URL, client: ts.Client(), registry: reg, token: testBootstrapToken}
}

// response is one HTTP response with its body.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("response has no error object: %s", r.body)
	}
	return e["code"].(string)
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("response has no error object: %s", r.body)
	}
	return e["message"].(string)
}

// send sends a request; body is a string or []byte sent as is, or a value
// encoded as JSON. header holds extra headers.
func (e *testEnv) send(method, path string, body any, header map[string]string) response {
	e.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		reader = bytes.NewReader(data)
	}

	req, err := http.NewRequest(method, e.baseURL+path, reader)
	if err != nil {
		e.t.Fatalf("build request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}

	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read response: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// admin sends an admin API request with the env's token.
func (e *testEnv) admin(method, path string, body any) response {
	e.t.Helper()
	return e.send(method, "/api/v1"+path, body, map[string]string{"Authorization": "Bearer " + e.token})
}

// mustAdmin sends an admin request and fails unless the status matches.
func (e *testEnv) mustAdmin(status int, method, path string, body any) map[string]any {
	e.t.Helper()
	res := e.admin(method, path, body)
	if res.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.status, status, res.body)
	}
	if len(res.body) == 0 {
		return nil
	}
	return res.json(e.t)
}

// fixture is an organization wired for calls: a consenting member as the
// primary, a scenario that calls everyone for critical alerts, and an
// endpoint.
type fixture struct {
	orgID, memberID, scenarioID, endpointID, webhookURL string
	phone                                               string
}

const testPhone = "+4915112345678"

func (e *testEnv) setup(endpointExtra map[string]any) fixture {
	e.t.Helper()
	var f fixture
	f.phone = testPhone
	org := e.mustAdmin(http.StatusCreated, "POST", "/organizations", map[string]any{"name": "Acme"})
	f.orgID = org["id"].(string)
	member := e.mustAdmin(http.StatusCreated, "POST", "/members", map[string]any{
		"org_id": f.orgID, "name": "Ada", "phone": "0151 12345678", "region": "DE",
		"consent": map[string]any{"confirmed_by": "ops lead"},
	})
	f.memberID = member["id"].(string)
	e.mustAdmin(http.StatusOK, "PATCH", "/organizations/"+f.orgID, map[string]any{"primary_member_id": f.memberID})
	scenario := e.mustAdmin(http.StatusCreated, "POST", "/scenarios", map[string]any{
		"org_id": f.orgID, "name": "critical pages",
		"rules": []any{map[string]any{
			"name":       "critical",
			"conditions": []any{map[string]any{"field": "severity", "op": "in", "value": []any{"critical"}}},
			"action":     map[string]any{"type": "call_all"},
		}},
		"default": map[string]any{"type": "none"},
	})
	f.scenarioID = scenario["id"].(string)
	body := map[string]any{"org_id": f.orgID, "name": "prometheus", "scenario_id": f.scenarioID}
	for k, v := range endpointExtra {
		body[k] = v
	}
	endpoint := e.mustAdmin(http.StatusCreated, "POST", "/endpoints", body)
	f.endpointID = endpoint["id"].(string)
	f.webhookURL = endpoint["webhook_url"].(string)
	return f
}

// alertmanagerFiring is an Alertmanager webhook v4 body with a critical alert.
const alertmanagerFiring = `{"receiver":"web\\.hook","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DemoAlert","server":"node-3","severity":"critical"},"annotations":{"summary":"This is a demo"},"startsAt":"2021-01-07T08:38:00.032813093Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph","fingerprint":"8a07086b74f3ba78"}],"groupLabels":{"alertname":"DemoAlert"},"commonLabels":{"alertname":"DemoAlert","server":"node-3","severity":"critical"},"commonAnnotations":{"summary":"This is a demo"},"externalURL":"http://alertmanager.example:9093","version":"4","groupKey":"{}:{alertname=\"DemoAlert\"}","truncatedAlerts":0}
`

func (e *testEnv) webhook(endpointID, body string, header map[string]string) response {
	e.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return e.send("POST", "/api/wh/"+endpointID, body, h)
}
