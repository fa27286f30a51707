package httpapi

import (
	"fmt"

	"github.com/ringhook/ringhook/hub/gateway"
)

// AgentStatus is one agent's health as the gateway reports it.
type AgentStatus = gateway.AgentStatus

// AgentHealthSource reports agent health; *gateway.Gateway implements it.
type AgentHealthSource interface {
	AgentHealth() []gateway.AgentStatus
}

// agentHealth returns the gateway's view of one agent. Agent sessions live
// on the leader only, so a follower returns nil rather than showing every
// agent as disconnected.
func (s *Server) agentHealth(agentID string) *AgentStatus {
	if s.agents == nil || !s.backend.IsLeader() {
		return nil
	}
	for _, st := range s.agents.AgentHealth() {
		if st.AgentID == agentID {
			return &st
		}
	}
	return nil
}

func agentListNote(s *Server) string {
	if s.agents == nil || s.backend.IsLeader() {
		return ""
	}
	id, url := s.backend.Leader()
	if id == "" {
		return "agent health is known only on the leader, and no leader is known right now"
	}
	return fmt.Sprintf("agent health is known only on the leader; ask node %s at %s", id, url)
}
