package cluster

import (
	"encoding/json"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Gossip states of a member, as Status reports them.
const (
	GossipAlive   = "alive"
	GossipFailed  = "failed"
	GossipLeft    = "left"
	GossipUnknown = "unknown"
)

// nodeMeta is the memberlist metadata of a node. Its JSON stays far below
// memberlist.MetaMaxSize (512 bytes) for ids and URLs of normal length;
// NodeMeta drops the metadata and logs an error when it does not fit.
type nodeMeta struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raft"`
	HTTPURL     string `json:"http"`
	// Expect is the node's BootstrapExpect; nodes refuse to bootstrap
	// together when their values differ.
	Expect int `json:"expect,omitempty"`
	// HasState is set once the node has Raft state.
	HasState bool `json:"state,omitempty"`
	// Leaving is set by a node that shuts down with leave. memberlist's
	// leave event does not distinguish a graceful leave from a failure,
	// because its Node.State is not updated, so this flag does.
	Leaving bool `json:"leaving,omitempty"`
	// StartedAt is when this node process started, in Unix nanoseconds. A
	// new value shows that a server removed from Raft was restarted.
	StartedAt int64 `json:"started,omitempty"`
}

type member struct {
	meta  nodeMeta
	addr  net.IP
	state string
}

type gossipDelegate struct{ n *Node }

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	n := d.n
	data, err := json.Marshal(nodeMeta{
		ID:          n.cfg.NodeID,
		RaftAddress: n.cfg.RaftAdvertise,
		HTTPURL:     n.cfg.HTTPURL,
		Expect:      n.cfg.BootstrapExpect,
		HasState:    n.hasState.Load(),
		Leaving:     n.leaving.Load(),
		StartedAt:   n.startedAt,
	})
	if err != nil || len(data) > limit {
		n.logger.Error("gossip metadata does not fit; shorten the node id or http url",
			"size", len(data), "limit", limit, "error", err)
		return nil
	}
	return data
}

func (d *gossipDelegate) NotifyMsg([]byte)                           {}
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

// gossipEvents records membership changes. Memberlist calls it from its
// own goroutines, so it only updates the member map and wakes runLoop.
type gossipEvents struct{ n *Node }

func (e *gossipEvents) NotifyJoin(node *memberlist.Node) {
	m := e.n.updateMember(node, GossipAlive)
	if m != nil && m.meta.ID != e.n.cfg.NodeID {
		e.n.logger.Info("gossip member joined", "peer_id", m.meta.ID,
			"raft_address", m.meta.RaftAddress, "http_url", m.meta.HTTPURL)
	}
	e.n.triggerReconcile()
}

func (e *gossipEvents) NotifyLeave(node *memberlist.Node) {
	m := e.n.updateMember(node, GossipFailed)
	if m != nil {
		if m.state == GossipLeft {
			e.n.logger.Info("gossip member left", "peer_id", m.meta.ID)
		} else {
			e.n.logger.Warn("gossip member failed; it stays a raft voter until it returns or an operator removes it", "peer_id", m.meta.ID)
		}
	}
	e.n.triggerReconcile()
}

func (e *gossipEvents) NotifyUpdate(node *memberlist.Node) {
	e.n.updateMember(node, GossipAlive)
	e.n.triggerReconcile()
}

// updateMember stores a member's metadata and state. A member whose
// metadata cannot be read is logged and ignored.
func (n *Node) updateMember(node *memberlist.Node, state string) *member {
	var meta nodeMeta
	if err := json.Unmarshal(node.Meta, &meta); err != nil || meta.ID == "" {
		n.logger.Warn("ignoring gossip member with unreadable metadata; is it a ringhook hub of the same version?",
			"peer_name", node.Name, "peer_address", node.Address(), "error", err)
		return nil
	}
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if state == GossipFailed {
		// A node announces a graceful leave in its metadata first; the
		// copy in node.Meta may predate that announcement.
		if meta.Leaving || (n.members[meta.ID] != nil && n.members[meta.ID].meta.Leaving) {
			meta.Leaving = true
			state = GossipLeft
		}
	}
	// Copy the address: memberlist may change the Node after the event.
	m := &member{meta: meta, addr: append(net.IP(nil), node.Addr...), state: state}
	n.members[meta.ID] = m
	return m
}

func (n *Node) triggerReconcile() {
	select {
	case n.reconcileCh <- struct{}{}:
	default:
	}
}

// joinLoop joins the configured gossip addresses, retrying in the
// background until it has met another node, so nodes may start in any order.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	if len(n.cfg.Join) == 0 {
		return
	}
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		count, err := n.ml.Join(n.cfg.Join)
		if count > 0 {
			n.logger.Info("joined gossip", "contacted", count, "join", n.cfg.Join)
			return
		}
		// Log the first failure and then every tenth, not every retry.
		if attempt%10 == 1 {
			n.logger.Warn("join gossip failed; retrying", "join", n.cfg.Join, "attempt", attempt, "error", err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// runLoop bootstraps the cluster when it is due, advertises new Raft
// state in gossip, and, on the leader, brings the Raft configuration in
// line with gossip. It runs on every membership change and every second.
func (n *Node) runLoop() {
	defer n.wg.Done()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-ticker.C:
		case <-n.reconcileCh:
		}
		n.refreshHasState()
		if !n.hasState.Load() {
			n.maybeBootstrap()
		}
		n.trackRemovedServers()
		if n.IsLeader() {
			n.reconcile()
		}
	}
}

func (n *Node) refreshHasState() {
	if n.hasState.Load() || n.raft.LastIndex() == 0 {
		return
	}
	n.hasState.Store(true)
	if err := n.ml.UpdateNode(2 * time.Second); err != nil {
		n.logger.Warn("gossiping new raft state failed", "error", err)
	}
}

// aliveMembers returns the alive gossip members with readable metadata,
// this node included.
func (n *Node) aliveMembers() []nodeMeta {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	var out []nodeMeta
	for _, m := range n.members {
		if m.state == GossipAlive {
			out = append(out, m.meta)
		}
	}
	return out
}

// maybeBootstrap bootstraps a new cluster once BootstrapExpect servers
// without Raft state have met. Only the server with the lowest id among the
// BootstrapExpect lowest ids calls BootstrapCluster, with all of them as
// voters. The new leader then contacts the others. With one caller, two
// different first configurations cannot exist, even when nodes have
// different member lists at that moment.
func (n *Node) maybeBootstrap() {
	expect := n.cfg.BootstrapExpect
	if expect == 0 {
		return
	}
	members := n.aliveMembers()
	for _, m := range members {
		if m.HasState {
			// A cluster exists; its leader adds this node.
			return
		}
		if m.Expect != expect {
			n.logger.Warn("not bootstrapping: a member expects a different cluster size; give every server the same bootstrap-expect",
				"peer_id", m.ID, "peer_expect", m.Expect, "expect", expect)
			return
		}
	}
	if len(members) < expect {
		return
	}
	slices.SortFunc(members, func(a, b nodeMeta) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	chosen := members[:expect]
	if chosen[0].ID != n.cfg.NodeID {
		return
	}
	n.bootstrap.Do(func() {
		var servers []raft.Server
		var ids []string
		for _, m := range chosen {
			servers = append(servers, raft.Server{
				Suffrage: raft.Voter,
				ID:       raft.ServerID(m.ID),
				Address:  raft.ServerAddress(m.RaftAddress),
			})
			ids = append(ids, m.ID)
		}
		n.logger.Info("bootstrapping raft cluster", "voters", ids)
		if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			n.logger.Error("bootstrap raft cluster failed", "voters", ids, "error", err)
			return
		}
		n.refreshHasState()
	})
}

// trackRemovedServers records the servers that left the Raft configuration
// since the last check. Every node runs it, so that a leader elected after a
// removal also keeps the removed process out.
func (n *Node) trackRemovedServers() {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		n.logger.Debug("read raft configuration failed", "error", err)
		return
	}
	current := map[string]bool{}
	for _, s := range future.Configuration().Servers {
		current[string(s.ID)] = true
	}
	n.membersMu.Lock()
	previous := n.lastServers
	n.lastServers = current
	n.membersMu.Unlock()
	for id := range previous {
		if !current[id] && id != n.cfg.NodeID {
			n.markRemoved(id)
		}
	}
}

// markRemoved keeps a server that left the Raft configuration out of it
// until the same id gossips a start time other than the one it had when it
// was removed, that is until its process restarts.
func (n *Node) markRemoved(id string) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if _, ok := n.removed[id]; ok {
		return
	}
	var startedAt int64
	if m := n.members[id]; m != nil {
		startedAt = m.meta.StartedAt
	}
	n.removed[id] = startedAt
	n.logger.Info("server left the raft configuration; it is added again only after it restarts", "peer_id", id)
}

// reconcile runs on the leader: it adds alive gossip members that are not
// voters (or whose Raft address changed) and removes members that left
// gracefully or announced that they are leaving. Members that gossip
// reports as failed stay voters: removing them automatically could leave
// two live nodes of three without quorum. A removed server is added again
// only after it restarted (see markRemoved).
func (n *Node) reconcile() {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		n.logger.Error("read raft configuration failed", "error", err)
		return
	}
	inConfig := map[string]string{}
	for _, s := range future.Configuration().Servers {
		inConfig[string(s.ID)] = string(s.Address)
	}

	type change struct {
		id, addr string
		add      bool
	}
	var changes []change
	n.membersMu.Lock()
	for id, m := range n.members {
		addr, ok := inConfig[id]
		removedStart, removed := n.removed[id]
		if removed && m.meta.StartedAt != removedStart {
			// The process restarted since its removal, so it joins again.
			delete(n.removed, id)
			removed = false
		}
		switch {
		case m.state == GossipAlive && !m.meta.Leaving && ok && addr != m.meta.RaftAddress:
			changes = append(changes, change{id: id, addr: m.meta.RaftAddress, add: true})
		case m.state == GossipAlive && !m.meta.Leaving && !ok && !removed:
			changes = append(changes, change{id: id, addr: m.meta.RaftAddress, add: true})
		case (m.state == GossipLeft || m.meta.Leaving) && ok && id != n.cfg.NodeID:
			changes = append(changes, change{id: id})
		}
	}
	n.membersMu.Unlock()

	for _, c := range changes {
		if c.add {
			err := n.raft.AddVoter(raft.ServerID(c.id), raft.ServerAddress(c.addr), 0, n.cfg.ApplyTimeout).Error()
			if err != nil {
				n.logReconcileError(c.id, "adding raft voter failed; retrying on the next membership check", "raft_address", c.addr, "error", err)
				continue
			}
			n.logger.Info("added raft voter", "peer_id", c.id, "raft_address", c.addr)
			continue
		}
		if err := n.raft.RemoveServer(raft.ServerID(c.id), 0, n.cfg.ApplyTimeout).Error(); err != nil {
			n.logReconcileError(c.id, "removing raft server that left failed; retrying on the next membership check", "error", err)
			continue
		}
		n.logger.Info("removed raft server that left gossip", "peer_id", c.id)
	}
}

// reconcileErrorInterval is how often one peer's repeated membership
// error is logged; the check itself runs every second.
const reconcileErrorInterval = 30 * time.Second

// logReconcileError logs a membership error of a peer at most once per
// reconcileErrorInterval, with the count of repeats in between.
func (n *Node) logReconcileError(peerID, msg string, args ...any) {
	n.membersMu.Lock()
	last := n.reconcileErrors[peerID]
	now := time.Now()
	last.count++
	if now.Sub(last.logged) < reconcileErrorInterval {
		n.reconcileErrors[peerID] = last
		n.membersMu.Unlock()
		return
	}
	repeats := last.count
	n.reconcileErrors[peerID] = rateState{logged: now}
	n.membersMu.Unlock()
	n.logger.Error(msg, append([]any{"peer_id", peerID, "failures", repeats}, args...)...)
}

type rateState struct {
	logged time.Time
	count  int
}
