package shareddata

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Payload is one recorded webhook request with the reading the hub must
// take from it.
type Payload struct {
	// Name is the file name without its .json extension.
	Name     string          `json:"-"`
	Tool     string          `json:"tool"`
	Case     string          `json:"case"`
	Request  PayloadRequest  `json:"request"`
	Expected PayloadExpected `json:"expected"`
}

// PayloadRequest is the HTTP request a monitoring tool sent.
type PayloadRequest struct {
	Method string `json:"method"`
	// ContentType is nil where the tool sent no Content-Type header.
	ContentType *string `json:"content_type"`
	Query       string  `json:"query"`
	Body        string  `json:"body"`
}

// PayloadExpected is the state, severity and message text a recorded
// request must yield.
type PayloadExpected struct {
	State string `json:"state"`
	// Severity is nil where the request carries no severity.
	Severity *string `json:"severity"`
	// MessageContains is nil where the message is not checked.
	MessageContains *string `json:"message_contains"`
}

// ExpectedSeverity returns the expected severity, or "" where the request
// must yield none.
func (p Payload) ExpectedSeverity() string {
	if p.Expected.Severity == nil {
		return ""
	}
	return *p.Expected.Severity
}

// ContentType returns the Content-Type header of the request, or "" where
// there was none.
func (p Payload) ContentType() string {
	if p.Request.ContentType == nil {
		return ""
	}
	return *p.Request.ContentType
}

// Payloads returns every recorded webhook of shared/payloads in file name
// order. It skips the test when the folder is missing and fails it when
// the folder is empty or a file cannot be read.
func Payloads(tb testing.TB) []Payload {
	tb.Helper()
	payloads, err := ReadPayloads(Dir(tb, "payloads"))
	if err != nil {
		tb.Fatal(err)
	}
	return payloads
}

// ReadPayloads decodes every *.json file of dir in file name order. It
// returns an error when dir contains none.
func ReadPayloads(dir string) ([]Payload, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list payloads in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no payload files in %s", dir)
	}
	payloads := make([]Payload, 0, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read payload: %w", err)
		}
		var p Payload
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("decode payload %s: %w", file, err)
		}
		p.Name = strings.TrimSuffix(filepath.Base(file), ".json")
		payloads = append(payloads, p)
	}
	return payloads, nil
}
