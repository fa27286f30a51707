//go:build e2e

package integration

import "testing"

// TestEndToEnd runs every scenario on one shared cluster, in an order that
// leaves the disruptive ones (killed agents and hub nodes) for last.
func TestEndToEnd(t *testing.T) {
	e := startEnv(t)

	t.Run("PayloadsRouteAndRing", func(t *testing.T) { testPayloads(t, e) })
	t.Run("TrunkFailureRetried", func(t *testing.T) { testTrunkFailover(t, e) })
	t.Run("BrakesHold", func(t *testing.T) { testBrakes(t, e) })
	t.Run("BadInputRejected", func(t *testing.T) { testBadInput(t, e) })
	t.Run("AgentKilledMidCall", func(t *testing.T) { testAgentKilledMidCall(t, e) })
	t.Run("HubRestartedFromData", func(t *testing.T) { testHubRestart(t, e) })
	t.Run("LeaderKilledDuringBurst", func(t *testing.T) { testLeaderKilledDuringBurst(t, e) })
}
