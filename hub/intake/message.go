package intake

import (
	"strings"
	"unicode"
)

// MaxMessageRunes is the maximum length of model.Alert.Message in runes,
// including the "…" that marks a cut message.
const MaxMessageRunes = 300

// messagePaths are the fields a summary is taken from, most specific first:
// Alertmanager and Grafana annotations, then the envelopes of PagerDuty,
// Google Cloud Monitoring, Opsgenie and Sentry, then the usual names.
var messagePaths = []string{
	"commonAnnotations.summary",
	"alerts.0.annotations.summary",
	"annotations.summary",
	"commonAnnotations.message",
	"alerts.0.annotations.message",
	"annotations.message",
	"commonAnnotations.description",
	"alerts.0.annotations.description",
	"annotations.description",
	"payload.summary",
	"incident.summary",
	"event.data.title",
	"alert.message",
	"data.event.title",
	"data.issue.title",
	"data.metric_alert.title",
	"msg",
	"message",
	"summary",
	"title",
	"subject",
	"text",
	"description",
	"alert_message",
	"alert_subject",
	"event_definition_title",
	"alertDetails",
	"alert_details",
	"output",
	"body",
	"check_name",
	"name",
}

// extractMessage returns a short summary of the alert.
func extractMessage(f map[string]any, tool string, b body) string {
	if b.format == "text" {
		// Redacting only a shortened copy keeps a large body cheap. The copy
		// has four times the cap, so only long redacted values make the
		// message shorter than the cap.
		return shorten(redactText(shortenTo(b.text, 4*MaxMessageRunes)))
	}
	if m := toolMessage(f, tool); m != "" {
		return shorten(m)
	}
	for _, path := range messagePaths {
		if s, _, ok := lookupText(f, path); ok {
			return shorten(s)
		}
	}
	return ""
}

// toolMessage builds a summary from tools whose text is spread over
// several fields.
func toolMessage(f map[string]any, tool string) string {
	switch tool {
	case ToolCloudWatch:
		name := firstText(f, "Message.AlarmName", "detail.alarmName")
		reason := firstText(f, "Message.NewStateReason", "detail.state.reason", "Message.AlarmDescription")
		return joinNonEmpty(": ", name, reason)
	case ToolAWSSNS:
		return firstText(f, "Message", "Subject")
	case ToolAzureMonitor:
		return joinNonEmpty(": ", text(f, "data.essentials.alertRule"), text(f, "data.essentials.description"))
	case ToolNagios:
		where := joinNonEmpty("/", text(f, nagiosKey(f, "HOSTNAME")), text(f, nagiosKey(f, "SERVICEDESC")))
		output := text(f, nagiosKey(f, "SERVICEOUTPUT"))
		if output == "" {
			output = text(f, nagiosKey(f, "HOSTOUTPUT"))
		}
		return joinNonEmpty(": ", where, output)
	}
	return ""
}

func firstText(f map[string]any, paths ...string) string {
	for _, p := range paths {
		if s := text(f, p); s != "" {
			return s
		}
	}
	return ""
}

func joinNonEmpty(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// shorten collapses whitespace runs to one space and cuts the text to
// MaxMessageRunes runes. It stops reading at the cap, so a long text costs
// no more than a short one.
func shorten(s string) string { return shortenTo(s, MaxMessageRunes) }

// shortenTo is shorten with a cap of max runes.
func shortenTo(s string, max int) string {
	out := make([]rune, 0, 64)
	pendingSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			pendingSpace = len(out) > 0
			continue
		}
		if pendingSpace {
			out = append(out, ' ')
			pendingSpace = false
		}
		out = append(out, r)
		if len(out) > max {
			return string(out[:max-1]) + "…"
		}
	}
	return string(out)
}
