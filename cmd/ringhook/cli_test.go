package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/hubserver"
	"github.com/ringhook/ringhook/hub/model"
)

const testAdminToken = "test-admin-token-0123456789"

// startTestHub starts a single-node hub on free loopback ports and points
// the CLI at it through RINGHOOK_HUB and RINGHOOK_TOKEN.
func startTestHub(t *testing.T) *hubserver.Server {
	t.Helper()
	server, err := hubserver.Start(context.Background(), hubserver.Config{
		Cluster: cluster.Config{
			NodeID:          "hub1",
			DataDir:         t.TempDir(),
			RaftBind:        clustertest.FreeAddr(t, false),
			GossipBind:      clustertest.FreeAddr(t, true),
			BootstrapExpect: 1,
			GossipLocal:     true,
		},
		HTTPAddr:       "127.0.0.1:0",
		BootstrapToken: testAdminToken,
		Retention:      24 * time.Hour,
		NoAgentWait:    time.Hour,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start hub node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		server.Shutdown(ctx, false)
	})
	deadline := time.Now().Add(20 * time.Second)
	for !server.Node.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("single-node hub not ready within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("RINGHOOK_HUB", server.URL)
	t.Setenv("RINGHOOK_TOKEN", testAdminToken)
	return server
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCommand(t, stdin, args...)
	if code != 0 {
		t.Fatalf("ringhook %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// objectCounts counts the configuration objects of each kind on the hub.
func objectCounts(t *testing.T, client *adminclient.Client) map[string]int {
	t.Helper()
	counts := map[string]int{}
	var orgs []map[string]any
	if err := client.List(context.Background(), "/api/v1/organizations", nil, &orgs); err != nil {
		t.Fatalf("list organizations: %v", err)
	}
	counts["organizations"] = len(orgs)
	for _, kind := range []string{"members", "projects", "schedules", "scenarios", "endpoints"} {
		for _, org := range orgs {
			var list []map[string]any
			query := map[string][]string{"org_id": {org["id"].(string)}}
			if err := client.List(context.Background(), "/api/v1/"+kind, query, &list); err != nil {
				t.Fatalf("list %s: %v", kind, err)
			}
			counts[kind] += len(list)
		}
	}
	return counts
}

func examplePath(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "examples", "ringhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// exampleVariant writes a copy of the example file with old replaced by new.
func exampleVariant(t *testing.T, old, new string) string {
	t.Helper()
	data, err := os.ReadFile(examplePath(t))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("example file no longer contains %q", old)
	}
	return writeFile(t, "ringhook.yaml", strings.Replace(string(data), old, new, 1))
}

func TestApplyExampleFile(t *testing.T) {
	server := startTestHub(t)
	client := adminclient.New(server.URL, testAdminToken)
	example := examplePath(t)

	out := mustRun(t, "", "apply", "-f", example, "--dry-run")
	if !strings.Contains(out, `would create organization "Acme"`) || !strings.Contains(out, `would create endpoint "grafana"`) {
		t.Errorf("dry run on an empty hub does not list the creations:\n%s", out)
	}
	if counts := objectCounts(t, client); counts["organizations"] != 0 {
		t.Fatalf("dry run created objects: %v", counts)
	}

	out = mustRun(t, "", "apply", "-f", example)
	want := map[string]int{"organizations": 1, "members": 2, "projects": 2, "schedules": 1, "scenarios": 1, "endpoints": 2}
	created := objectCounts(t, client)
	for kind, n := range want {
		if created[kind] != n {
			t.Errorf("after apply: %d %s, want %d", created[kind], kind, n)
		}
	}
	if !strings.Contains(out, "webhook URL: "+server.URL+"/api/wh/") {
		t.Errorf("apply output lacks the new endpoints' webhook URLs:\n%s", out)
	}
	if !strings.Contains(out, "X-Alert-Key (shown once): ") {
		t.Errorf("apply output lacks the grafana endpoint's alert key:\n%s", out)
	}

	out = mustRun(t, "", "apply", "-f", example)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "unchanged ") {
			t.Errorf("second apply changed something: %q", line)
		}
	}
	if n := strings.Count(out, "unchanged "); n != 1+2+2+1+1+2 {
		t.Errorf("second apply reported %d unchanged objects, want 9:\n%s", n, out)
	}

	changed := exampleVariant(t, "value: [info]", "value: [info, debug]")
	out = mustRun(t, "", "apply", "-f", changed, "--dry-run")
	if !strings.Contains(out, `would update scenario "production"`) {
		t.Errorf("dry run does not report the changed scenario:\n%s", out)
	}
	if got := objectCounts(t, client); !equalCounts(got, created) {
		t.Errorf("dry run changed the object counts: %v, before %v", got, created)
	}
	if rules := scenarioRuleValues(t, client); strings.Contains(rules, "debug") {
		t.Errorf("dry run updated the scenario: %s", rules)
	}

	out = mustRun(t, "", "apply", "-f", changed)
	if !strings.Contains(out, `updated scenario "production"`) {
		t.Errorf("apply does not report the changed scenario:\n%s", out)
	}
	if strings.Count(out, "updated ") != 1 {
		t.Errorf("apply updated more than the scenario:\n%s", out)
	}
	if rules := scenarioRuleValues(t, client); !strings.Contains(rules, "debug") {
		t.Errorf("scenario not updated on the hub: %s", rules)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// scenarioRuleValues returns the rules of the only scenario as JSON.
func scenarioRuleValues(t *testing.T, client *adminclient.Client) string {
	t.Helper()
	var orgs []model.Organization
	if err := client.List(context.Background(), "/api/v1/organizations", nil, &orgs); err != nil || len(orgs) != 1 {
		t.Fatalf("list organizations: %v (%d found)", err, len(orgs))
	}
	var scenarios []model.Scenario
	if err := client.List(context.Background(), "/api/v1/scenarios", map[string][]string{"org_id": {orgs[0].ID}}, &scenarios); err != nil || len(scenarios) != 1 {
		t.Fatalf("list scenarios: %v (%d found)", err, len(scenarios))
	}
	data, _ := json.Marshal(scenarios[0].Rules)
	return string(data)
}

func TestApplyRejectsBadFiles(t *testing.T) {
	server := startTestHub(t)
	client := adminclient.New(server.URL, testAdminToken)
	tests := []struct {
		name, old, new, want string
	}{
		{name: "unknown key", old: "        region: US\n", new: "        region: US\n        colour: red\n", want: `"colour"`},
		{name: "unknown member", old: "members: [Alice, Bob]", new: "members: [Alice, Zed]", want: `no member named "Zed"`},
		{name: "unknown schedule", old: "schedule: primary on-call}", new: "schedule: night shift}", want: `no schedule named "night shift"`},
		{name: "unknown scenario", old: "scenario: production\n      - name: grafana", new: "scenario: staging\n      - name: grafana", want: `no scenario named "staging"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := exampleVariant(t, tt.old, tt.new)
			code, _, stderr := runCommand(t, "", "apply", "-f", file, "--dry-run")
			if code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
		})
	}
	if counts := objectCounts(t, client); counts["organizations"] != 0 {
		t.Errorf("rejected dry runs created objects: %v", counts)
	}

	code, _, stderr := runCommand(t, "", "apply")
	if code != 1 || !strings.Contains(stderr, "-f FILE is required") {
		t.Errorf("apply without -f: exit %d, stderr %q", code, stderr)
	}
}

const criticalAlert = `{"receiver":"ringhook","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","team":"payments"},"annotations":{"summary":"Disk is full"}}],"groupLabels":{},"commonLabels":{"alertname":"DiskFull","severity":"critical","team":"payments"},"commonAnnotations":{"summary":"Disk is full"},"version":"4","groupKey":"{}:{}"}`

// endpointIDByName returns the id of the endpoint with that name.
func endpointIDByName(t *testing.T, name string) string {
	t.Helper()
	var endpoints []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "", "get", "endpoints", "-o", "json")), &endpoints); err != nil {
		t.Fatalf("decode get endpoints -o json: %v", err)
	}
	for _, e := range endpoints {
		if e["name"] == name {
			return e["id"].(string)
		}
	}
	t.Fatalf("no endpoint named %s in %v", name, endpoints)
	return ""
}

func countRequests(t *testing.T, client *adminclient.Client) int {
	t.Helper()
	var requests []model.Request
	if err := client.List(context.Background(), "/api/v1/requests", nil, &requests); err != nil {
		t.Fatalf("list requests: %v", err)
	}
	return len(requests)
}

// tokenFromOutput returns the indented token line that follows "shown once".
func tokenFromOutput(t *testing.T, out string) string {
	t.Helper()
	_, after, ok := strings.Cut(out, "shown once")
	if !ok {
		t.Fatalf("output has no token:\n%s", out)
	}
	fields := strings.Fields(after[strings.Index(after, "\n"):])
	if len(fields) != 1 {
		t.Fatalf("output after the token header is %q, want one token", fields)
	}
	return fields[0]
}

func TestGetAndDeleteObjects(t *testing.T) {
	startTestHub(t)
	mustRun(t, "", "apply", "-f", examplePath(t))

	table := mustRun(t, "", "get", "members")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 {
		t.Fatalf("get members: %d lines, want a header and 2 rows:\n%s", len(lines), table)
	}
	for _, header := range []string{"ID", "ORG ID", "NAME", "PHONE", "CONSENT", "PROJECTS"} {
		if !strings.Contains(lines[0], header) {
			t.Errorf("get members header %q lacks %s", lines[0], header)
		}
	}
	if !strings.Contains(table, "by Dana Ops (team lead)") {
		t.Errorf("get members does not show the consent:\n%s", table)
	}

	var members []model.Member
	if err := json.Unmarshal([]byte(mustRun(t, "", "get", "member", "-o", "json")), &members); err != nil {
		t.Fatalf("get member -o json is not a JSON list: %v", err)
	}
	if len(members) != 2 {
		t.Fatalf("get member -o json: %d members, want 2", len(members))
	}

	var one model.Member
	if err := json.Unmarshal([]byte(mustRun(t, "", "get", "members", members[0].ID)), &one); err != nil {
		t.Fatalf("get members ID is not a JSON object: %v", err)
	}
	if one.ID != members[0].ID || one.Name != members[0].Name {
		t.Errorf("get members %s returned %+v", members[0].ID, one)
	}

	endpointID := endpointIDByName(t, "grafana")
	out := mustRun(t, "", "delete", "endpoint", endpointID)
	if !strings.Contains(out, "deleted endpoint "+endpointID) {
		t.Errorf("delete output = %q", out)
	}
	code, _, stderr := runCommand(t, "", "get", "endpoints", endpointID)
	if code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("get a deleted endpoint: exit %d, stderr %q; want exit 1 and a 404", code, stderr)
	}
}

func TestTokenAndAgentCreate(t *testing.T) {
	startTestHub(t)

	out := mustRun(t, "", "token", "create", "--name", "ci-deploy")
	token := tokenFromOutput(t, out)
	t.Setenv("RINGHOOK_TOKEN", "")
	code, _, stderr := runCommand(t, "", "get", "orgs", "--token", token)
	if code != 0 {
		t.Fatalf("get orgs with the new token: exit %d, stderr %q", code, stderr)
	}
	tokens := mustRun(t, "", "get", "tokens", "--token", token)
	if !strings.Contains(tokens, "ci-deploy") {
		t.Errorf("get tokens does not list the new token:\n%s", tokens)
	}
	if strings.Contains(tokens, token) {
		t.Error("get tokens shows the token's secret")
	}

	out = mustRun(t, "", "agents", "create", "--name", "pbx-1", "--trunk", "trunk-a", "--token", token)
	if agentToken := tokenFromOutput(t, out); len(agentToken) < 16 {
		t.Errorf("agent token %q is too short", agentToken)
	}
	agents := mustRun(t, "", "agents", "--token", token)
	if !strings.Contains(agents, "pbx-1") || !strings.Contains(agents, "trunk-a") {
		t.Errorf("agents does not list the new agent:\n%s", agents)
	}

	code, _, stderr = runCommand(t, "", "agents", "create", "--name", "pbx-2", "--token", token)
	if code != 1 || !strings.Contains(stderr, "--trunk") {
		t.Errorf("agents create without --trunk: exit %d, stderr %q", code, stderr)
	}
}

func TestEndpointTestStoresNothing(t *testing.T) {
	server := startTestHub(t)
	client := adminclient.New(server.URL, testAdminToken)
	mustRun(t, "", "apply", "-f", examplePath(t))
	endpointID := endpointIDByName(t, "alertmanager")
	before := countRequests(t, client)

	out := mustRun(t, criticalAlert, "endpoint", "test", endpointID)

	var decision map[string]any
	if err := json.Unmarshal([]byte(out), &decision); err != nil {
		t.Fatalf("endpoint test output is not JSON: %v\n%s", err, out)
	}
	if decision["preview"] != true {
		t.Errorf("preview = %v, want true", decision["preview"])
	}
	if name := nested(decision, "rule", "name"); name != "critical wakes the on-call person" {
		t.Errorf("matched rule = %v, want the critical rule", name)
	}
	if decision["state"] != "firing" {
		t.Errorf("state = %v, want firing", decision["state"])
	}
	if after := countRequests(t, client); after != before {
		t.Errorf("endpoint test stored a request: %d before, %d after", before, after)
	}
}

// webhookAccepted is the part of a webhook's 202 response that the tests
// read.
type webhookAccepted struct {
	RequestID string `json:"request_id"`
	Phones    []struct {
		CallID string `json:"call_id"`
	} `json:"phones"`
}

// postWebhook posts body as JSON to url, fails the test unless the hub
// responds 202, and returns the decoded response.
func postWebhook(t *testing.T, url string, body io.Reader) webhookAccepted {
	t.Helper()
	resp, err := http.Post(url, "application/json", body)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	var accepted webhookAccepted
	json.NewDecoder(resp.Body).Decode(&accepted)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook status = %d, want 202", resp.StatusCode)
	}
	return accepted
}

func TestCallsAndRequestsAfterWebhook(t *testing.T) {
	server := startTestHub(t)
	mustRun(t, "", "apply", "-f", examplePath(t))
	endpointID := endpointIDByName(t, "alertmanager")

	accepted := postWebhook(t, server.URL+"/api/wh/"+endpointID, strings.NewReader(criticalAlert))
	if len(accepted.Phones) != 1 || accepted.Phones[0].CallID == "" {
		t.Fatalf("webhook queued %+v, want one call", accepted.Phones)
	}
	callID := accepted.Phones[0].CallID

	calls := mustRun(t, "", "calls")
	if !strings.Contains(calls, callID) || !strings.Contains(calls, "queued") {
		t.Errorf("calls does not list the queued call %s:\n%s", callID, calls)
	}
	var listed []model.Call
	if err := json.Unmarshal([]byte(mustRun(t, "", "calls", "-o", "json", "--endpoint", endpointID)), &listed); err != nil {
		t.Fatalf("calls -o json: %v", err)
	}
	if len(listed) != 1 || listed[0].ID != callID {
		t.Errorf("calls -o json --endpoint = %+v, want only %s", listed, callID)
	}

	detail := mustRun(t, "", "call", callID)
	if !strings.Contains(detail, "Call "+callID) || !strings.Contains(detail, accepted.RequestID) {
		t.Errorf("call %s does not show the call and its request:\n%s", callID, detail)
	}

	requests := mustRun(t, "", "requests")
	if !strings.Contains(requests, accepted.RequestID) || !strings.Contains(requests, "#0 critical wakes") {
		t.Errorf("requests does not list the webhook with its rule:\n%s", requests)
	}

	code, _, stderr := runCommand(t, "", "calls", "--since", "yesterday")
	if code != 1 || !strings.Contains(stderr, "--since") {
		t.Errorf("calls --since yesterday: exit %d, stderr %q", code, stderr)
	}
}

func TestClusterStatus(t *testing.T) {
	startTestHub(t)

	out := mustRun(t, "", "cluster", "status")
	if !strings.Contains(out, "answered by: hub1 (leader: yes)") {
		t.Errorf("cluster status:\n%s", out)
	}
	var status map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "", "cluster", "status", "-o", "json")), &status); err != nil {
		t.Fatalf("cluster status -o json: %v", err)
	}
	if status["node_id"] != "hub1" {
		t.Errorf("node_id = %v, want hub1", status["node_id"])
	}
}

func TestCLIErrors(t *testing.T) {
	server := startTestHub(t)

	t.Run("no token", func(t *testing.T) {
		t.Setenv("RINGHOOK_TOKEN", "")
		code, _, stderr := runCommand(t, "", "get", "orgs")
		if code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		if !strings.Contains(stderr, "--token or RINGHOOK_TOKEN") {
			t.Errorf("stderr %q does not say how to set a token", stderr)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		code, _, stderr := runCommand(t, "", "get", "widgets")
		if code != 1 || !strings.Contains(stderr, `unknown kind "widgets"`) || !strings.Contains(stderr, "members") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("wrong argument count", func(t *testing.T) {
		for _, args := range [][]string{{"get"}, {"get", "members", "a", "b"}, {"delete", "members"}, {"call"}} {
			code, _, stderr := runCommand(t, "", args...)
			if code != 2 {
				t.Errorf("%v: exit code = %d, want 2", args, code)
			}
			if !strings.Contains(stderr, "Usage: ringhook "+args[0]) {
				t.Errorf("%v: stderr %q lacks the usage", args, stderr)
			}
		}
	})
	t.Run("invalid output format", func(t *testing.T) {
		code, _, stderr := runCommand(t, "", "get", "orgs", "-o", "yaml")
		if code != 2 || !strings.Contains(stderr, "-o") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("hub not running", func(t *testing.T) {
		closed := "http://" + clustertest.FreeAddr(t, false)
		code, _, stderr := runCommand(t, "", "get", "orgs", "--hub", closed)
		if code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		if !strings.Contains(stderr, closed) {
			t.Errorf("stderr %q does not name the hub URL %s", stderr, closed)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		code, _, stderr := runCommand(t, "", "frobnicate")
		if code != 2 || !strings.Contains(stderr, `"frobnicate"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	_ = server
}
