// Package intake reads one HTTP request from a monitoring tool into a
// model.Alert: its fields, state, severity and message. It trusts no
// Content-Type, never rejects a body, and is pure and deterministic, so
// every hub node reads the same request the same way.
//
// # Reading the body
//
// The body is sniffed in this order; the Content-Type header only supplies
// a multipart boundary.
//
//  1. Invalid UTF-8 is replaced by U+FFFD and a byte-order mark dropped.
//     A body of only whitespace is FormatEmpty.
//  2. A valid JSON object is FormatJSON. A valid JSON array is
//     FormatJSONArray: its first element, when an object, gives the fields,
//     and AlertCount is the array's length (Prometheus posts "[{...}]").
//     A JSON string that holds a JSON document (a double-encoded body) is
//     read as that document, up to three layers deep.
//  3. A multipart body, found by the Content-Type boundary or by a first
//     line "--boundary" followed by a part header, is FormatMultipart. File
//     parts are skipped.
//  4. key=value pairs joined by "&" with no raw whitespace are
//     FormatForm, whatever the Content-Type header claims. Text labelled as a form
//     (curl -d "some text") stays text because it has spaces.
//  5. Anything else, and JSON that fails to parse, is FormatText, with the
//     text as the message.
//
// Form, multipart and query values are strings; a repeated key keeps its
// first value. A value that holds a JSON object or array is decoded, since
// a form has no other way to carry nested data. A form with a single field
// holding a JSON object (Uptime Kuma's "data", a "payload" field) is read
// as that object. JSON values are what encoding/json yields with
// UseNumber. Query parameters are merged into the fields, and body fields
// win on a clash.
//
// The Message string of an Amazon SNS notification is decoded when it holds
// a JSON object (a CloudWatch alarm). No other string is unwrapped, because
// JSON inside an arbitrary string (a log line) belongs to its text.
//
// # State and severity
//
//  1. The documented top-level fields are read in this order, with keys
//     matched case-insensitively: severity, status, level, priority,
//     alert_type, alertLevel, alert_level. The first value that names a
//     level sets the severity.
//  2. Values are trimmed and lower-cased, then looked up in two tables.
//     Level words: critical (critical, crit, p0, p1, sev0, fatal,
//     emergency, emerg, panic, disaster, urgent, highest), major (major,
//     high, error, err, p2, sev1, severe), minor (minor, warning, warn,
//     medium, moderate, average, p3, sev2), info (info, information,
//     informational, notice, debug, low, p4, p5, sev3, sev4, verbose,
//     not classified).
//  3. State words set the state and never the severity: firing, alerting,
//     alarm, problem, down, triggered, open, active, failure, failed for
//     firing; resolved, ok, up, recovered, recovery, closed, clear,
//     cleared, normal, inactive, success for resolved. A value in neither
//     table is kept as SeverityRaw (with its SeveritySource) while the
//     severity stays absent, and the search goes on.
//  4. Then the probes in level.go run in order: first the state fields of
//     known tools (SNS Message.NewStateValue, Azure monitorCondition,
//     PagerDuty event_action, Google Cloud incident.state, Sentry and
//     Opsgenie action, Datadog alert_transition and title prefix, Nagios
//     NOTIFICATIONTYPE, SERVICESTATE and HOSTSTATE, state, current_state,
//     Zabbix event_status, UptimeRobot alert type, Uptime Kuma
//     heartbeat.status), then their level fields (commonLabels.severity,
//     the highest alerts[].labels.severity, labels.severity,
//     payload.severity, data.essentials.severity, incident.severity,
//     Sentry levels, Graylog event.priority, Pingdom importance_level,
//     Zabbix event_severity and event_nseverity, and more). Numeric codes
//     apply only when the payload's shape identifies the tool.
//  5. The first state found wins; with none the alert is firing. The first
//     level found wins. NOTE: alerts posted to the Alertmanager API carry
//     endsAt, and a past endsAt means resolved, but Parse reads no clock,
//     so such an alert reads as firing unless a state field says otherwise.
//  6. A resolved alert has severity info, and its SeveritySource and
//     SeverityRaw name the field that resolved it.
//  7. With no level anywhere the severity is empty; it is never guessed.
//
// # Message
//
// The message is the first non-empty text of: a tool's own summary (SNS
// alarm name and reason, Azure alert rule, Nagios host/service and
// output), the Alertmanager and Grafana annotations (summary, message,
// description), the PagerDuty, Google Cloud, Opsgenie and Sentry titles,
// then msg, message, summary, title, subject, text, description and a few
// more names listed in message.go. A text body is its own message.
// Whitespace runs become one space and the result is cut to
// MaxMessageRunes runes.
//
// # Redaction
//
// StoredBody and StoredQuery replace with Redacted the value of every field
// whose name IsSecretField reports (names containing password, passwd,
// passphrase, secret, token, apikey, authorization, signature, credential,
// cookie, privatekey, connectionstring or subscribeurl; names ending in a
// key type such as routingkey, or in pass or pwd; and auth, sig, tlskey),
// compared after dropping case and punctuation. This covers SNS Signature,
// Token and SubscribeURL, PagerDuty routing_key and Uptime Kuma monitor
// passwords. Redaction works in JSON (also in JSON held in a string, such
// as an SNS Message), form, multipart and query bodies, and on
// "name=value" pairs and bearer credentials inside any text.
package intake
