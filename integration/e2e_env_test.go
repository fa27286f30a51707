//go:build e2e

package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/harness"
	"github.com/ringhook/ringhook/integration/pbxsim"
)

// Timings of the shared environment. The ring timeout bounds the
// no-answer calls; the no-agent wait bounds calls that find no agent.
const (
	ringTimeout  = 6 * time.Second
	noAgentWait  = 30 * time.Second
	callDeadline = 90 * time.Second
	adminToken   = "e2e-bootstrap-admin-token-0123456789"
)

// env is one cluster of three hubs, three PBX simulators and three agents
// (agent i dials through PBX i), shared by the scenarios of TestEndToEnd.
type env struct {
	cluster *harness.Cluster
	pbxs    []*harness.PBX
	agents  []*harness.Agent
}

func startEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		cluster: harness.StartCluster(t, 3, harness.HubOptions{
			AdminToken:  adminToken,
			NoAgentWait: noAgentWait,
		}),
	}
	for i := 0; i < 3; i++ {
		e.pbxs = append(e.pbxs, harness.StartPBX(t, fmt.Sprintf("pbx-%c", 'a'+i)))
	}

	admin := e.cluster.Admin()
	var ids []string
	for i, pbx := range e.pbxs {
		var created struct {
			model.Agent
			Token string `json:"token"`
		}
		in := model.Agent{Name: fmt.Sprintf("agent-%c", 'a'+i), Trunk: fmt.Sprintf("trunk-%c", 'a'+i)}
		mustDo(t, admin, http.MethodPost, "/api/v1/agents", in, &created)
		if created.Token == "" {
			t.Fatalf("POST /api/v1/agents returned no token for %s", in.Name)
		}
		e.agents = append(e.agents, harness.StartAgent(t, created.ID, harness.AgentOptions{
			Name:        in.Name,
			Token:       created.Token,
			Trunk:       in.Trunk,
			HubURLs:     e.cluster.URLs(),
			PBX:         pbx,
			RingTimeout: ringTimeout,
		}))
		ids = append(ids, created.ID)
	}
	e.cluster.WaitForHealthyAgents(60*time.Second, ids...)
	return e
}

// agentIDs returns the ids of every agent.
func (e *env) agentIDs() []string {
	var ids []string
	for _, a := range e.agents {
		ids = append(ids, a.ID)
	}
	return ids
}

// agentByID returns the agent with the id, or nil.
func (e *env) agentByID(id string) *harness.Agent {
	for _, a := range e.agents {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// setBehavior makes every PBX treat calls to number with b.
func (e *env) setBehavior(t *testing.T, number string, b pbxsim.Behavior) {
	t.Helper()
	for _, p := range e.pbxs {
		p.SetBehavior(t, number, b)
	}
}

// admin returns a client of the current leader.
func (e *env) admin() *adminclient.Client { return e.cluster.Admin() }

func mustDo(t *testing.T, admin *adminclient.Client, method, path string, in, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.Do(ctx, method, path, nil, in, out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// org is one organization with its members, scenario and endpoints, made
// through the admin API.
type org struct {
	model.Organization
	members map[string]model.Member
}

func createOrg(t *testing.T, admin *adminclient.Client, name string, brakes model.Brakes) *org {
	t.Helper()
	o := &org{members: map[string]model.Member{}}
	mustDo(t, admin, http.MethodPost, "/api/v1/organizations", model.Organization{Name: name, Brakes: brakes}, &o.Organization)
	return o
}

// addMember creates a consenting member with the phone, keyed by name.
func (o *org) addMember(t *testing.T, admin *adminclient.Client, name, phone string) model.Member {
	t.Helper()
	in := model.Member{
		OrgID:   o.ID,
		Name:    name,
		Phone:   phone,
		Consent: &model.Consent{ConfirmedBy: "e2e suite", ConfirmedAt: time.Now().UTC().Truncate(time.Second)},
	}
	var m model.Member
	mustDo(t, admin, http.MethodPost, "/api/v1/members", in, &m)
	o.members[name] = m
	return m
}

func (o *org) addScenario(t *testing.T, admin *adminclient.Client, name string, rules []model.Rule, def model.Action) model.Scenario {
	t.Helper()
	var s model.Scenario
	in := model.Scenario{OrgID: o.ID, Name: name, Rules: rules, Default: def}
	mustDo(t, admin, http.MethodPost, "/api/v1/scenarios", in, &s)
	return s
}

// addEndpoint creates an endpoint; alertKey may be empty. A webhook is
// checked against the receiving node's own copy of the endpoint, so it
// waits until every running node has applied the creation.
func (o *org) addEndpoint(t *testing.T, e *env, name, scenarioID, alertKey string) string {
	t.Helper()
	in := map[string]any{"org_id": o.ID, "name": name, "scenario_id": scenarioID}
	if alertKey != "" {
		in["alert_key"] = alertKey
	}
	var out struct {
		ID         string `json:"id"`
		WebhookURL string `json:"webhook_url"`
	}
	mustDo(t, e.admin(), http.MethodPost, "/api/v1/endpoints", in, &out)
	if out.ID == "" || out.WebhookURL == "" {
		t.Fatalf("POST /api/v1/endpoints returned id %q and webhook_url %q, want both", out.ID, out.WebhookURL)
	}
	harness.Eventually(t, 20*time.Second, func() error {
		for _, h := range e.cluster.Hubs {
			if !h.Up() {
				continue
			}
			var got model.Endpoint
			if err := h.Admin.Do(context.Background(), http.MethodGet, "/api/v1/endpoints/"+out.ID, nil, nil, &got); err != nil {
				return fmt.Errorf("endpoint %s on %s: %w", out.ID, h.ID, err)
			}
		}
		return nil
	})
	return out.ID
}

// callMember is the action that calls one member.
func callMember(m model.Member) model.Action {
	return model.Action{Type: model.ActionCallMember, MemberID: m.ID}
}

// severityRule routes one severity to a member.
func severityRule(name, severity string, m model.Member) model.Rule {
	return model.Rule{
		Name:       name,
		Conditions: []model.Condition{{Field: "severity", Op: "in", Value: []any{severity}}},
		Action:     callMember(m),
	}
}

// brakesOff lets every webhook of an organization place its calls: a high
// cap and a cooldown and suppression of one nanosecond (zero would take
// the defaults).
var brakesOff = model.Brakes{
	DailyCallCap:        100000,
	PhoneCooldown:       model.Duration(time.Nanosecond),
	EndpointSuppression: model.Duration(time.Nanosecond),
}

// listRequests returns up to 1000 stored requests, newest first.
func listRequests(t *testing.T, admin *adminclient.Client, query url.Values) []model.Request {
	t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", "1000")
	var out []model.Request
	if err := admin.List(context.Background(), "/api/v1/requests", query, &out); err != nil {
		t.Fatalf("list requests: %v", err)
	}
	return out
}

// listCalls returns up to 1000 stored calls, newest first.
func listCalls(t *testing.T, admin *adminclient.Client, query url.Values) []model.Call {
	t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", "1000")
	var out []model.Call
	if err := admin.List(context.Background(), "/api/v1/calls", query, &out); err != nil {
		t.Fatalf("list calls: %v", err)
	}
	return out
}
