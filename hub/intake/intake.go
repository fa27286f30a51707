package intake

import (
	"strings"

	"github.com/ringhook/ringhook/hub/model"
)

// Request is the part of an HTTP request the intake engine reads.
type Request struct {
	Method string
	// ContentType is the header as sent; it may be empty or wrong.
	ContentType string
	// Query is the raw query string, without "?".
	Query string
	Body  []byte
}

// Parse reads a webhook into an Alert. It accepts any method and any body
// and never fails. A body it cannot read as structured data becomes a text
// alert whose message is the body. Secrets in fields and message are
// redacted as StoredBody redacts them, because the alert travels through
// the Raft log and is shown to users.
func Parse(r Request) model.Alert {
	b := decodeBody(r.ContentType, r.Body)

	fields := map[string]any{}
	if r.Query != "" {
		query, _ := decodeForm(strings.ToValidUTF8(r.Query, "\uFFFD"))
		for k, v := range query {
			fields[k] = v
		}
	}
	for k, v := range b.fields {
		fields[k] = v
	}
	unwrapEnvelopes(fields)
	redactFields(fields)

	tool := detectTool(fields, b.format)
	a := assess(fields, tool)

	alert := model.Alert{
		Format:     b.format,
		Tool:       tool,
		Fields:     fields,
		AlertCount: alertCount(b, fields),
		State:      model.StateFiring,
		Message:    extractMessage(fields, tool, b),
	}
	if a.state != "" {
		alert.State, alert.StateSource = a.state, a.stateSource
	}
	switch {
	case alert.State == model.StateResolved:
		// A resolved notification is informational whatever level the
		// payload still carries; the state's field explains why.
		alert.Severity = model.SeverityInfo
		alert.SeveritySource, alert.SeverityRaw = a.stateSource, a.stateRaw
	case a.level != "":
		alert.Severity, alert.SeveritySource, alert.SeverityRaw = a.level, a.levelSource, a.levelRaw
	case a.unknownSource != "" && a.unknownSource != a.stateSource:
		// No level was recognized: the severity stays absent, and the
		// first unrecognized value of a level field is kept for the user.
		alert.SeveritySource, alert.SeverityRaw = a.unknownSource, a.unknownRaw
	}
	return alert
}

// alertCount returns the length of a JSON array body or of an "alerts"
// list, and 1 otherwise.
func alertCount(b body, fields map[string]any) int {
	if b.format == model.FormatJSONArray {
		return b.count
	}
	if v, _, ok := getKey(fields, "alerts"); ok {
		if list, ok := v.([]any); ok && len(list) > 0 {
			return len(list)
		}
	}
	return 1
}

// unwrapEnvelopes decodes the JSON document that a tool carries in a
// string field: the Message of an Amazon SNS notification (a CloudWatch
// alarm, for example). Only known envelopes are unwrapped, because JSON in
// other strings (a log line in Graylog's event fields) belongs to the text.
func unwrapEnvelopes(fields map[string]any) {
	if !isSNS(fields) {
		return
	}
	v, key, ok := getKey(fields, "Message")
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok {
		return
	}
	if obj, ok := decodeJSONObject([]byte(strings.TrimSpace(s))); ok {
		fields[key] = obj
	}
}
