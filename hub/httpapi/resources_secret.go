package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// endpointInput is an endpoint as a client sends it. The alert key is
// write-only: the hub stores its hash.
type endpointInput struct {
	model.Endpoint
	// AlertKey sets the X-Alert-Key value the endpoint requires.
	AlertKey string `json:"alert_key,omitempty"`
	// GenerateAlertKey makes the hub pick a random key and return it once.
	GenerateAlertKey bool `json:"generate_alert_key,omitempty"`
	// RemoveAlertKey drops the key requirement on a replace.
	RemoveAlertKey bool `json:"remove_alert_key,omitempty"`
	// Read-only fields of EndpointView, accepted and ignored so that a
	// GET response can be edited and sent back.
	WebhookURL       string `json:"webhook_url,omitempty"`
	AlertKeyRequired bool   `json:"alert_key_required,omitempty"`
}

// EndpointView is an endpoint as the API serves it.
type EndpointView struct {
	model.Endpoint
	// WebhookURL is the URL a monitoring tool posts to.
	WebhookURL       string `json:"webhook_url"`
	AlertKeyRequired bool   `json:"alert_key_required"`
	// AlertKey is the new key, only in the response that set it.
	AlertKey string `json:"alert_key,omitempty"`
}

func endpoints() resource[model.Endpoint, endpointInput] {
	return resource[model.Endpoint, endpointInput]{
		name: "endpoint", path: "endpoints", deleteKind: raftfsm.CmdDeleteEndpoint,
		get:   (*raftfsm.FSM).GetEndpoint,
		list:  listByOrg((*raftfsm.FSM).ListEndpoints),
		build: buildEndpoint,
		put: func(e model.Endpoint, create bool) raftfsm.Command {
			return &raftfsm.PutEndpoint{Create: create, Endpoint: e}
		},
		redact: func(e model.Endpoint) model.Endpoint {
			e.AlertKeyHash = ""
			return e
		},
		view: func(s *Server, r *http.Request, e model.Endpoint, key string) any {
			required := e.AlertKeyHash != ""
			e.AlertKeyHash = ""
			return EndpointView{
				Endpoint:         e,
				WebhookURL:       s.publicURL(r) + "/api/wh/" + e.ID,
				AlertKeyRequired: required,
				AlertKey:         key,
			}
		},
	}
}

func buildEndpoint(_ *Server, _ *http.Request, in *endpointInput, id string, existing *model.Endpoint, _ time.Time) (model.Endpoint, string, error) {
	e := in.Endpoint
	if err := checkID(e.ID, id, existing == nil); err != nil {
		return e, "", err
	}
	if e.AlertKeyHash != "" {
		return e, "", newError(http.StatusBadRequest, CodeInvalid, "alert_key_hash is never accepted; send alert_key or generate_alert_key")
	}
	if err := requireOrg(e.OrgID); err != nil {
		return e, "", err
	}
	if err := requireName(e.Name); err != nil {
		return e, "", err
	}
	if strings.TrimSpace(e.ScenarioID) == "" {
		return e, "", missing("scenario_id", "the id of the scenario that routes this endpoint's webhooks")
	}
	set := 0
	for _, b := range []bool{in.AlertKey != "", in.GenerateAlertKey, in.RemoveAlertKey} {
		if b {
			set++
		}
	}
	if set > 1 {
		return e, "", newError(http.StatusBadRequest, CodeInvalid, "send at most one of alert_key, generate_alert_key and remove_alert_key")
	}

	e.ID = id
	if existing != nil {
		e.AlertKeyHash = existing.AlertKeyHash
	}
	key := ""
	switch {
	case in.AlertKey != "":
		key = in.AlertKey
	case in.GenerateAlertKey:
		generated, err := newSecret()
		if err != nil {
			return e, "", err
		}
		key = generated
	case in.RemoveAlertKey:
		e.AlertKeyHash = ""
	}
	if key != "" {
		e.AlertKeyHash = hashSecret(key)
	}
	return e, key, nil
}

// publicURL returns the configured public URL, or the scheme and host the
// request came in on.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto == "https" || proto == "http" {
		scheme = proto
	}
	return scheme + "://" + r.Host
}

// agentInput is an agent as a client sends it.
type agentInput struct {
	model.Agent
	// RotateToken issues a new token on a replace; the old one stops working.
	RotateToken bool `json:"rotate_token,omitempty"`
	// Health is read-only; accepted and ignored.
	Health *AgentStatus `json:"health,omitempty"`
}

// AgentView is an agent as the API serves it.
type AgentView struct {
	model.Agent
	// Token is the agent's token, only in the response that issued it.
	Token string `json:"token,omitempty"`
	// Health is the gateway's view of the agent, on the leader only.
	Health *AgentStatus `json:"health,omitempty"`
}

func agents() resource[model.Agent, agentInput] {
	return resource[model.Agent, agentInput]{
		name: "agent", path: "agents", deleteKind: raftfsm.CmdDeleteAgent,
		get: (*raftfsm.FSM).GetAgent,
		list: func(f *raftfsm.FSM, _ *http.Request) ([]model.Agent, error) {
			return f.ListAgents()
		},
		build:    buildAgent,
		listNote: agentListNote,
		put: func(a model.Agent, create bool) raftfsm.Command {
			return &raftfsm.PutAgent{Create: create, Agent: a}
		},
		redact: func(a model.Agent) model.Agent {
			a.TokenHash = ""
			return a
		},
		view: func(s *Server, _ *http.Request, a model.Agent, token string) any {
			a.TokenHash = ""
			return AgentView{Agent: a, Token: token, Health: s.agentHealth(a.ID)}
		},
	}
}

func buildAgent(_ *Server, _ *http.Request, in *agentInput, id string, existing *model.Agent, _ time.Time) (model.Agent, string, error) {
	a := in.Agent
	if err := checkID(a.ID, id, existing == nil); err != nil {
		return a, "", err
	}
	if a.TokenHash != "" {
		return a, "", newError(http.StatusBadRequest, CodeInvalid, "token_hash is never accepted; the hub issues agent tokens")
	}
	if err := requireName(a.Name); err != nil {
		return a, "", err
	}
	if strings.TrimSpace(a.Trunk) == "" {
		return a, "", missing("trunk", "a label of the SIP trunk the agent dials out on; retries go to agents on another trunk")
	}
	if err := checkName("trunk", a.Trunk); err != nil {
		return a, "", err
	}
	a.ID = id
	if existing != nil && !in.RotateToken {
		a.TokenHash = existing.TokenHash
		return a, "", nil
	}
	token, hash, err := newToken(AgentTokenPrefix, id)
	if err != nil {
		return a, "", err
	}
	a.TokenHash = hash
	return a, token, nil
}

// tokenInput is an admin token as a client creates it.
type tokenInput struct {
	Name string `json:"name"`
}

// TokenView is an admin token as the API serves it.
type TokenView struct {
	model.AdminToken
	// Token is the bearer token, only in the create response.
	Token string `json:"token,omitempty"`
}

func adminTokens() resource[model.AdminToken, tokenInput] {
	return resource[model.AdminToken, tokenInput]{
		name: "admin token", path: "tokens", deleteKind: raftfsm.CmdDeleteAdminToken,
		get: (*raftfsm.FSM).GetAdminToken,
		list: func(f *raftfsm.FSM, _ *http.Request) ([]model.AdminToken, error) {
			return f.ListAdminTokens()
		},
		build: func(_ *Server, _ *http.Request, in *tokenInput, id string, _ *model.AdminToken, now time.Time) (model.AdminToken, string, error) {
			if err := requireName(in.Name); err != nil {
				return model.AdminToken{}, "", err
			}
			token, hash, err := newToken(AdminTokenPrefix, id)
			if err != nil {
				return model.AdminToken{}, "", err
			}
			return model.AdminToken{ID: id, Name: in.Name, Hash: hash, CreatedAt: now}, token, nil
		},
		put: func(t model.AdminToken, _ bool) raftfsm.Command {
			return &raftfsm.PutAdminToken{Token: t}
		},
		redact: func(t model.AdminToken) model.AdminToken {
			t.Hash = ""
			return t
		},
		view: func(_ *Server, _ *http.Request, t model.AdminToken, token string) any {
			t.Hash = ""
			return TokenView{AdminToken: t, Token: token}
		},
		noUpdate: true,
	}
}
