//go:build e2e

package integration

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/harness"
)

// testBadInput sends what a misconfigured tool or operator sends. Each gets
// its documented status and error, and no request or call stored before is
// lost.
func testBadInput(t *testing.T, e *env) {
	ctx := context.Background()
	admin := e.admin()
	o := createOrg(t, admin, "bad input", model.Brakes{})
	scenario := o.addScenario(t, admin, "record only", nil, model.Action{Type: model.ActionNone})
	const alertKey = "e2e-alert-key-5b1f0c"
	endpointID := o.addEndpoint(t, e, "keyed", scenario.ID, alertKey)

	requestsBefore := listRequests(t, admin, nil)
	callsBefore := listCalls(t, admin, nil)
	if len(requestsBefore) == 0 || len(callsBefore) == 0 {
		t.Fatalf("found %d requests and %d calls before the bad input, want some of both", len(requestsBefore), len(callsBefore))
	}
	hub := e.cluster.Hubs[1].URL
	firing := []byte(`{"status":"firing","message":"x"}`)

	webhookCases := []struct {
		name       string
		endpointID string
		webhook    harness.Webhook
		status     int
		code       string
		message    string
	}{
		{
			name:       "oversized body",
			endpointID: endpointID,
			webhook:    harness.Webhook{ContentType: "text/plain", AlertKey: alertKey, Body: bytes.Repeat([]byte("a"), 1<<20+1)},
			status:     http.StatusRequestEntityTooLarge,
			code:       "body_too_large",
			message:    "1048576",
		},
		{
			name:       "wrong alert key",
			endpointID: endpointID,
			webhook:    harness.Webhook{ContentType: "application/json", AlertKey: "not-the-key", Body: firing},
			status:     http.StatusUnauthorized,
			code:       "unauthorized",
			message:    "does not match",
		},
		{
			name:       "missing alert key",
			endpointID: endpointID,
			webhook:    harness.Webhook{ContentType: "application/json", Body: firing},
			status:     http.StatusUnauthorized,
			code:       "unauthorized",
			message:    "X-Alert-Key",
		},
		{
			name:       "unknown endpoint",
			endpointID: uuid.NewString(),
			webhook:    harness.Webhook{ContentType: "application/json", Body: firing},
			status:     http.StatusNotFound,
			code:       "not_found",
			message:    "no endpoint",
		},
	}
	for _, c := range webhookCases {
		answer, err := harness.SendWebhook(ctx, hub, c.endpointID, c.webhook)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if answer.Status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, answer.Status, c.status, answer.Body)
			continue
		}
		body, err := answer.Error()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if body.Error.Code != c.code || !strings.Contains(body.Error.Message, c.message) {
			t.Errorf("%s: error %q %q, want code %q and a message containing %q", c.name, body.Error.Code, body.Error.Message, c.code, c.message)
		}
	}

	// Malformed JSON is still an alert: it is stored as text.
	malformed := `{"status": "firing", "message": "cut off`
	d := harness.MustSendWebhook(t, hub, endpointID, harness.Webhook{ContentType: "application/json", AlertKey: alertKey, Body: []byte(malformed)})
	stored, err := harness.GetRequest(ctx, admin, d.RequestID)
	if err != nil {
		t.Fatalf("malformed JSON request %s is not stored: %v", d.RequestID, err)
	}
	if stored.Body != malformed || stored.State != model.StateFiring || stored.Outcome != model.OutcomeActionNone {
		t.Errorf("malformed JSON stored as body %q state %q outcome %q, want the body unchanged, firing, action_none", stored.Body, stored.State, stored.Outcome)
	}

	t.Run("BlockedPhone", func(t *testing.T) {
		for _, c := range []struct{ phone, region, reason string }{
			{"+18005550123", "", "toll_free"},
			{"911", "US", "emergency"},
			{"999", "GB", "emergency"},
			{"+44 999", "", ""},
		} {
			in := map[string]any{"org_id": o.ID, "name": "blocked " + c.phone, "phone": c.phone, "region": c.region,
				"consent": map[string]any{"confirmed_by": "e2e suite"}}
			apiErr := adminError(ctx, admin, http.MethodPost, "/api/v1/members", in)
			if apiErr == nil {
				t.Errorf("member with phone %q was created, want 422", c.phone)
				continue
			}
			if apiErr.Status != http.StatusUnprocessableEntity || apiErr.Code != "blocked_number" || !strings.Contains(apiErr.Message, c.reason) {
				t.Errorf("member with phone %q: %d %s %q, want 422 blocked_number naming %q", c.phone, apiErr.Status, apiErr.Code, apiErr.Message, c.reason)
			}
		}
		var members []model.Member
		if err := admin.List(ctx, "/api/v1/members", map[string][]string{"org_id": {o.ID}}, &members); err != nil {
			t.Fatal(err)
		}
		if len(members) != 0 {
			t.Errorf("organization has %d members after the rejected ones, want 0", len(members))
		}
	})

	t.Run("InvalidScenario", func(t *testing.T) {
		in := model.Scenario{OrgID: o.ID, Name: "typo", Rules: []model.Rule{
			{Name: "fine", Conditions: []model.Condition{{Field: "severity", Op: "in", Value: []any{"critical"}}}, Action: model.Action{Type: model.ActionNone}},
			{Name: "regex typo", Conditions: []model.Condition{{Field: "message", Op: "matches", Value: "db.*"}}, Action: model.Action{Type: model.ActionNone}},
		}}
		apiErr := adminError(ctx, admin, http.MethodPost, "/api/v1/scenarios", in)
		if apiErr == nil {
			t.Fatal("scenario with an unknown operator was created, want 422")
		}
		if apiErr.Status != http.StatusUnprocessableEntity || apiErr.Code != "invalid" {
			t.Errorf("invalid scenario: %d %s, want 422 invalid", apiErr.Status, apiErr.Code)
		}
		for _, want := range []string{"rule 1", "regex typo", `"matches"`} {
			if !strings.Contains(apiErr.Message, want) {
				t.Errorf("invalid scenario message %q does not contain %q", apiErr.Message, want)
			}
		}
	})

	t.Run("UnauthenticatedAdmin", func(t *testing.T) {
		for _, token := range []string{"", "rhk_not_a_real_token"} {
			anonymous := adminclient.New(admin.BaseURL, token)
			apiErr := adminError(ctx, anonymous, http.MethodGet, "/api/v1/requests", nil)
			if apiErr == nil || apiErr.Status != http.StatusUnauthorized || apiErr.Code != "unauthorized" {
				t.Errorf("GET /api/v1/requests with token %q: %v, want 401 unauthorized", token, apiErr)
			}
		}
	})

	// Nothing stored before is lost, and only the malformed JSON was added.
	requestsAfter := listRequests(t, admin, nil)
	if len(requestsAfter) != len(requestsBefore)+1 {
		t.Errorf("%d requests after the bad input, want %d before plus the malformed JSON", len(requestsAfter), len(requestsBefore))
	}
	afterIDs := map[string]bool{}
	for _, r := range requestsAfter {
		afterIDs[r.ID] = true
	}
	for _, r := range requestsBefore {
		if !afterIDs[r.ID] {
			t.Errorf("request %s is gone after the bad input", r.ID)
		}
	}
	callsAfter := listCalls(t, admin, nil)
	callIDs := map[string]bool{}
	for _, c := range callsAfter {
		callIDs[c.ID] = true
	}
	if len(callsAfter) != len(callsBefore) {
		t.Errorf("%d calls after the bad input, want %d", len(callsAfter), len(callsBefore))
	}
	for _, c := range callsBefore {
		if !callIDs[c.ID] {
			t.Errorf("call %s is gone after the bad input", c.ID)
		}
	}
}

// adminError sends an admin request that must fail and returns its error
// answer, or nil when it succeeded.
func adminError(ctx context.Context, client *adminclient.Client, method, path string, in any) *adminclient.APIError {
	err := client.Do(ctx, method, path, nil, in, nil)
	if err == nil {
		return nil
	}
	var apiErr *adminclient.APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return &adminclient.APIError{Code: "transport", Message: err.Error()}
}
