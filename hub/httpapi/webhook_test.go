package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/integration/shareddata"
	"github.com/ringhook/ringhook/raftfsm"
	"github.com/ringhook/ringhook/raftfsm/fsmtest"
)

func TestWebhookAlertmanagerQueuesCall(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.webhook(f.endpointID, alertmanagerFiring, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", res.status, res.body)
	}
	body := res.json(t)
	if body["state"] != model.StateFiring {
		t.Errorf("state = %v, want firing", body["state"])
	}
	if body["severity"] != model.SeverityCritical {
		t.Errorf("severity = %v, want critical", body["severity"])
	}
	if body["outcome"] != model.OutcomeQueued {
		t.Errorf("outcome = %v, want queued", body["outcome"])
	}
	rule := body["rule"].(map[string]any)
	if rule["index"] != float64(0) || rule["name"] != "critical" {
		t.Errorf("rule = %v, want index 0 named critical", rule)
	}
	if action := body["action"].(map[string]any); action["type"] != model.ActionCallAll {
		t.Errorf("action = %v, want call_all", action)
	}

	phones := body["phones"].([]any)
	if len(phones) != 1 {
		t.Fatalf("phones = %v, want one", phones)
	}
	p := phones[0].(map[string]any)
	if p["phone"] != phone.Mask(f.phone) {
		t.Errorf("phone = %v, want the masked %s", p["phone"], phone.Mask(f.phone))
	}
	if strings.Contains(string(res.body), f.phone) {
		t.Errorf("webhook response contains the full phone number: %s", res.body)
	}
	if p["queued"] != true || p["reason"] != model.ReasonQueued {
		t.Errorf("phone decision = %v, want queued", p)
	}
	requestID := body["request_id"].(string)
	callID, _ := p["call_id"].(string)
	if callID != requestID+"-1" {
		t.Errorf("call_id = %q, want %q", callID, requestID+"-1")
	}

	call := env.mustAdmin(http.StatusOK, "GET", "/calls/"+callID, nil)
	if call["status"] != model.CallQueued || call["phone"] != f.phone {
		t.Errorf("stored call = %v, want a queued call to %s", call, f.phone)
	}
	stored := env.mustAdmin(http.StatusOK, "GET", "/requests/"+requestID, nil)
	if stored["endpoint_id"] != f.endpointID || stored["method"] != "POST" {
		t.Errorf("stored request = %v", stored)
	}
	if stored["body_size"] != float64(len(alertmanagerFiring)) {
		t.Errorf("body_size = %v, want %d", stored["body_size"], len(alertmanagerFiring))
	}
}

func TestWebhookTrailingPathAndQuery(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.send("GET", "/api/wh/"+f.endpointID+"/any/trailing/path?severity=critical&msg=disk", nil, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", res.status, res.body)
	}
	body := res.json(t)
	stored := env.mustAdmin(http.StatusOK, "GET", "/requests/"+body["request_id"].(string), nil)

	if stored["method"] != "GET" {
		t.Errorf("method = %v, want GET", stored["method"])
	}
	if stored["query"] != "severity=critical&msg=disk" {
		t.Errorf("query = %v, want the raw query", stored["query"])
	}

	// A path that a router would clean is served, not redirected: an HTTP
	// client follows a redirected POST as a GET.
	res = env.webhook(f.endpointID+"//alertmanager/./v2/", alertmanagerFiring, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("uncleaned path: status %d, want 202: %s", res.status, res.body)
	}
	stored = env.mustAdmin(http.StatusOK, "GET", "/requests/"+res.json(t)["request_id"].(string), nil)
	if stored["method"] != "POST" {
		t.Errorf("uncleaned path: method = %v, want POST (no redirect)", stored["method"])
	}
}

func TestWebhookStoredQueryRedactsSecrets(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.send("POST", "/api/wh/"+f.endpointID+"?token=s3cr3t-value&host=db-1&state=down", nil, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", res.status, res.body)
	}
	stored := env.mustAdmin(http.StatusOK, "GET", "/requests/"+res.json(t)["request_id"].(string), nil)
	query, _ := stored["query"].(string)
	if strings.Contains(query, "s3cr3t-value") {
		t.Errorf("stored query %q keeps the token's value", query)
	}
	if !strings.Contains(query, "host=db-1") {
		t.Errorf("stored query %q lost a parameter that is no secret", query)
	}
}

func TestWebhookBadInputs(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4096 })
	open := env.setup(nil)
	keyed := env.mustAdmin(http.StatusCreated, "POST", "/endpoints", map[string]any{
		"org_id": open.orgID, "name": "keyed", "scenario_id": open.scenarioID, "alert_key": "s3cret-key",
	})
	keyedID := keyed["id"].(string)

	t.Run("oversized body", func(t *testing.T) {
		res := env.webhook(open.endpointID, strings.Repeat("x", 4097), nil)
		if res.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %s", res.status, res.body)
		}
		if code := res.errorCode(t); code != CodeBodyTooLarge {
			t.Errorf("code = %q, want %q", code, CodeBodyTooLarge)
		}
		if msg := res.errorMessage(t); !strings.Contains(msg, "4096") {
			t.Errorf("message %q does not name the limit", msg)
		}
	})

	t.Run("body at the limit", func(t *testing.T) {
		res := env.webhook(open.endpointID, strings.Repeat("x", 4096), nil)
		if res.status != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %s", res.status, res.body)
		}
	})

	t.Run("invalid JSON is read as text", func(t *testing.T) {
		res := env.webhook(open.endpointID, `{"status": "firing", broken`, nil)
		if res.status != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %s", res.status, res.body)
		}
		id := res.json(t)["request_id"].(string)
		stored := env.mustAdmin(http.StatusOK, "GET", "/requests/"+id, nil)
		if stored["body"] != `{"status": "firing", broken` {
			t.Errorf("stored body = %v", stored["body"])
		}
	})

	t.Run("unknown endpoint", func(t *testing.T) {
		res := env.webhook("6b0f5a1e-8e55-4b43-9d7a-1f2f3c4d5e6f", alertmanagerFiring, nil)
		if res.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404: %s", res.status, res.body)
		}
		if code := res.errorCode(t); code != CodeNotFound {
			t.Errorf("code = %q, want %q", code, CodeNotFound)
		}
	})

	t.Run("missing key", func(t *testing.T) {
		res := env.webhook(keyedID, alertmanagerFiring, nil)
		if res.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", res.status, res.body)
		}
		if msg := res.errorMessage(t); !strings.Contains(msg, AlertKeyHeader) {
			t.Errorf("message %q does not name the header", msg)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		res := env.webhook(keyedID, alertmanagerFiring, map[string]string{AlertKeyHeader: "s3cret-kez"})
		if res.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", res.status, res.body)
		}
	})

	t.Run("right key", func(t *testing.T) {
		res := env.webhook(keyedID, alertmanagerFiring, map[string]string{AlertKeyHeader: "s3cret-key"})
		if res.status != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %s", res.status, res.body)
		}
	})

	t.Run("no leader", func(t *testing.T) {
		env.backend.setNoLeader(true)
		defer env.backend.setNoLeader(false)
		res := env.webhook(open.endpointID, alertmanagerFiring, nil)
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", res.status, res.body)
		}
		if code := res.errorCode(t); code != CodeNoLeader {
			t.Errorf("code = %q, want %q", code, CodeNoLeader)
		}
		if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want a positive number of seconds", res.header.Get("Retry-After"))
		}
	})
}

func TestWebhookProbeStoresNothing(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	keyed := env.mustAdmin(http.StatusCreated, "POST", "/endpoints", map[string]any{
		"org_id": f.orgID, "name": "keyed", "scenario_id": f.scenarioID, "alert_key": "s3cret-key",
	})
	keyedID := keyed["id"].(string)

	for _, method := range []string{"HEAD", "OPTIONS"} {
		for _, id := range []string{f.endpointID, keyedID} {
			res := env.send(method, "/api/wh/"+id, nil, nil)
			if res.status != http.StatusNoContent {
				t.Errorf("%s %s: status %d, want 204: %s", method, id, res.status, res.body)
			}
			allow := res.header.Get("Allow")
			if method == "OPTIONS" && (!strings.Contains(allow, "POST") || !strings.Contains(allow, "GET")) {
				t.Errorf("OPTIONS: Allow = %q, want a list of methods with GET and POST", allow)
			}
		}
		res := env.send(method, "/api/wh/6b0f5a1e-8e55-4b43-9d7a-1f2f3c4d5e6f", nil, nil)
		if res.status != http.StatusNotFound {
			t.Errorf("%s on an unknown endpoint: status %d, want 404", method, res.status)
		}
	}

	list := env.mustAdmin(http.StatusOK, "GET", "/requests", nil)
	if list["count"] != float64(0) {
		t.Errorf("probes stored %v requests, want none: %v", list["count"], list["items"])
	}
	calls := env.mustAdmin(http.StatusOK, "GET", "/calls", nil)
	if calls["count"] != float64(0) {
		t.Errorf("probes queued %v calls, want none", calls["count"])
	}

	metrics := string(env.send("GET", "/metrics", nil, nil).body)
	if want := `ringhook_webhook_requests_total{outcome="probe",status="204"} 4`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}
}

func TestWebhookProbeWithContentIsAlert(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	cases := []struct {
		name, method, query, body string
	}{
		{"HEAD with query", "HEAD", "?severity=critical", ""},
		{"OPTIONS with query", "OPTIONS", "?severity=critical", ""},
		{"OPTIONS with body", "OPTIONS", "", `{"severity":"critical"}`},
		{"GET without body", "GET", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := env.mustAdmin(http.StatusOK, "GET", "/requests", nil)["count"].(float64)

			var body any
			if c.body != "" {
				body = c.body
			}
			res := env.send(c.method, "/api/wh/"+f.endpointID+c.query, body, nil)
			if res.status != http.StatusAccepted {
				t.Fatalf("status %d, want 202: %s", res.status, res.body)
			}

			after := env.mustAdmin(http.StatusOK, "GET", "/requests", nil)
			if after["count"].(float64) != before+1 {
				t.Fatalf("requests stored: %v, want %v", after["count"], before+1)
			}
			newest := after["items"].([]any)[0].(map[string]any)
			if newest["method"] != c.method {
				t.Errorf("stored method = %v, want %s", newest["method"], c.method)
			}
		})
	}
}

// stuckBackend never finds a leader: Apply waits until its context ends.
type stuckBackend struct{ *testBackend }

func (b stuckBackend) Apply(ctx context.Context, _ raftfsm.Command) (*raftfsm.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestWebhookLeaderWaitTimeout(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	srv, err := New(Config{Backend: stuckBackend{env.backend}})
	if err != nil {
		t.Fatal(err)
	}
	srv.applyTimeout = 50 * time.Millisecond
	env.server = srv
	env.http.Config.Handler = srv.Handler()

	res := env.webhook(f.endpointID, alertmanagerFiring, nil)
	if res.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", res.status, res.body)
	}
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestWebhookSuppressedStillAccepted(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	agent := env.mustAdmin(http.StatusCreated, "POST", "/agents", map[string]any{"name": "pbx-1", "trunk": "trunk-a"})

	first := env.webhook(f.endpointID, alertmanagerFiring, nil)
	if first.status != http.StatusAccepted {
		t.Fatalf("first webhook: status %d: %s", first.status, first.body)
	}
	callID := first.json(t)["phones"].([]any)[0].(map[string]any)["call_id"].(string)

	ctx := context.Background()
	if _, err := env.backend.Apply(ctx, &raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: agent["id"].(string), Trunk: "trunk-a"}); err != nil {
		t.Fatalf("assign attempt: %v", err)
	}
	if _, err := env.backend.Apply(ctx, &raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionAnswered, At: time.Now().UTC()}); err != nil {
		t.Fatalf("finish attempt: %v", err)
	}

	for i := range 3 {
		res := env.webhook(f.endpointID, alertmanagerFiring, nil)
		if res.status != http.StatusAccepted {
			t.Fatalf("webhook %d during suppression: status %d, want 202: %s", i, res.status, res.body)
		}
		if outcome := res.json(t)["outcome"]; outcome != model.OutcomeSuppressed {
			t.Errorf("webhook %d: outcome = %v, want suppressed", i, outcome)
		}
	}
}

func TestWebhookSeverityNullWhenAbsent(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.webhook(f.endpointID, "disk almost full", map[string]string{"Content-Type": "text/plain"})
	if res.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	body := res.json(t)
	if v, ok := body["severity"]; !ok || v != nil {
		t.Errorf("severity = %v (present %v), want null", v, ok)
	}
	if rule := body["rule"].(map[string]any); rule["index"] != float64(-1) || rule["name"] != "default" {
		t.Errorf("rule = %v, want the default", rule)
	}
	if body["outcome"] != model.OutcomeActionNone {
		t.Errorf("outcome = %v, want action_none", body["outcome"])
	}
}

func TestEndpointTestPreviewStoresNothing(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.admin("POST", "/endpoints/"+f.endpointID+"/test", alertmanagerFiring)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	body := res.json(t)
	if body["preview"] != true || body["outcome"] != model.OutcomeQueued {
		t.Errorf("preview response = %s", res.body)
	}
	p := body["phones"].([]any)[0].(map[string]any)
	if p["phone"] != f.phone {
		t.Errorf("preview phone = %v, want the full number %s", p["phone"], f.phone)
	}
	alert := body["alert"].(map[string]any)
	if alert["tool"] != "alertmanager" {
		t.Errorf("alert tool = %v, want alertmanager", alert["tool"])
	}

	calls := env.mustAdmin(http.StatusOK, "GET", "/calls", nil)
	if calls["count"] != float64(0) {
		t.Errorf("a preview stored calls: %v", calls)
	}
	requests := env.mustAdmin(http.StatusOK, "GET", "/requests", nil)
	if requests["count"] != float64(0) {
		t.Errorf("a preview stored requests: %v", requests)
	}

	missing := env.admin("POST", "/endpoints/6b0f5a1e-8e55-4b43-9d7a-1f2f3c4d5e6f/test", alertmanagerFiring)
	if missing.status != http.StatusNotFound {
		t.Errorf("unknown endpoint: status %d, want 404", missing.status)
	}
}

func TestMetricsCountWebhooks(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	env.webhook(f.endpointID, alertmanagerFiring, nil)
	env.webhook("6b0f5a1e-8e55-4b43-9d7a-1f2f3c4d5e6f", alertmanagerFiring, nil)

	res := env.send("GET", "/metrics", nil, nil)
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	text := string(res.body)
	for _, want := range []string{
		`ringhook_webhook_requests_total{outcome="queued",status="202"} 1`,
		`ringhook_webhook_requests_total{outcome="not_found",status="404"} 1`,
		`ringhook_intake_duration_seconds_count 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	env := newEnv(t)

	if res := env.send("GET", "/healthz", nil, nil); res.status != http.StatusOK {
		t.Errorf("healthz: status %d", res.status)
	}
	if res := env.send("GET", "/readyz", nil, nil); res.status != http.StatusOK {
		t.Errorf("readyz with a leader: status %d: %s", res.status, res.body)
	}

	env.backend.setNoLeader(true)
	res := env.send("GET", "/readyz", nil, nil)
	if res.status != http.StatusServiceUnavailable {
		t.Errorf("readyz without a leader: status %d, want 503", res.status)
	}
	if res.json(t)["ready"] != false {
		t.Errorf("readyz body = %s", res.body)
	}
	if res := env.send("GET", "/healthz", nil, nil); res.status != http.StatusOK {
		t.Errorf("healthz without a leader: status %d, want 200", res.status)
	}
}

// BenchmarkWebhook measures one webhook through the handler: body read,
// endpoint lookup, key comparison, intake parsing and a state machine apply
// on a bbolt file. After the first call the brakes hold calls back, so most
// iterations route to no_call.
func BenchmarkWebhook(b *testing.B) {
	fsm := newFSM(b)
	backend := &testBackend{fsm: fsm, applier: &fsmtest.Applier{FSM: fsm, NodeID: "node-1"}, leader: true}
	srv, err := New(Config{Backend: backend})
	if err != nil {
		b.Fatal(err)
	}
	handler := srv.Handler()

	ctx := context.Background()
	orgID, memberID, scenarioID, endpointID := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	consent := &model.Consent{ConfirmedBy: "ops lead", ConfirmedAt: time.Now().UTC()}
	for _, cmd := range []raftfsm.Command{
		&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: orgID, Name: "Acme"}},
		&raftfsm.PutMember{Create: true, Member: model.Member{ID: memberID, OrgID: orgID, Name: "Ada", Phone: testPhone, Consent: consent}},
		&raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme", PrimaryMemberID: memberID}},
		&raftfsm.PutScenario{Create: true, Scenario: model.Scenario{ID: scenarioID, OrgID: orgID, Name: "all"}},
		&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: endpointID, OrgID: orgID, Name: "prometheus", ScenarioID: scenarioID}},
	} {
		if _, err := backend.Apply(ctx, cmd); err != nil {
			b.Fatalf("apply %T: %v", cmd, err)
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/wh/"+endpointID, strings.NewReader(alertmanagerFiring))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func TestWebhookRecordedPayloads(t *testing.T) {
	payloads := shareddata.Payloads(t)
	env := newEnv(t)
	f := env.setup(nil)

	for _, p := range payloads {
		t.Run(p.Name, func(t *testing.T) {
			header := map[string]string{}
			if p.Request.ContentType != nil {
				header["Content-Type"] = *p.Request.ContentType
			}
			path := "/api/wh/" + f.endpointID
			if p.Request.Query != "" {
				path += "?" + p.Request.Query
			}

			res := env.send(p.Request.Method, path, p.Request.Body, header)
			if res.status != http.StatusAccepted {
				t.Fatalf("status %d, want 202: %s", res.status, res.body)
			}
			body := res.json(t)
			if body["state"] != p.Expected.State {
				t.Errorf("state = %v, want %s", body["state"], p.Expected.State)
			}
			if p.Expected.Severity == nil {
				if body["severity"] != nil {
					t.Errorf("severity = %v, want null", body["severity"])
				}
			} else if body["severity"] != *p.Expected.Severity {
				t.Errorf("severity = %v, want %s", body["severity"], *p.Expected.Severity)
			}
		})
	}
}
