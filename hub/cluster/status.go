package cluster

import (
	"slices"
	"strings"
)

// Status is a node's view of the cluster.
type Status struct {
	NodeID string `json:"node_id"`
	// State is this node's Raft state: Follower, Candidate, Leader or Shutdown.
	State     string `json:"state"`
	LeaderID  string `json:"leader_id,omitempty"`
	LeaderURL string `json:"leader_url,omitempty"`
	Term      uint64 `json:"term"`
	LastIndex uint64 `json:"last_log_index"`
	Commit    uint64 `json:"commit_index"`
	// Applied is the index of the last entry the state machine applied.
	// Raft's no-op entries are not passed to it, so Applied may stay below
	// Commit while Ready is true.
	Applied uint64       `json:"applied_index"`
	Ready   bool         `json:"ready"`
	Nodes   []NodeStatus `json:"nodes"`
}

// NodeStatus describes one server from the Raft configuration or gossip.
type NodeStatus struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raft_address,omitempty"`
	HTTPURL     string `json:"http_url,omitempty"`
	// Suffrage is "voter", "nonvoter", "staging", or "none" for a gossip
	// member that is not in the Raft configuration.
	Suffrage string `json:"suffrage"`
	// Gossip is one of the Gossip* constants.
	Gossip string `json:"gossip"`
	Leader bool   `json:"leader"`
}

// Status returns this node's view of the cluster: the servers of the Raft
// configuration and of gossip, the leader, the term and the log indexes.
func (n *Node) Status() Status {
	leaderID, leaderURL := n.Leader()
	st := Status{
		NodeID:    n.cfg.NodeID,
		State:     n.raft.State().String(),
		LeaderID:  leaderID,
		LeaderURL: leaderURL,
		Term:      n.raft.CurrentTerm(),
		LastIndex: n.raft.LastIndex(),
		Commit:    n.raft.CommitIndex(),
		Applied:   n.fsm.AppliedIndex(),
		Ready:     n.Ready(),
	}

	nodes := map[string]*NodeStatus{}
	if future := n.raft.GetConfiguration(); future.Error() == nil {
		for _, s := range future.Configuration().Servers {
			nodes[string(s.ID)] = &NodeStatus{
				ID:          string(s.ID),
				RaftAddress: string(s.Address),
				Suffrage:    strings.ToLower(s.Suffrage.String()),
				Gossip:      GossipUnknown,
			}
		}
	}

	// memberlist.Members is not used: memberlist changes the Nodes it
	// returns without a lock the caller can take. The member map keeps
	// failed and left nodes as well.
	n.membersMu.Lock()
	for id, m := range n.members {
		ns, ok := nodes[id]
		if !ok {
			ns = &NodeStatus{ID: id, RaftAddress: m.meta.RaftAddress, Suffrage: "none"}
			nodes[id] = ns
		}
		ns.HTTPURL = m.meta.HTTPURL
		ns.Gossip = m.state
	}
	n.membersMu.Unlock()

	for _, ns := range nodes {
		ns.Leader = ns.ID == leaderID
		if ns.ID == n.cfg.NodeID && ns.HTTPURL == "" {
			ns.HTTPURL = n.cfg.HTTPURL
		}
		st.Nodes = append(st.Nodes, *ns)
	}
	slices.SortFunc(st.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.ID, b.ID) })
	return st
}
