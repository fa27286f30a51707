package gateway

import (
	"sort"
	"time"

	"github.com/ringhook/ringhook/protocol"
)

// AgentStatus is one agent's health as the leader tracks it, for the admin API.
type AgentStatus struct {
	AgentID   string `json:"agent_id"`
	Name      string `json:"name"`
	Trunk     string `json:"trunk"`
	Connected bool   `json:"connected"`
	Healthy   bool   `json:"healthy"`
	// LastHeartbeat is when the agent last sent a message; zero when it is
	// not connected.
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// Detail is the reason the agent is not healthy, or the agent's own
	// detail when it is.
	Detail      string `json:"detail,omitempty"`
	ActiveCalls int    `json:"active_calls"`
	MaxCalls    int    `json:"max_calls"`
	// NodeID is the hub node that holds the session.
	NodeID          string    `json:"node_id"`
	SoftwareVersion string    `json:"software_version,omitempty"`
	ProtocolVersion int       `json:"protocol_version,omitempty"`
	ConnectedAt     time.Time `json:"connected_at,omitzero"`
}

// AgentHealth returns every registered agent with its health, ordered by
// agent id. On a follower every agent shows as not connected, because
// sessions live on the leader only.
func (g *Gateway) AgentHealth() []AgentStatus {
	agents, err := g.state.ListAgents()
	if err != nil {
		g.log.Error("list agents for health failed", "error", err)
	}
	now := time.Now()

	g.mu.Lock()
	defer g.mu.Unlock()
	seen := make(map[string]bool, len(agents))
	out := make([]AgentStatus, 0, len(agents))
	for _, a := range agents {
		seen[a.ID] = true
		st := AgentStatus{AgentID: a.ID, Name: a.Name, Trunk: a.Trunk, NodeID: g.node.ID(), Detail: "not connected"}
		if s := g.sessions[a.ID]; s != nil {
			st = g.sessionStatusLocked(s, now)
			st.Name, st.Trunk = a.Name, a.Trunk
		}
		out = append(out, st)
	}
	// A session can outlive its agent's deletion until it is closed.
	for id, s := range g.sessions {
		if !seen[id] {
			out = append(out, g.sessionStatusLocked(s, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AgentID < out[j].AgentID })
	return out
}

func (g *Gateway) sessionStatusLocked(s *session, now time.Time) AgentStatus {
	healthy, detail := g.healthLocked(s, now)
	return AgentStatus{
		AgentID:         s.agent.ID,
		Name:            s.agent.Name,
		Trunk:           s.agent.Trunk,
		Connected:       true,
		Healthy:         healthy,
		LastHeartbeat:   s.lastSeen,
		Detail:          detail,
		ActiveCalls:     s.activeCallsLocked(),
		MaxCalls:        s.health.MaxCalls,
		NodeID:          g.node.ID(),
		SoftwareVersion: s.hello.SoftwareVersion,
		ProtocolVersion: s.hello.ProtocolVersion,
		ConnectedAt:     s.startedAt,
	}
}

// healthLocked decides whether a connected agent may take a new call:
// heartbeating, not shutting down, ARI reachable, ARI websocket up and
// below its call limit.
func (g *Gateway) healthLocked(s *session, now time.Time) (bool, string) {
	switch {
	case s.closed:
		return false, "session closing"
	case now.Sub(s.lastSeen) > g.cfg.HeartbeatInterval*2:
		return false, "heartbeat late: last message " + now.Sub(s.lastSeen).Round(time.Millisecond).String() + " ago"
	case s.health.ShuttingDown:
		return false, "shutting down: finishing its calls in progress and taking no new ones"
	case !s.health.ARIReachable:
		return false, withDetail("ARI not reachable", s.health)
	case !s.health.ARIWebsocketUp:
		return false, withDetail("ARI event websocket down", s.health)
	case s.health.MaxCalls > 0 && s.activeCallsLocked() >= s.health.MaxCalls:
		return false, "at capacity"
	}
	return true, s.health.Detail
}

func withDetail(msg string, h protocol.Health) string {
	if h.Detail == "" {
		return msg
	}
	return msg + ": " + h.Detail
}

func (g *Gateway) countAgents() (connected, healthy int) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		connected++
		if ok, _ := g.healthLocked(s, now); ok {
			healthy++
		}
	}
	return connected, healthy
}
