package intake

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
)

type parseCase struct {
	name        string
	method      string
	contentType string
	query       string
	body        string

	format         string
	tool           string
	state          string
	stateSource    string
	severity       string
	severitySource string
	severityRaw    string
	message        string // substring; "" asserts nothing
	alertCount     int    // 0 asserts nothing
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "POST"
			}
			a := Parse(Request{Method: method, ContentType: c.contentType, Query: c.query, Body: []byte(c.body)})
			if c.format != "" && a.Format != c.format {
				t.Errorf("format = %q, want %q", a.Format, c.format)
			}
			if a.Tool != c.tool {
				t.Errorf("tool = %q, want %q", a.Tool, c.tool)
			}
			if a.State != c.state {
				t.Errorf("state = %q (from %q), want %q", a.State, a.StateSource, c.state)
			}
			if c.stateSource != "" && a.StateSource != c.stateSource {
				t.Errorf("state source = %q, want %q", a.StateSource, c.stateSource)
			}
			if a.Severity != c.severity {
				t.Errorf("severity = %q (from %q, raw %q), want %q", a.Severity, a.SeveritySource, a.SeverityRaw, c.severity)
			}
			if c.severitySource != "" && a.SeveritySource != c.severitySource {
				t.Errorf("severity source = %q, want %q", a.SeveritySource, c.severitySource)
			}
			if c.severityRaw != "" && a.SeverityRaw != c.severityRaw {
				t.Errorf("severity raw = %q, want %q", a.SeverityRaw, c.severityRaw)
			}
			if !strings.Contains(a.Message, c.message) {
				t.Errorf("message = %q, want it to contain %q", a.Message, c.message)
			}
			if c.alertCount != 0 && a.AlertCount != c.alertCount {
				t.Errorf("alert count = %d, want %d", a.AlertCount, c.alertCount)
			}
			assertAlertInvariants(t, a)
		})
	}
}

func TestParseDocumentedOrder(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "severity before status", body: `{"status":"error","severity":"warning"}`,
			state: "firing", severity: "minor", severitySource: "severity", severityRaw: "warning"},
		{name: "state word skipped, level read later", body: `{"status":"firing","level":"P2"}`,
			state: "firing", stateSource: "status", severity: "major", severitySource: "level", severityRaw: "P2"},
		{name: "statuscake capital Status", contentType: "application/x-www-form-urlencoded",
			body:   "Token=abc&Name=Shop&StatusCode=503&Status=Down&URL=https%3A%2F%2Fshop.example.com&CheckRate=300",
			format: "form", tool: "statuscake", state: "firing", stateSource: "Status", severity: ""},
		{name: "statuscake up resolves", contentType: "application/x-www-form-urlencoded",
			body:   "Token=abc&Name=Shop&StatusCode=200&Status=Up&URL=https%3A%2F%2Fshop.example.com",
			format: "form", tool: "statuscake", state: "resolved", severity: "info", severitySource: "Status"},
		{name: "priority with trimmed spaces and case", body: `{"priority":"  HiGhEsT "}`,
			state: "firing", severity: "critical", severityRaw: "  HiGhEsT "},
		{name: "alert_type after unknown priority", body: `{"priority":"whatever","alert_type":"error"}`,
			state: "firing", severity: "major", severitySource: "alert_type"},
		{name: "alertLevel", body: `{"alertLevel":"notice"}`, state: "firing", severity: "info"},
		{name: "alert_level multi-word", body: `{"alert_level":"Not  Classified"}`, state: "firing", severity: "info"},
		{name: "severity clear resolves", body: `{"severity":"clear"}`,
			state: "resolved", severity: "info", severitySource: "severity"},
		{name: "resolved overrides level", body: `{"severity":"critical","status":"ok"}`,
			state: "resolved", stateSource: "status", severity: "info"},
		{name: "unknown value kept raw, severity absent", body: `{"severity":"purple","message":"x"}`,
			state: "firing", severity: "", severitySource: "severity", severityRaw: "purple"},
		{name: "numeric level not invented", body: `{"priority":5,"status":"down"}`,
			state: "firing", severity: "", severityRaw: "5"},
		{name: "nested level word in free text ignored", body: `{"text":"CRITICAL disk full"}`,
			state: "firing", severity: "", message: "CRITICAL disk full"},
		{name: "sev words", body: `{"severity":"SEV1"}`, state: "firing", severity: "major"},
		{name: "no level anywhere", body: `{"foo":"bar"}`, state: "firing", severity: ""},
	})
}

func TestParseTools(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "pagerduty v2 trigger", contentType: "application/json",
			body: `{"routing_key":"R0123","event_action":"trigger","dedup_key":"d1","payload":{"summary":"DB down on db-1","source":"db-1","severity":"error"}}`,
			tool: "pagerduty", state: "firing", stateSource: "event_action", severity: "major", severitySource: "payload.severity", message: "DB down on db-1"},
		{name: "pagerduty v2 resolve", contentType: "application/json",
			body: `{"routing_key":"R0123","event_action":"resolve","dedup_key":"d1","payload":{"summary":"DB down","source":"db-1","severity":"critical"}}`,
			tool: "pagerduty", state: "resolved", severity: "info", severitySource: "event_action"},
		{name: "pagerduty v3 webhook resolved",
			body: `{"event":{"id":"E1","event_type":"incident.resolved","resource_type":"incident","data":{"title":"Checkout slow","status":"resolved","urgency":"high"}}}`,
			tool: "pagerduty", state: "resolved", severity: "info", message: "Checkout slow"},
		{name: "pagerduty v3 webhook triggered P1",
			body: `{"event":{"event_type":"incident.triggered","data":{"title":"Checkout slow","status":"triggered","urgency":"low","priority":{"summary":"P1"}}}}`,
			tool: "pagerduty", state: "firing", severity: "critical", severitySource: "event.data.priority.summary"},
		{name: "azure monitor fired sev0",
			body: `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertRule":"cpu-high","severity":"Sev0","monitorCondition":"Fired","description":"CPU over 90%"}}}`,
			tool: "azure_monitor", state: "firing", stateSource: "data.essentials.monitorCondition", severity: "critical",
			severitySource: "data.essentials.severity", message: "cpu-high: CPU over 90%"},
		{name: "azure monitor fired sev2",
			body: `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertRule":"r","severity":"Sev2","monitorCondition":"Fired"}}}`,
			tool: "azure_monitor", state: "firing", severity: "minor"},
		{name: "google cloud monitoring open",
			body: `{"incident":{"incident_id":"0.abc","policy_name":"Uptime","condition_name":"check","state":"open","severity":"Critical","summary":"Uptime check failed for shop"},"version":"1.2"}`,
			tool: "google_cloud_monitoring", state: "firing", stateSource: "incident.state", severity: "critical", message: "Uptime check failed"},
		{name: "google cloud monitoring closed",
			body: `{"incident":{"incident_id":"0.abc","policy_name":"Uptime","state":"closed","severity":"Warning","summary":"ok now"},"version":"1.2"}`,
			tool: "google_cloud_monitoring", state: "resolved", severity: "info"},
		{name: "google cloud monitoring no severity",
			body: `{"incident":{"incident_id":"0.abc","policy_name":"Uptime","state":"open","severity":"No severity"},"version":"1.2"}`,
			tool: "google_cloud_monitoring", state: "firing", severity: "", severityRaw: "No severity"},
		{name: "new relic workflow activated",
			body: `{"id":"i1","issueUrl":"https://one.newrelic.example/i1","title":"High error rate","priority":"HIGH","state":"ACTIVATED","totalIncidents":1}`,
			tool: "new_relic", state: "firing", stateSource: "state", severity: "major", severitySource: "priority", message: "High error rate"},
		{name: "new relic workflow closed",
			body: `{"id":"i1","issueUrl":"https://one.newrelic.example/i1","title":"High error rate","priority":"CRITICAL","state":"CLOSED"}`,
			tool: "new_relic", state: "resolved", severity: "info"},
		{name: "new relic legacy open",
			body: `{"incident_id":42,"current_state":"open","policy_name":"API","severity":"WARNING","details":"latency above 1s"}`,
			tool: "new_relic", state: "firing", severity: "minor"},
		{name: "datadog custom recovered",
			body: `{"title":"CPU high","alert_transition":"Recovered","priority":"P1","alert_type":"success"}`,
			tool: "datadog", state: "resolved", severity: "info"},
		{name: "datadog custom warn",
			body: `{"title":"CPU high","alert_transition":"Warn","aggreg_key":"k"}`,
			tool: "datadog", state: "firing", severity: "minor", severitySource: "alert_transition"},
		{name: "datadog default recovered title",
			body: `{"body":"b","last_updated":"1","event_type":"metric_alert_monitor","title":"[Recovered on {host:web-1}] CPU high","date":"1","org":{"id":"1","name":"o"},"id":"9"}`,
			tool: "datadog", state: "resolved", stateSource: "title", severity: "info"},
		{name: "zabbix problem high",
			body: `{"event_source":"0","event_value":"1","event_severity":"High","event_status":"PROBLEM","trigger_id":"1","alert_subject":"Problem: disk full","alert_message":"Disk / is 95% full"}`,
			tool: "zabbix", state: "firing", severity: "major", severitySource: "event_severity", message: "Disk / is 95% full"},
		{name: "zabbix resolved by event value",
			body: `{"event_source":"0","event_value":"0","event_severity":"Disaster","trigger_id":"1","alert_subject":"Resolved: disk full"}`,
			tool: "zabbix", state: "resolved", stateSource: "event_value", severity: "info"},
		{name: "zabbix numeric severity",
			body: `{"event_nseverity":"5","event_value":"1","trigger_id":"1"}`,
			tool: "zabbix", state: "firing", severity: "critical", severitySource: "event_nseverity"},
		{name: "netdata critical",
			body: `{"message":"Disk space low on /","alert":"disk_space._","chart":"disk_space._","context":"disk.space","family":"/","severity":"critical","space":"s"}`,
			tool: "netdata", state: "firing", severity: "critical", message: "Disk space low"},
		{name: "netdata clear",
			body: `{"message":"Disk space ok","alert":"disk_space._","chart":"disk_space._","context":"disk.space","family":"/","severity":"clear"}`,
			tool: "netdata", state: "resolved", severity: "info"},
		{name: "nagios recovery form", contentType: "application/x-www-form-urlencoded",
			body:   "NOTIFICATIONTYPE=RECOVERY&HOSTNAME=web-01&SERVICEDESC=HTTP&SERVICESTATE=OK&SERVICEOUTPUT=HTTP+OK",
			format: "form", tool: "nagios", state: "resolved", stateSource: "NOTIFICATIONTYPE", severity: "info", message: "web-01/HTTP: HTTP OK"},
		{name: "icinga env prefix host down", contentType: "application/x-www-form-urlencoded",
			body:   "ICINGA_NOTIFICATIONTYPE=Problem&ICINGA_HOSTNAME=db-1&ICINGA_HOSTSTATE=DOWN&ICINGA_HOSTOUTPUT=PING+CRITICAL",
			format: "form", tool: "nagios", state: "firing", severity: "", message: "db-1: PING CRITICAL"},
		{name: "cloudwatch ok via sns",
			body: `{"Type":"Notification","TopicArn":"arn:aws:sns:x","Message":"{\"AlarmName\":\"cpu\",\"NewStateValue\":\"OK\",\"NewStateReason\":\"back to normal\"}"}`,
			tool: "cloudwatch", state: "resolved", stateSource: "Message.NewStateValue", severity: "info", message: "cpu: back to normal"},
		{name: "cloudwatch eventbridge alarm",
			body: `{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"cpu","state":{"value":"ALARM","reason":"over"}}}`,
			tool: "cloudwatch", state: "firing", stateSource: "detail.state.value", message: "cpu: over"},
		{name: "opsgenie close",
			body: `{"action":"Close","alert":{"alertId":"a1","message":"Queue backlog","priority":"P2"}}`,
			tool: "opsgenie", state: "resolved", severity: "info", message: "Queue backlog"},
		{name: "opsgenie create P2",
			body: `{"action":"Create","alert":{"alertId":"a1","message":"Queue backlog","priority":"P2"}}`,
			tool: "opsgenie", state: "firing", severity: "major", severitySource: "alert.priority"},
		{name: "sentry metric alert critical",
			body: `{"action":"critical","installation":{"uuid":"u"},"data":{"metric_alert":{"title":"Error rate"},"description_title":"Error rate above 5%"}}`,
			tool: "sentry", state: "firing", severity: "critical", severitySource: "action"},
		{name: "grafana legacy ok",
			body: `{"ruleName":"CPU","ruleId":3,"state":"ok","title":"[OK] CPU","message":"CPU normal"}`,
			tool: "grafana", state: "resolved", severity: "info", message: "CPU normal"},
		{name: "alertmanager highest alert severity",
			body: `{"receiver":"r","status":"firing","groupKey":"g","alerts":[{"labels":{"severity":"warning"}},{"labels":{"severity":"critical"}},{"labels":{"severity":"info"}}],"commonLabels":{}}`,
			tool: "alertmanager", state: "firing", severity: "critical", severitySource: "alerts[1].labels.severity", alertCount: 3},
		{name: "alertmanager skips resolved alerts for the level",
			body: `{"receiver":"r","status":"firing","groupKey":"g","alerts":[{"status":"resolved","labels":{"severity":"critical"}},{"status":"firing","labels":{"severity":"warning"}}],"commonLabels":{}}`,
			tool: "alertmanager", state: "firing", severity: "minor", severitySource: "alerts[1].labels.severity", alertCount: 2},
		{name: "graylog priority 1",
			body: `{"event_definition_id":"e","event_definition_title":"Login burst","event":{"priority":1,"message":"m"}}`,
			tool: "graylog", state: "firing", severity: "info", message: "Login burst"},
		{name: "uptime kuma up",
			body: `{"heartbeat":{"status":1,"msg":"200 - OK"},"monitor":{"name":"Shop"},"msg":"[Shop] [✅ Up] 200 - OK"}`,
			tool: "uptime_kuma", state: "resolved", stateSource: "heartbeat.status", severity: "info"},
		{name: "uptimerobot up query", method: "GET",
			query:  "monitorID=1&monitorFriendlyName=Shop&alertType=2&alertTypeFriendlyName=Up&alertDetails=OK",
			format: "empty", tool: "uptimerobot", state: "resolved", severity: "info"},
		{name: "healthchecks json up", body: `{"name":"backup","status":"up"}`,
			state: "resolved", severity: "info", message: "backup"},
		{name: "pingdom up",
			body: `{"check_id":1,"check_type":"HTTP","current_state":"UP","previous_state":"DOWN","importance_level":"HIGH","description":"OK"}`,
			tool: "pingdom", state: "resolved", severity: "info"},
	})
}

func TestParseBodyFormats(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "prometheus array count", contentType: "application/json",
			body:   `[{"labels":{"alertname":"A","severity":"warning"},"annotations":{"summary":"first"}},{"labels":{"alertname":"B","severity":"critical"}}]`,
			format: "json_array", tool: "prometheus", state: "firing", severity: "minor", message: "first", alertCount: 2},
		{name: "empty array", body: `[]`, format: "json_array", state: "firing", alertCount: 0},
		{name: "array of scalars", body: `[1,2,3]`, format: "json_array", state: "firing", alertCount: 3},
		{name: "double-encoded json", contentType: "application/json",
			body:   `"{\"severity\":\"critical\",\"message\":\"disk full\"}"`,
			format: "json", state: "firing", severity: "critical", message: "disk full"},
		{name: "triple-encoded json",
			body:   `"\"{\\\"severity\\\":\\\"warning\\\"}\""`,
			format: "json", state: "firing", severity: "minor"},
		{name: "json string of plain text", body: `"disk full on db-1"`, format: "text", state: "firing", message: "disk full on db-1"},
		{name: "json labelled text/plain", contentType: "text/plain", body: `{"level":"fatal"}`,
			format: "json", state: "firing", severity: "critical"},
		{name: "form labelled json", contentType: "application/json", body: "severity=high&message=disk+full",
			format: "form", state: "firing", severity: "major", message: "disk full"},
		{name: "form without content type", body: "status=resolved&summary=ok%20now\n",
			format: "form", state: "resolved", severity: "info", message: "ok now"},
		{name: "form field holding json", contentType: "application/x-www-form-urlencoded",
			body:   "payload=" + urlEscape(`{"severity":"critical","text":"boom"}`),
			format: "form", state: "firing", severity: "critical", message: "boom"},
		{name: "text labelled form", contentType: "application/x-www-form-urlencoded", body: "Disk full on db-1 = 98%",
			format: "text", state: "firing", message: "Disk full on db-1 = 98%"},
		{name: "multipart fields", contentType: "multipart/form-data; boundary=XyZ",
			body:   "--XyZ\r\nContent-Disposition: form-data; name=\"severity\"\r\n\r\nwarning\r\n--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nqueue slow\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n\x00\x01\r\n--XyZ--\r\n",
			format: "multipart", state: "firing", severity: "minor", message: "queue slow"},
		{name: "multipart without content type",
			body:   "--b0undary\r\nContent-Disposition: form-data; name=\"level\"\r\n\r\nerror\r\n--b0undary--\r\n",
			format: "multipart", state: "firing", severity: "major"},
		{name: "invalid json is text", contentType: "application/json", body: `{"severity":"critical",`,
			format: "text", state: "firing", severity: "", message: `{"severity":"critical",`},
		{name: "json with trailing garbage is text", body: `{"severity":"critical"} trailing`,
			format: "text", state: "firing", severity: ""},
		{name: "invalid utf-8 replaced", contentType: "text/plain", body: "disk \xff\xfe full",
			format: "text", state: "firing", message: "disk \uFFFD full"},
		{name: "invalid utf-8 in json", body: "{\"message\":\"a\xffb\",\"level\":\"warn\"}",
			format: "json", state: "firing", severity: "minor", message: "a\uFFFDb"},
		{name: "byte order mark", body: "\uFEFF{\"level\":\"warn\"}", format: "json", state: "firing", severity: "minor"},
		{name: "empty body", method: "GET", body: "", format: "empty", state: "firing"},
		{name: "whitespace body", body: " \n\t", format: "empty", state: "firing"},
		{name: "query merged", method: "GET", query: "severity=critical&msg=hello%20world",
			format: "empty", state: "firing", severity: "critical", message: "hello world"},
		{name: "body wins over query", query: "severity=critical&team=db", body: `{"severity":"info"}`,
			format: "json", state: "firing", severity: "info", severitySource: "severity"},
		{name: "delete method", method: "DELETE", body: `{"status":"resolved"}`, state: "resolved", severity: "info"},
		{name: "custom method", method: "PURGE", body: "x", format: "text", state: "firing", message: "x"},
		{name: "whitespace in text collapsed", body: "line one\n\n\tline   two", format: "text", state: "firing", message: "line one line two"},
		{name: "scalar json is text", body: `42`, format: "text", state: "firing", message: "42"},
	})
}

func TestParseQueryValues(t *testing.T) {
	a := Parse(Request{Method: "GET", Query: "team=db&team=web&meta=%7B%22env%22%3A%22prod%22%7D&n=5&bad=%zz"})
	if got := a.Fields["team"]; got != "db" {
		t.Errorf("repeated key team = %#v, want the first value \"db\"", got)
	}
	meta, ok := a.Fields["meta"].(map[string]any)
	if !ok {
		t.Fatalf("meta = %#v, want a decoded JSON object", a.Fields["meta"])
	}
	if meta["env"] != "prod" {
		t.Errorf("meta.env = %#v, want \"prod\"", meta["env"])
	}
	if got := a.Fields["n"]; got != "5" {
		t.Errorf("n = %#v, want the string \"5\"", got)
	}
	if got := a.Fields["bad"]; got != "%zz" {
		t.Errorf("undecodable value = %#v, want it kept raw", got)
	}
}

func TestParseJSONNumbers(t *testing.T) {
	a := Parse(Request{Body: []byte(`{"big":12345678901234567890123,"f":1.50,"ok":true,"none":null,"list":[1,"a"]}`)})
	if got, ok := a.Fields["big"].(json.Number); !ok || got.String() != "12345678901234567890123" {
		t.Errorf("big = %#v, want json.Number with all digits", a.Fields["big"])
	}
	if got, ok := a.Fields["f"].(json.Number); !ok || got.String() != "1.50" {
		t.Errorf("f = %#v, want json.Number 1.50", a.Fields["f"])
	}
	if got, ok := a.Fields["ok"].(bool); !ok || !got {
		t.Errorf("ok = %#v, want true", a.Fields["ok"])
	}
	if v, present := a.Fields["none"]; !present || v != nil {
		t.Errorf("none = %#v (present %v), want nil", v, present)
	}
	assertRoundTrip(t, a)
}

func TestParseSNSMessageUnwrapped(t *testing.T) {
	a := Parse(Request{Body: []byte(`{"Type":"Notification","TopicArn":"arn:aws:sns:x","Message":"{\"AlarmName\":\"cpu\",\"NewStateValue\":\"ALARM\"}"}`)})
	msg, ok := a.Fields["Message"].(map[string]any)
	if !ok {
		t.Fatalf("Message = %#v, want the decoded alarm", a.Fields["Message"])
	}
	if msg["AlarmName"] != "cpu" {
		t.Errorf("Message.AlarmName = %#v, want \"cpu\"", msg["AlarmName"])
	}
}

func TestParseJSONInOtherStringsKept(t *testing.T) {
	a := Parse(Request{Body: []byte(`{"event":{"fields":{"message":"{\"level\":\"fatal\"}"}},"text":"{\"severity\":\"critical\"}"}`)})
	if a.Severity != "" {
		t.Errorf("severity = %q from %q, want none: JSON inside an ordinary string is text", a.Severity, a.SeveritySource)
	}
	if _, ok := a.Fields["text"].(string); !ok {
		t.Errorf("text = %#v, want it kept as a string", a.Fields["text"])
	}
}

func TestParseMessageCapped(t *testing.T) {
	long := strings.Repeat("é", MaxMessageRunes*3)
	a := Parse(Request{Body: []byte(`{"message":"` + long + `"}`)})
	runes := []rune(a.Message)
	if len(runes) != MaxMessageRunes {
		t.Errorf("message has %d runes, want %d", len(runes), MaxMessageRunes)
	}
	if !strings.HasSuffix(a.Message, "…") {
		t.Errorf("cut message %q does not end with an ellipsis", a.Message[len(a.Message)-10:])
	}

	exact := strings.Repeat("a", MaxMessageRunes)
	if got := Parse(Request{Body: []byte(exact)}).Message; got != exact {
		t.Errorf("message of exactly %d runes was changed to %d runes", MaxMessageRunes, len([]rune(got)))
	}
}

func TestParseLargeBodies(t *testing.T) {
	const size = 1 << 20
	bodies := map[string]string{
		"text":         strings.Repeat("x", size),
		"deep array":   strings.Repeat("[", size/2) + strings.Repeat("]", size/2),
		"long string":  `{"message":"` + strings.Repeat("a b ", size/4) + `"}`,
		"many fields":  "{" + strings.TrimSuffix(strings.Repeat(`"k":1,`, size/6), ",") + "}",
		"many pairs":   strings.TrimSuffix(strings.Repeat("a=b&", size/4), "&"),
		"nested quote": strings.Repeat(`"`, size),
		"many alerts":  `{"receiver":"r","groupKey":"g","alerts":[` + strings.TrimSuffix(strings.Repeat(`{"labels":{"severity":"warning"}},`, size/34), ",") + `]}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			a := Parse(Request{Body: []byte(body)})
			assertAlertInvariants(t, a)
			stored, truncated := StoredBody(Request{Body: []byte(body)})
			if len(stored) > model.MaxStoredBody {
				t.Errorf("stored body has %d bytes, want at most %d", len(stored), model.MaxStoredBody)
			}
			if !truncated {
				t.Error("truncated = false for a body over the stored limit")
			}
		})
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D", "+", "%2B", " ", "+", `"`, "%22", "{", "%7B", "}", "%7D", ":", "%3A", ",", "%2C")
	return r.Replace(s)
}
