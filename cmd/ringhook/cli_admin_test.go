package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/cluster/clustertest"
)

// followerAgents is a follower's agent list: no health, and a note that
// names the leader.
func followerAgents(leaderURL string) string {
	return `{"items":[{"id":"a-1","name":"pbx-1","trunk":"trunk-a"}],"count":1,` +
		`"note":"agent health is known only on the leader; ask node node-0 at ` + leaderURL + `"}`
}

// agentRow returns the table line of agent pbx-1.
func agentRow(t *testing.T, table string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if strings.Contains(line, "pbx-1") {
			return strings.Fields(line)
		}
	}
	t.Fatalf("table has no row for pbx-1:\n%s", table)
	return nil
}

func TestAgentsOnFollowerAsksLeader(t *testing.T) {
	leader := fakeHub(t, map[string]string{
		"/api/v1/agents": `{"items":[{"id":"a-1","name":"pbx-1","trunk":"trunk-a","health":{"connected":true,"healthy":true,"detail":"ok"}}],"count":1}`,
	})
	follower := fakeHub(t, map[string]string{
		"/api/v1/agents":  followerAgents(leader),
		"/api/v1/cluster": `{"node_id":"node-1","state":"Follower","leader_id":"node-0","leader_url":"` + leader + `"}`,
	})

	code, stdout, stderr := runCommand(t, "", "agents", "--hub", follower)
	if code != 0 {
		t.Fatalf("agents: exit %d, stderr %q", code, stderr)
	}
	row := agentRow(t, stdout)
	if want := []string{"a-1", "pbx-1", "trunk-a", "yes", "yes", "ok"}; strings.Join(row, " ") != strings.Join(want, " ") {
		t.Errorf("agent row = %v, want %v", row, want)
	}
	if !strings.Contains(stderr, leader) {
		t.Errorf("stderr %q does not say the health came from the leader %s", stderr, leader)
	}
}

func TestAgentsOnFollowerWithoutLeader(t *testing.T) {
	closed := "http://" + clustertest.FreeAddr(t, false)
	follower := fakeHub(t, map[string]string{
		"/api/v1/agents":  followerAgents(closed),
		"/api/v1/cluster": `{"node_id":"node-1","state":"Follower","leader_id":"node-0","leader_url":"` + closed + `"}`,
	})

	code, stdout, stderr := runCommand(t, "", "agents", "--hub", follower)
	if code != 0 {
		t.Fatalf("agents: exit %d, stderr %q", code, stderr)
	}
	row := agentRow(t, stdout)
	if len(row) < 5 || row[3] != "unknown" || row[4] != "unknown" {
		t.Errorf("agent row = %v, want connected and healthy unknown", row)
	}
	if !strings.Contains(stderr, "ask node node-0 at "+closed) {
		t.Errorf("stderr %q does not show the hub's note", stderr)
	}

	code, stdout, _ = runCommand(t, "", "get", "agents", "--hub", follower, "-o", "json")
	if code != 0 {
		t.Fatalf("get agents -o json: exit %d", code)
	}
	var agents []map[string]any
	if err := json.Unmarshal([]byte(stdout), &agents); err != nil {
		t.Fatalf("get agents -o json: %v\n%s", err, stdout)
	}
	if _, ok := agents[0]["health"]; len(agents) != 1 || ok {
		t.Errorf("JSON agents = %v, want one agent without invented health", agents)
	}
}

func TestAgentsOnLeaderNotConnected(t *testing.T) {
	leader := fakeHub(t, map[string]string{
		"/api/v1/agents": `{"items":[{"id":"a-1","name":"pbx-1","trunk":"trunk-a"}],"count":1}`,
	})
	code, stdout, stderr := runCommand(t, "", "agents", "--hub", leader)
	if code != 0 {
		t.Fatalf("agents: exit %d, stderr %q", code, stderr)
	}
	row := agentRow(t, stdout)
	if len(row) < 5 || row[3] != "no" || row[4] != "no" {
		t.Errorf("agent row = %v, want connected and healthy no on the leader", row)
	}
}

func TestClusterWithoutArgumentShowsStatus(t *testing.T) {
	hub := fakeHub(t, map[string]string{
		"/api/v1/cluster": `{"node_id":"node-1","state":"Follower","leader_id":"node-0","ready":true}`,
	})
	code, stdout, stderr := runCommand(t, "", "cluster", "--hub", hub)
	if code != 0 {
		t.Fatalf("cluster: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "answered by: node-1 (leader: no)") {
		t.Errorf("cluster without argument does not print the status:\n%s", stdout)
	}
}

func TestCLIHelpAndUnreachableHub(t *testing.T) {
	code, _, stderr := runCommand(t, "", "requests", "-h")
	if code != 0 {
		t.Errorf("requests -h: exit %d, want 0", code)
	}
	if !strings.Contains(stderr, "list incoming webhooks") {
		t.Errorf("requests -h does not say what the command does:\n%s", stderr)
	}

	closed := "http://" + clustertest.FreeAddr(t, false)
	code, _, stderr = runCommand(t, "", "get", "orgs", "--hub", closed)
	if code != 1 {
		t.Errorf("get orgs on a closed port: exit %d, want 1", code)
	}
	if !strings.Contains(stderr, "--hub or RINGHOOK_HUB") {
		t.Errorf("stderr %q does not say how to choose the hub", stderr)
	}
}
