package intake

import (
	"strconv"
	"strings"

	"github.com/ringhook/ringhook/hub/model"
)

// levelWords maps a normalized value to the severity it states.
var levelWords = map[string]string{}

// stateWords maps a normalized value that describes a state, not a level,
// to that state.
var stateWords = map[string]string{}

func init() {
	levels := map[string][]string{
		model.SeverityCritical: {"critical", "crit", "p0", "p1", "sev0", "fatal", "emergency", "emerg", "panic", "disaster", "urgent", "highest"},
		model.SeverityMajor:    {"major", "high", "error", "err", "p2", "sev1", "severe"},
		model.SeverityMinor:    {"minor", "warning", "warn", "medium", "moderate", "average", "p3", "sev2"},
		model.SeverityInfo:     {"info", "information", "informational", "notice", "debug", "low", "p4", "p5", "sev3", "sev4", "verbose", "not classified"},
	}
	for severity, words := range levels {
		for _, w := range words {
			levelWords[w] = severity
		}
	}
	states := map[string][]string{
		model.StateFiring:   {"firing", "alerting", "alarm", "problem", "down", "triggered", "open", "active", "failure", "failed"},
		model.StateResolved: {"resolved", "ok", "up", "recovered", "recovery", "closed", "clear", "cleared", "normal", "inactive", "success"},
	}
	for state, words := range states {
		for _, w := range words {
			stateWords[w] = state
		}
	}
}

// severityRank orders severities for picking the highest of several alerts.
var severityRank = map[string]int{
	model.SeverityInfo:     1,
	model.SeverityMinor:    2,
	model.SeverityMajor:    3,
	model.SeverityCritical: 4,
}

// documentedKeys are the top-level fields read first for a level, in this
// order; users rely on it.
var documentedKeys = []string{"severity", "status", "level", "priority", "alert_type", "alertLevel", "alert_level"}

// verdict is the reading of one value: a level, a state, or neither.
type verdict struct {
	level string
	state string
}

// normalize lower-cases and trims a value and collapses inner whitespace.
func normalize(raw string) string {
	return strings.Join(strings.Fields(strings.ToLower(raw)), " ")
}

// classify reads a value with the shared level and state tables.
func classify(raw string) verdict {
	n := normalize(raw)
	if level, ok := levelWords[n]; ok {
		return verdict{level: level}
	}
	if state, ok := stateWords[n]; ok {
		return verdict{state: state}
	}
	return verdict{}
}

// probe is one place where a known tool puts its level or state.
type probe struct {
	// path is a dotted path; "*" matches every element of a list, and the
	// highest level among them wins. A path starting with "nagios:" names a
	// Nagios macro, with or without its NAGIOS_ or ICINGA_ prefix.
	path string
	// tool, when set, limits the probe to payloads of that tool, because
	// its values (numeric codes) mean something only there.
	tool string
	// values maps normalized values that only this tool uses; they are
	// looked up before the shared tables.
	values map[string]verdict
	// sharedTables enables the shared level and state tables.
	sharedTables bool
	// levelField marks a field meant to hold a level: an unrecognized value
	// there is kept as the raw severity.
	levelField bool
	// transform rewrites the value before it is classified.
	transform func(string) string
}

var (
	firing   = verdict{state: model.StateFiring}
	resolved = verdict{state: model.StateResolved}
)

func level(s string) verdict { return verdict{level: s} }

// probes lists, in order, where common tools put their state and level.
// State probes come first so that a tool's signal for "cleared" decides the
// state even when its severity field still carries the firing level.
var probes = []probe{
	// Amazon SNS carrying a CloudWatch alarm, and CloudWatch via EventBridge.
	{path: "Message.NewStateValue", sharedTables: true},
	{path: "detail.state.value", sharedTables: true},
	// Azure Monitor common alert schema.
	{path: "data.essentials.monitorCondition", sharedTables: true, values: map[string]verdict{"fired": firing}},
	// PagerDuty Events API v2 and webhooks v3.
	{path: "event_action", sharedTables: true, values: map[string]verdict{"trigger": firing, "acknowledge": firing, "resolve": resolved}},
	{path: "event.event_type", tool: ToolPagerDuty, sharedTables: true, transform: afterLastDot,
		values: map[string]verdict{"acknowledged": firing, "reopened": firing, "escalated": firing}},
	{path: "event.data.status", tool: ToolPagerDuty, sharedTables: true, values: map[string]verdict{"acknowledged": firing}},
	// Google Cloud Monitoring.
	{path: "incident.state", sharedTables: true},
	// Sentry (triggered, resolved, or a metric alert's critical/warning)
	// and Opsgenie (Create, Close).
	{path: "action", sharedTables: true, values: map[string]verdict{"create": firing, "close": resolved}},
	// Datadog.
	{path: "alert_transition", sharedTables: true,
		values: map[string]verdict{"re-triggered": firing, "renotify": firing, "re-warn": level(model.SeverityMinor)}},
	{path: "title", tool: ToolDatadog, sharedTables: true, transform: bracketPrefix},
	// Nagios and Icinga macros.
	{path: "nagios:NOTIFICATIONTYPE", sharedTables: true,
		values: map[string]verdict{"acknowledgement": firing, "flappingstart": firing, "flappingstop": resolved}},
	{path: "nagios:SERVICESTATE", sharedTables: true, levelField: true},
	{path: "nagios:HOSTSTATE", sharedTables: true, values: map[string]verdict{"unreachable": firing}},
	// Grafana legacy alerting, New Relic (workflows and legacy), Pingdom,
	// Zabbix media types.
	{path: "state", sharedTables: true, values: map[string]verdict{"activated": firing, "created": firing, "acknowledged": firing}},
	{path: "current_state", sharedTables: true, values: map[string]verdict{"acknowledged": firing}},
	{path: "event_status", sharedTables: true},
	{path: "trigger_status", sharedTables: true},
	{path: "event_value", tool: ToolZabbix, values: map[string]verdict{"1": firing, "0": resolved}},
	// UptimeRobot: alert type 1 is down, 2 is up.
	{path: "alertType", tool: ToolUptimeRobot, values: map[string]verdict{"1": firing, "2": resolved}},
	{path: "alert_type", tool: ToolUptimeRobot, values: map[string]verdict{"1": firing, "2": resolved}},
	{path: "alertTypeFriendlyName", tool: ToolUptimeRobot, sharedTables: true},
	{path: "alert_type_friendly_name", tool: ToolUptimeRobot, sharedTables: true},
	// Uptime Kuma: heartbeat status 0 is down, 1 is up.
	{path: "heartbeat.status", tool: ToolUptimeKuma, values: map[string]verdict{"0": firing, "1": resolved}},

	// Levels.
	{path: "commonLabels.severity", sharedTables: true, levelField: true},
	{path: "alerts.*.labels.severity", sharedTables: true, levelField: true},
	{path: "labels.severity", sharedTables: true, levelField: true},
	{path: "payload.severity", sharedTables: true, levelField: true},
	{path: "data.essentials.severity", sharedTables: true, levelField: true},
	{path: "incident.severity", sharedTables: true, levelField: true},
	{path: "data.event.level", sharedTables: true, levelField: true},
	{path: "data.issue.level", sharedTables: true, levelField: true},
	{path: "event.level", sharedTables: true, levelField: true},
	{path: "alert.priority", tool: ToolOpsgenie, sharedTables: true, levelField: true},
	{path: "event.data.priority.summary", tool: ToolPagerDuty, sharedTables: true, levelField: true},
	{path: "event.data.urgency", tool: ToolPagerDuty, sharedTables: true, levelField: true},
	// Graylog event priorities 1, 2 and 3 are low, normal and high.
	{path: "event.priority", tool: ToolGraylog, levelField: true,
		values: map[string]verdict{"1": level(model.SeverityInfo), "2": level(model.SeverityMinor), "3": level(model.SeverityMajor)}},
	{path: "importance_level", sharedTables: true, levelField: true},
	{path: "event_severity", sharedTables: true, levelField: true},
	{path: "trigger_severity", sharedTables: true, levelField: true},
	// Zabbix numeric severities 0 to 5: not classified, information,
	// warning, average, high, disaster.
	{path: "event_nseverity", tool: ToolZabbix, levelField: true, values: map[string]verdict{
		"0": level(model.SeverityInfo), "1": level(model.SeverityInfo), "2": level(model.SeverityMinor),
		"3": level(model.SeverityMinor), "4": level(model.SeverityMajor), "5": level(model.SeverityCritical)}},
}

// afterLastDot turns "incident.resolved" into "resolved".
func afterLastDot(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// bracketPrefix returns the first word inside a leading "[...]", so that
// Datadog's "[Triggered on {host:a}] CPU" reads as "Triggered".
func bracketPrefix(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return ""
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return ""
	}
	inner := s[1:end]
	if f := strings.Fields(inner); len(f) > 0 {
		return f[0]
	}
	return ""
}

// assessment collects the first state and the first level found.
type assessment struct {
	state, stateSource, stateRaw string
	level, levelSource, levelRaw string
	unknownSource, unknownRaw    string
}

func (a *assessment) offer(source, raw string, v verdict, levelField bool) {
	if v.state != "" && a.state == "" {
		a.state, a.stateSource, a.stateRaw = v.state, source, raw
	}
	if v.level != "" && a.level == "" {
		a.level, a.levelSource, a.levelRaw = v.level, source, raw
	}
	if v.state == "" && v.level == "" && levelField && a.unknownSource == "" {
		a.unknownSource, a.unknownRaw = source, raw
	}
}

// assess finds the state and the severity of a payload: first the
// documented top-level fields, then the probes.
func assess(f map[string]any, tool string) assessment {
	var a assessment
	for _, key := range documentedKeys {
		v, spelled, ok := getKey(f, key)
		if !ok {
			continue
		}
		raw, ok := scalarText(v)
		if !ok || strings.TrimSpace(raw) == "" {
			continue
		}
		a.offer(spelled, raw, classify(raw), true)
	}
	for i := range probes {
		p := &probes[i]
		if p.tool != "" && p.tool != tool {
			continue
		}
		p.run(f, &a)
	}
	return a
}

func (p *probe) run(f map[string]any, a *assessment) {
	if macro, ok := strings.CutPrefix(p.path, "nagios:"); ok {
		key := nagiosKey(f, macro)
		if key == "" {
			return
		}
		p.offerAt(f, key, a)
		return
	}
	if list, rest, ok := strings.Cut(p.path, ".*."); ok {
		p.runList(f, list, rest, a)
		return
	}
	p.offerAt(f, p.path, a)
}

func (p *probe) offerAt(f map[string]any, path string, a *assessment) {
	raw, spelled, ok := lookupText(f, path)
	if !ok {
		return
	}
	a.offer(spelled, raw, p.classify(raw), p.levelField)
}

// runList offers the highest level found at rest in any element of the
// list at path list. Elements whose own status is resolved are skipped, so
// a cleared critical alert in a group does not raise the level of the
// warning that still fires.
func (p *probe) runList(f map[string]any, list, rest string, a *assessment) {
	v, spelled, ok := lookup(f, list)
	if !ok {
		return
	}
	items, ok := v.([]any)
	if !ok {
		return
	}
	best, bestSource, bestRaw := verdict{}, "", ""
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if status, _, ok := lookupText(obj, "status"); ok && classify(status).state == model.StateResolved {
			continue
		}
		raw, inner, ok := lookupText(obj, rest)
		if !ok {
			continue
		}
		vd := p.classify(raw)
		if bestSource == "" || severityRank[vd.level] > severityRank[best.level] {
			best, bestRaw = vd, raw
			bestSource = spelled + "[" + strconv.Itoa(i) + "]." + inner
		}
	}
	if bestSource != "" {
		a.offer(bestSource, bestRaw, best, p.levelField)
	}
}

func (p *probe) classify(raw string) verdict {
	value := raw
	if p.transform != nil {
		value = p.transform(value)
	}
	if v, ok := p.values[normalize(value)]; ok {
		return v
	}
	if p.sharedTables {
		return classify(value)
	}
	return verdict{}
}
