package cluster_test

import (
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
)

// serverState returns the suffrage and gossip state that node reports for
// id, or empty strings when node does not list id.
func serverState(node *cluster.Node, id string) (suffrage, gossip string) {
	for _, ns := range node.Status().Nodes {
		if ns.ID == id {
			return ns.Suffrage, ns.Gossip
		}
	}
	return "", ""
}

func TestRemovedServerStaysOutUntilRestart(t *testing.T) {
	t.Parallel()
	// memberlist's LAN timings declare a stopped node failed only after a
	// probe interval (1 s) and a suspicion timeout of at least 4 probe
	// intervals. Gossip therefore lists the stopped node alive for several
	// seconds after its removal, which is the case under test.
	c := clustertest.New(t, 3, clustertest.Options{
		Configure: func(i int, cfg *cluster.Config) { cfg.GossipLocal = false },
	})
	leader := c.WaitForLeader()
	victim := c.Index(c.Followers()[0])
	victimID := c.Nodes[victim].ID()

	c.Kill(victim)
	if err := leader.RemoveServer(applyCtx(t), victimID); err != nil {
		t.Fatalf("remove server %s: %v", victimID, err)
	}
	removedAt := time.Now()

	// The leader checks membership every second, so a re-add would show
	// within the first two seconds.
	aliveAfterChecks := 0
	for time.Since(removedAt) < 3*time.Second {
		for _, node := range c.Running() {
			suffrage, gossip := serverState(node, victimID)
			if suffrage != "" && suffrage != "none" {
				t.Fatalf("node %s lists the removed server %s as %s again (gossip %s)", node.ID(), victimID, suffrage, gossip)
			}
			if node == leader && gossip == cluster.GossipAlive && time.Since(removedAt) > 2*time.Second {
				aliveAfterChecks++
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if aliveAfterChecks == 0 {
		t.Fatalf("gossip on the leader stopped listing %s as alive within 2 s of its removal, so the check did not cover a live gossip member", victimID)
	}
	if n := clustertest.Voters(leader); n != 2 {
		t.Errorf("voters after the removal = %d, want 2", n)
	}

	// A restarted process gossips a new start time and joins again.
	c.Restart(victim)
	c.WaitFor("restarted server a voter again", func() bool {
		l := c.Leader()
		if l == nil {
			return false
		}
		suffrage, _ := serverState(l, victimID)
		return suffrage == "voter" && clustertest.Voters(l) == 3
	})
}
