package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/model"
)

// Webhook is one HTTP request to a webhook endpoint.
type Webhook struct {
	Method string
	// ContentType is sent as the Content-Type header unless empty.
	ContentType string
	// Query is the raw query string, without "?".
	Query string
	Body  []byte
	// AlertKey is sent as X-Alert-Key unless empty.
	AlertKey string
}

// WebhookResponse is the hub's HTTP response to a webhook.
type WebhookResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// WebhookDecision is the JSON body of a 202 response.
type WebhookDecision struct {
	RequestID string  `json:"request_id"`
	State     string  `json:"state"`
	Severity  *string `json:"severity"`
	Rule      struct {
		Index int    `json:"index"`
		Name  string `json:"name"`
	} `json:"rule"`
	Action  model.Action `json:"action"`
	Outcome string       `json:"outcome"`
	Phones  []struct {
		Phone  string `json:"phone"`
		Queued bool   `json:"queued"`
		CallID string `json:"call_id"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"phones"`
}

// ErrorResponse is the JSON body of an error response: {"error":{"code","message"}}.
type ErrorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Decision decodes a 202 response.
func (a WebhookResponse) Decision() (WebhookDecision, error) {
	var d WebhookDecision
	if a.Status != http.StatusAccepted {
		return d, fmt.Errorf("webhook returned %d, want 202: %s", a.Status, truncate(string(a.Body), 500))
	}
	err := decodeJSON(a.Body, &d)
	return d, err
}

// Error decodes an error response.
func (a WebhookResponse) Error() (ErrorResponse, error) {
	var e ErrorResponse
	err := decodeJSON(a.Body, &e)
	return e, err
}

var webhookClient = &http.Client{Timeout: 30 * time.Second}

// SendWebhook sends w to the endpoint on the hub at baseURL.
func SendWebhook(ctx context.Context, baseURL, endpointID string, w Webhook) (WebhookResponse, error) {
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	target := baseURL + "/api/wh/" + url.PathEscape(endpointID)
	if w.Query != "" {
		target += "?" + w.Query
	}
	var body io.Reader
	if w.Body != nil {
		body = bytes.NewReader(w.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return WebhookResponse{}, err
	}
	if w.ContentType != "" {
		req.Header.Set("Content-Type", w.ContentType)
	}
	if w.AlertKey != "" {
		req.Header.Set("X-Alert-Key", w.AlertKey)
	}
	resp, err := webhookClient.Do(req)
	if err != nil {
		return WebhookResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return WebhookResponse{}, fmt.Errorf("read webhook response: %w", err)
	}
	return WebhookResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// MustSendWebhook sends w and fails the test unless the hub returns 202;
// it returns the decoded decision.
func MustSendWebhook(tb testing.TB, baseURL, endpointID string, w Webhook) WebhookDecision {
	tb.Helper()
	answer, err := SendWebhook(context.Background(), baseURL, endpointID, w)
	if err != nil {
		tb.Fatalf("send webhook to endpoint %s: %v", endpointID, err)
	}
	d, err := answer.Decision()
	if err != nil {
		tb.Fatalf("webhook to endpoint %s: %v", endpointID, err)
	}
	return d
}

// CallDone reports whether a call has reached a final status.
func CallDone(c model.Call) bool {
	return c.Status == model.CallFinished || c.Status == model.CallCancelled
}

// WaitForCall polls GET /api/v1/calls/{id} until the call is finished or
// cancelled, and returns it.
func WaitForCall(tb testing.TB, admin *adminclient.Client, callID string, timeout time.Duration) model.Call {
	tb.Helper()
	var call model.Call
	Eventually(tb, timeout, func() error {
		var c model.Call
		if err := admin.Do(context.Background(), http.MethodGet, "/api/v1/calls/"+url.PathEscape(callID), nil, nil, &c); err != nil {
			return err
		}
		if !CallDone(c) {
			return fmt.Errorf("call %s is %s after %d attempts", callID, c.Status, len(c.Attempts))
		}
		call = c
		return nil
	})
	return call
}

// GetRequest returns the stored request with the id.
func GetRequest(ctx context.Context, admin *adminclient.Client, id string) (model.Request, error) {
	var r model.Request
	err := admin.Do(ctx, http.MethodGet, "/api/v1/requests/"+url.PathEscape(id), nil, nil, &r)
	return r, err
}

// GetCall returns the stored call with the id.
func GetCall(ctx context.Context, admin *adminclient.Client, id string) (model.Call, error) {
	var c model.Call
	err := admin.Do(ctx, http.MethodGet, "/api/v1/calls/"+url.PathEscape(id), nil, nil, &c)
	return c, err
}

// WaitForRequest polls GET /api/v1/requests/{id} until the node serves the
// request. A follower serves reads from its own state, which can lag the
// leader's commit by a moment.
func WaitForRequest(tb testing.TB, admin *adminclient.Client, id string, timeout time.Duration) model.Request {
	tb.Helper()
	var req model.Request
	Eventually(tb, timeout, func() error {
		var err error
		req, err = GetRequest(context.Background(), admin, id)
		return err
	})
	return req
}
