// Package adminclient is a small client for the hub's admin API, used by
// the CLI, the local demo and the end-to-end tests.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one hub node's admin API.
type Client struct {
	// BaseURL is the hub's base URL, for example http://127.0.0.1:8080.
	BaseURL string
	// Token is an admin bearer token.
	Token string
	HTTP  *http.Client
}

// New returns a client with a 30-second request timeout.
func New(baseURL, token string) *Client {
	return &Client{
		BaseURL: strings.TrimRight(baseURL, "/"),
		Token:   token,
		HTTP:    &http.Client{Timeout: 30 * time.Second},
	}
}

// APIError is an error response of the hub: {"error":{"code","message"}}.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("hub responded with HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// IsNotFound reports whether err is a 404 response.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// Do sends a JSON request and decodes a JSON response into out, unless out is
// nil. body may be nil, a []byte sent as is, or a value encoded as JSON.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	default:
		encoded, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request body: %w", err)
		}
		payload = encoded
	}
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return c.Send(ctx, method, path, query, contentType, payload, out)
}

// Send sends body as is with the given Content-Type (none when empty) and
// decodes a JSON response into out, unless out is nil. A *json.RawMessage
// out receives the response unparsed.
func (c *Client) Send(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, out any) error {
	target := c.BaseURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}

	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is the hub running at %s?)", method, path, err, c.BaseURL)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the response of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the response of %s %s: %w", method, path, err)
	}
	return nil
}

func decodeError(status int, data []byte) error {
	var envelope struct {
		Error *APIError `json:"error"`
	}
	if err := json.Unmarshal(data, &envelope); err == nil && envelope.Error != nil {
		envelope.Error.Status = status
		return envelope.Error
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return &APIError{Status: status, Code: "http_error", Message: text}
}

// List fetches a list route, which responds with {"items": [...]}, and decodes
// the items into out.
func (c *Client) List(ctx context.Context, path string, query url.Values, out any) error {
	_, err := c.ListNote(ctx, path, query, out)
	return err
}

// ListNote is List, and also returns the list's note, "" when it has none.
// A follower's agent list has one, naming the leader that tracks the
// agents' health.
func (c *Client) ListNote(ctx context.Context, path string, query url.Values, out any) (string, error) {
	var envelope struct {
		Items json.RawMessage `json:"items"`
		Note  string          `json:"note"`
	}
	if err := c.Do(ctx, http.MethodGet, path, query, nil, &envelope); err != nil {
		return "", err
	}
	if len(envelope.Items) == 0 {
		envelope.Items = json.RawMessage("[]")
	}
	if err := json.Unmarshal(envelope.Items, out); err != nil {
		return "", fmt.Errorf("decode the items of GET %s: %w", path, err)
	}
	return envelope.Note, nil
}
