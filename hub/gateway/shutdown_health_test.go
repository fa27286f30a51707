package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/protocol"
)

func TestShuttingDownAgentNotHealthy(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	url, _ := h.start(testConfig())

	health := healthy()
	health.ShuttingDown = true
	a := connect(t, url, id, token, protocol.Hello{Health: health})
	a.waitFor(protocol.TypeWelcome, nil)
	a.send(protocol.TypeHeartbeat, protocol.Heartbeat{Health: health})

	deadline := time.Now().Add(waitDeadline)
	for {
		statuses := h.gateway.AgentHealth()
		if len(statuses) == 1 && statuses[0].Connected {
			st := statuses[0]
			if st.Healthy {
				t.Fatalf("agent that is shutting down reported healthy: %+v", st)
			}
			if !strings.Contains(st.Detail, "shutting down") {
				t.Fatalf("detail = %q, want it to say the agent is shutting down", st.Detail)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never showed as connected: %+v", statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
