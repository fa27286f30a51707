// Package intake reads one HTTP request from a monitoring tool into a
// model.Alert: its fields, state, severity and message. It trusts no
// Content-Type, never rejects a body, and is pure and deterministic.
package intake

import "github.com/ringhook/ringhook/hub/model"

// Request is the part of an HTTP request the intake engine reads.
type Request struct {
	Method string
	// ContentType is the header as sent; it may be empty or wrong.
	ContentType string
	// Query is the raw query string, without "?".
	Query string
	Body  []byte
}

// Parse reads a webhook into an Alert.
func Parse(r Request) model.Alert {
	return model.Alert{Format: model.FormatText, State: model.StateFiring, Fields: map[string]any{}, AlertCount: 1}
}

// StoredBody returns the body as the hub stores it.
func StoredBody(r Request) (string, bool) { return "", false }
