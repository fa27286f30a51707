package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const inspectAlertmanagerBody = `{"receiver":"web","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","server":"node-3","severity":"critical"},"annotations":{"summary":"Disk is full"}}],"groupLabels":{},"commonLabels":{"alertname":"DiskFull","server":"node-3","severity":"critical"},"commonAnnotations":{"summary":"Disk is full"},"version":"4","groupKey":"{}:{}"}`

// runInspectCommand runs "ringhook inspect" in-process and returns the exit
// code, stdout and stderr.
func runInspectCommand(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), append([]string{"inspect"}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func decodeInspectOutput(t *testing.T, out string) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("inspect output is not one JSON object: %v\n%s", err, out)
	}
	return got
}

func TestInspectAlertmanager(t *testing.T) {
	code, out, errOut := runInspectCommand(t, inspectAlertmanagerBody, "--content-type", "application/json")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	want := map[string]any{
		"format":          "json",
		"tool":            "alertmanager",
		"state":           "firing",
		"state_source":    "status",
		"severity":        "critical",
		"severity_source": "commonLabels.severity",
		"severity_raw":    "critical",
		"message":         "Disk is full",
		"alert_count":     float64(1),
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s = %#v, want %#v", key, got[key], value)
		}
	}
	fields, ok := got["fields"].(map[string]any)
	if !ok {
		t.Fatalf("fields = %#v, want an object", got["fields"])
	}
	if fields["receiver"] != "web" {
		t.Errorf("fields.receiver = %#v, want \"web\"", fields["receiver"])
	}
	if _, present := got["matched_rule"]; present {
		t.Error("matched_rule printed without --scenario")
	}
}

func TestInspectSeverityNullWhenAbsent(t *testing.T) {
	code, out, errOut := runInspectCommand(t, `{"status":"failure","repository":"example/repo"}`)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	severity, present := got["severity"]
	if !present {
		t.Fatal("severity missing from the output, want null")
	}
	if severity != nil {
		t.Errorf("severity = %#v, want null", severity)
	}
	if got["state"] != "firing" {
		t.Errorf("state = %#v, want firing", got["state"])
	}
	if _, present := got["tool"]; present {
		t.Errorf("tool = %#v for an unknown sender, want it left out", got["tool"])
	}
}

func TestInspectFormAndQuery(t *testing.T) {
	code, out, errOut := runInspectCommand(t, "NOTIFICATIONTYPE=RECOVERY&HOSTNAME=web-01&SERVICEDESC=HTTP&SERVICESTATE=OK&SERVICEOUTPUT=HTTP+OK",
		"--method", "PUT", "--content-type", "application/json", "--query", "team=web&HOSTNAME=from-query")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	if got["format"] != "form" {
		t.Errorf("format = %#v, want form although the Content-Type says JSON", got["format"])
	}
	if got["state"] != "resolved" || got["severity"] != "info" {
		t.Errorf("state, severity = %#v, %#v; want resolved, info", got["state"], got["severity"])
	}
	fields := got["fields"].(map[string]any)
	if fields["team"] != "web" {
		t.Errorf("fields.team = %#v, want the query value \"web\"", fields["team"])
	}
	if fields["HOSTNAME"] != "web-01" {
		t.Errorf("fields.HOSTNAME = %#v, want the body value to win over the query", fields["HOSTNAME"])
	}
}

const inspectScenarioYAML = `
name: disks
rules:
  - name: info only
    conditions:
      - {field: severity, op: in, value: [info]}
    action: {type: none}
  - name: critical on node servers
    conditions:
      - {field: severity, op: in, value: [critical]}
      - {field: commonLabels.server, op: starts_with, value: node}
    action: {type: call_all}
default:
  type: call_member
  member_id: m-1
`

func writeScenario(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspectScenarioMatchesRule(t *testing.T) {
	path := writeScenario(t, "scenario.yaml", inspectScenarioYAML)
	code, out, errOut := runInspectCommand(t, inspectAlertmanagerBody, "--scenario", path)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	rule, ok := got["matched_rule"].(map[string]any)
	if !ok {
		t.Fatalf("matched_rule = %#v, want an object", got["matched_rule"])
	}
	if rule["index"] != float64(1) {
		t.Errorf("matched_rule.index = %#v, want 1", rule["index"])
	}
	if rule["name"] != "critical on node servers" {
		t.Errorf("matched_rule.name = %#v, want \"critical on node servers\"", rule["name"])
	}
	if _, isDefault := rule["default"]; isDefault {
		t.Error("matched_rule.default is set for a matched rule")
	}
	action, ok := got["action"].(map[string]any)
	if !ok {
		t.Fatalf("action = %#v, want an object", got["action"])
	}
	if action["type"] != "call_all" {
		t.Errorf("action.type = %#v, want call_all", action["type"])
	}
}

func TestInspectScenarioDefault(t *testing.T) {
	path := writeScenario(t, "scenario.json", `{"name":"disks","rules":[{"name":"critical","conditions":[{"field":"severity","op":"in","value":["critical"]}],"action":{"type":"call_all"}}],"default":{"type":"call_member","member_id":"m-1"}}`)
	code, out, errOut := runInspectCommand(t, `{"severity":"warning","message":"disk at 80%"}`, "--scenario", path)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	rule := got["matched_rule"].(map[string]any)
	if rule["index"] != float64(-1) || rule["default"] != true {
		t.Errorf("matched_rule = %#v, want index -1 and default true", rule)
	}
	action := got["action"].(map[string]any)
	if action["type"] != "call_member" || action["member_id"] != "m-1" {
		t.Errorf("action = %#v, want call_member m-1", action)
	}
}

func TestInspectInvalidScenario(t *testing.T) {
	path := writeScenario(t, "bad.yaml", `
rules:
  - name: broken rule
    conditions:
      - {field: severity, op: resembles, value: critical}
    action: {type: call_all}
`)
	code, out, errOut := runInspectCommand(t, `{}`, "--scenario", path)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing for an invalid scenario", out)
	}
	if !strings.Contains(errOut, "broken rule") {
		t.Errorf("stderr = %q, want it to name the rule", errOut)
	}
}

func TestInspectMissingScenarioFile(t *testing.T) {
	code, _, errOut := runInspectCommand(t, `{}`, "--scenario", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("stderr = %q, want it to name the file", errOut)
	}
}

func TestInspectUsageErrors(t *testing.T) {
	code, _, errOut := runInspectCommand(t, "", "--no-such-flag")
	if code != 2 {
		t.Errorf("unknown flag: exit code %d, want 2", code)
	}
	if !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("unknown flag: stderr = %q, want it to name the flag", errOut)
	}
	code, _, _ = runInspectCommand(t, "", "extra")
	if code != 2 {
		t.Errorf("positional argument: exit code %d, want 2", code)
	}
	code, _, errOut = runInspectCommand(t, "", "-h")
	if code != 0 {
		t.Errorf("-h: exit code %d, want 0", code)
	}
	if !strings.Contains(errOut, "--scenario") && !strings.Contains(errOut, "-scenario") {
		t.Errorf("-h: help does not list --scenario: %s", errOut)
	}
}

func TestInspectEmptyBody(t *testing.T) {
	code, out, errOut := runInspectCommand(t, "", "--method", "GET", "--query", "msg=hello")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	if got["format"] != "empty" || got["message"] != "hello" {
		t.Errorf("format, message = %#v, %#v; want empty, hello", got["format"], got["message"])
	}
}

func TestInspectScenarioRejectsOtherYAML(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{name: "unknown key", content: "foo: bar\n", want: []string{`unknown key "foo"`}},
		{name: "misspelled key", content: "name: disks\nrule:\n  - name: critical\n", want: []string{`unknown key "rule"`}},
		{name: "apply file", content: "organizations:\n  - name: Acme\n", want: []string{`unknown key "organizations"`, "looks like an apply file"}},
		{name: "two documents", content: "name: a\n---\nname: b\n", want: []string{"more than one YAML document"}},
		{name: "empty file", content: "# nothing yet\n", want: []string{"no YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeScenario(t, "scenario.yaml", tt.content)
			code, out, errOut := runInspectCommand(t, `{}`, "--scenario", path)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr = %q, want it to contain %q", errOut, want)
				}
			}
		})
	}
}

func TestInspectEmptyScenarioCallsPrimary(t *testing.T) {
	path := writeScenario(t, "scenario.yaml", "name: catch-all\n")
	code, out, errOut := runInspectCommand(t, inspectAlertmanagerBody, "--scenario", path)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	if rule := got["matched_rule"].(map[string]any); rule["default"] != true {
		t.Errorf("matched_rule = %#v, want the default", rule)
	}
}

func TestInspectExampleScenarioFile(t *testing.T) {
	code, out, errOut := runInspectCommand(t, inspectAlertmanagerBody,
		"--content-type", "application/json", "--scenario", "../../examples/scenario.yaml")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	got := decodeInspectOutput(t, out)
	rule, _ := got["matched_rule"].(map[string]any)
	if rule["index"] != float64(0) {
		t.Errorf("matched_rule = %#v, want rule 0 for a critical alert", got["matched_rule"])
	}
	action, _ := got["action"].(map[string]any)
	if action["type"] != "call_on_schedule" {
		t.Errorf("action = %#v, want call_on_schedule", got["action"])
	}
}
