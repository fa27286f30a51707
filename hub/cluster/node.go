// Package cluster runs one hub node of the Raft cluster: the Raft log and
// snapshots on disk, discovery and bootstrap through memberlist gossip, and
// forwarding of writes from followers to the leader over HTTP.
//
// DESIGN.md in this directory explains the timings, the bootstrap rule and
// the retry of ambiguous failures.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/raftfsm"
)

// Node is one running hub node. All methods are safe for concurrent use.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	authKey []byte
	client  *http.Client

	fsm       *raftfsm.FSM
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	raft      *raft.Raft
	observer  *raft.Observer
	observeCh chan raft.Observation
	ml        *memberlist.Memberlist

	// hasState is set once this node has Raft state; it is gossiped so that
	// no node bootstraps a second cluster beside an existing one.
	hasState  atomic.Bool
	bootstrap sync.Once
	// leaving is set when Shutdown(true) starts and is gossiped.
	leaving atomic.Bool

	membersMu sync.Mutex
	members   map[string]*member
	// reconcileErrors rate-limits the leader's membership error logs.
	reconcileErrors map[string]rateState
	// removed maps the id of each server that left the Raft configuration
	// to its gossiped start time at that moment (see markRemoved). It is
	// guarded by membersMu, as is lastServers.
	removed map[string]int64
	// lastServers is the set of server ids in the Raft configuration at the
	// last membership check.
	lastServers map[string]bool
	// startedAt is when this node started, in Unix nanoseconds, gossiped in
	// the metadata.
	startedAt int64

	// applyMu guards closing; in-flight applies hold it for reading while
	// they register in inflight.
	applyMu  sync.RWMutex
	closing  bool
	inflight sync.WaitGroup

	subsMu   sync.Mutex
	subs     map[int]chan bool
	nextSub  int
	isLeader bool
	subsDone bool

	defaultSubOnce sync.Once
	defaultSub     <-chan bool

	reconcileCh chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the node's storage under cfg.DataDir, starts Raft and gossip
// and begins to join cfg.Join in the background. It returns once the node
// listens; a leader is elected later (see Ready). The context bounds only
// the start itself.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start cluster node %s: %w", cfg.NodeID, err)
	}
	logger := cfg.Logger.With("node_id", cfg.NodeID)
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:             cfg,
		logger:          logger,
		metrics:         m,
		authKey:         deriveAuthKey(cfg.GossipKey),
		client:          &http.Client{},
		members:         map[string]*member{},
		reconcileErrors: map[string]rateState{},
		removed:         map[string]int64{},
		startedAt:       time.Now().UnixNano(),
		subs:            map[int]chan bool{},
		reconcileCh:     make(chan struct{}, 1),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	if err := n.openRaft(); err != nil {
		n.closeStorage()
		return nil, err
	}
	if err := n.startGossip(); err != nil {
		n.raft.Shutdown()
		n.closeStorage()
		return nil, err
	}

	n.wg.Add(4)
	go n.watchLeadership()
	go n.watchLeaderChanges()
	go n.joinLoop()
	go n.runLoop()

	logger.Info("cluster node started",
		"raft_address", cfg.RaftAdvertise, "gossip_address", cfg.GossipAdvertise,
		"http_url", cfg.HTTPURL, "has_state", n.hasState.Load(),
		"bootstrap_expect", cfg.BootstrapExpect, "gossip_encrypted", len(cfg.GossipKey) > 0)
	return n, nil
}

// openRaft opens the log store, snapshot store, state machine and
// transport, and starts Raft.
func (n *Node) openRaft() error {
	cfg := n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	hcLogger := newHCLogAdapter(n.logger, "raft")

	store, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.DataDir, "raft.db"),
		// Fail instead of waiting forever when another process holds the file.
		BoltOptions: &bbolt.Options{Timeout: 5 * time.Second},
	})
	if err != nil {
		return fmt.Errorf("open raft log %s: %w; check that no other hub uses this data dir", filepath.Join(cfg.DataDir, "raft.db"), err)
	}
	n.store = store

	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, snapshotRetain, hcLogger)
	if err != nil {
		return fmt.Errorf("open snapshot store in %s: %w", cfg.DataDir, err)
	}
	hasState, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("read raft state in %s: %w", cfg.DataDir, err)
	}
	n.hasState.Store(hasState)

	fsm, err := raftfsm.New(filepath.Join(cfg.DataDir, "fsm"), n.logger)
	if err != nil {
		return fmt.Errorf("open state machine: %w", err)
	}
	n.fsm = fsm

	advertise, err := net.ResolveTCPAddr("tcp", cfg.RaftAdvertise)
	if err != nil {
		return fmt.Errorf("resolve raft advertise address %s: %w", cfg.RaftAdvertise, err)
	}
	transport, err := raft.NewTCPTransportWithLogger(cfg.RaftBind, advertise, 3, 10*time.Second, hcLogger)
	if err != nil {
		return fmt.Errorf("listen for raft on %s: %w", cfg.RaftBind, err)
	}
	n.transport = transport

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.BatchApplyCh = true
	rc.Logger = hcLogger
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		rc.TrailingLogs = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	r, err := raft.NewRaft(rc, fsm, store, store, snaps, transport)
	if err != nil {
		transport.Close()
		n.transport = nil
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	n.observeCh = make(chan raft.Observation, 16)
	n.observer = raft.NewObserver(n.observeCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(n.observer)
	return nil
}

func (n *Node) startGossip() error {
	cfg := n.cfg
	var mc *memberlist.Config
	if cfg.GossipLocal {
		mc = memberlist.DefaultLocalConfig()
	} else {
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = cfg.NodeID
	bindIP, bindPort, _ := splitHostPort(cfg.GossipBind)
	advIP, advPort, _ := splitHostPort(cfg.GossipAdvertise)
	mc.BindAddr = bindIP.String()
	mc.BindPort = bindPort
	mc.AdvertiseAddr = advIP.String()
	mc.AdvertisePort = advPort
	mc.Delegate = &gossipDelegate{n: n}
	mc.Events = &gossipEvents{n: n}
	mc.SecretKey = cfg.GossipKey
	// A restarted node may come back on another address under its old name.
	mc.DeadNodeReclaimTime = 30 * time.Second
	mc.Logger = log.New(&stdLogWriter{logger: n.logger, component: "memberlist"}, "", 0)

	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", cfg.GossipBind, err)
	}
	n.ml = ml
	return nil
}

// ID returns the node id.
func (n *Node) ID() string { return n.cfg.NodeID }

// FSM returns the node's state machine, for reads. Reads on a follower may
// lag the leader by the replication delay.
func (n *Node) FSM() *raftfsm.FSM { return n.fsm }

// IsLeader reports whether this node is the Raft leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's node id and HTTP URL, or empty strings when
// no leader is known. The URL is empty too while gossip has not yet
// brought the leader's metadata.
func (n *Node) Leader() (id, httpURL string) {
	_, leaderID := n.raft.LeaderWithID()
	id = string(leaderID)
	if id == "" {
		return "", ""
	}
	if id == n.cfg.NodeID {
		return id, n.cfg.HTTPURL
	}
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if m, ok := n.members[id]; ok {
		return id, m.meta.HTTPURL
	}
	return id, ""
}

// Ready reports whether a leader is known and the state machine has applied
// every entry up to this node's commit index, so that reads are as current
// as this node's log.
func (n *Node) Ready() bool {
	if _, id := n.raft.LeaderWithID(); id == "" {
		return false
	}
	commit := n.raft.CommitIndex()
	return commit > 0 && n.raft.AppliedIndex() >= commit && n.fsmCaughtUp(commit)
}

// fsmCaughtUp reports whether the state machine has applied every entry
// up to index that it receives. Raft advances its own applied index when
// it hands a batch over, before the state machine applies it. Raft also
// never hands over no-op or barrier entries, so the state machine's index
// may stop below a raft index with nothing left to apply. The entries in
// between are read from the log to distinguish the two cases.
func (n *Node) fsmCaughtUp(index uint64) bool {
	const maxScan = 64
	applied := n.fsm.AppliedIndex()
	if applied >= index {
		return true
	}
	if index-applied > maxScan {
		return false
	}
	for i := applied + 1; i <= index; i++ {
		var entry raft.Log
		if err := n.store.GetLog(i, &entry); err != nil {
			// Compacted into a snapshot, or not yet written: not proven.
			return false
		}
		if entry.Type == raft.LogCommand || entry.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

// SubscribeLeader returns a channel that receives this node's leadership:
// first the current value, then true when it becomes leader and false when
// it stops. The channel holds one value. When the receiver is slow, an
// unread value is replaced by the newer one, so the last value received is
// always the current state. Call cancel to stop the subscription; the channel is
// closed then, or when the node shuts down.
func (n *Node) SubscribeLeader() (ch <-chan bool, cancel func()) {
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	c := make(chan bool, 1)
	if n.subsDone {
		close(c)
		return c, func() {}
	}
	id := n.nextSub
	n.nextSub++
	n.subs[id] = c
	c <- n.isLeader
	return c, func() {
		n.subsMu.Lock()
		defer n.subsMu.Unlock()
		if sub, ok := n.subs[id]; ok {
			delete(n.subs, id)
			close(sub)
		}
	}
}

// LeaderChanges returns one shared subscription (see SubscribeLeader) that
// lasts as long as the node. Every call returns the same channel, so it
// suits a single consumer; components that each need every change call
// SubscribeLeader.
func (n *Node) LeaderChanges() <-chan bool {
	n.defaultSubOnce.Do(func() {
		n.defaultSub, _ = n.SubscribeLeader()
	})
	return n.defaultSub
}

// publishLeadership records this node's leadership and offers it to every
// subscriber, replacing an unread older value.
func (n *Node) publishLeadership(leader bool) {
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	n.isLeader = leader
	for _, c := range n.subs {
		for sent := false; !sent; {
			select {
			case c <- leader:
				sent = true
			default:
				select {
				case <-c:
				default:
				}
			}
		}
	}
}

func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case leader := <-n.raft.LeaderCh():
			if leader {
				n.metrics.isLeader.Set(1)
				n.logger.Info("became raft leader", "term", n.raft.CurrentTerm())
			} else {
				n.metrics.isLeader.Set(0)
				n.logger.Info("lost raft leadership", "term", n.raft.CurrentTerm())
			}
			n.publishLeadership(leader)
			n.triggerReconcile()
		}
	}
}

func (n *Node) watchLeaderChanges() {
	defer n.wg.Done()
	last := ""
	for {
		select {
		case <-n.ctx.Done():
			return
		case o := <-n.observeCh:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok || string(lo.LeaderID) == last {
				continue
			}
			last = string(lo.LeaderID)
			if last == "" {
				n.logger.Warn("raft leader lost; waiting for an election", "term", n.raft.CurrentTerm())
				continue
			}
			n.metrics.leaderChanges.Inc()
			n.logger.Info("raft leader changed", "leader_id", last,
				"leader_address", string(lo.LeaderAddr), "term", n.raft.CurrentTerm())
		}
	}
}

// beginApply registers an in-flight apply; it returns false once Shutdown
// has started.
func (n *Node) beginApply() bool {
	n.applyMu.RLock()
	defer n.applyMu.RUnlock()
	if n.closing {
		return false
	}
	n.inflight.Add(1)
	return true
}

// Shutdown stops the node. New applies fail with ErrShuttingDown, in-flight
// applies finish, and then, with leave set, the node hands over leadership,
// requests its removal from the Raft configuration and leaves gossip. Without leave it stays a voter, as after a crash, and rejoins
// from its data dir on the next start. Later calls return the first result.
func (n *Node) Shutdown(leave bool) error {
	n.shutdownOnce.Do(func() {
		n.shutdownErr = n.shutdown(leave)
	})
	return n.shutdownErr
}

func (n *Node) shutdown(leave bool) error {
	n.logger.Info("cluster node stopping", "leave", leave)
	n.applyMu.Lock()
	n.closing = true
	n.applyMu.Unlock()
	n.inflight.Wait()

	if leave {
		n.leaving.Store(true)
		if err := n.ml.UpdateNode(2 * time.Second); err != nil {
			n.logger.Warn("announcing the leave in gossip failed; the leader may add this node back until it has left", "error", err)
		}
		n.leaveRaft()
	}
	// Stop the background loops while gossip still runs: a loop may be
	// waiting in memberlist's UpdateNode, which ignores a shutdown.
	n.cancel()
	n.wg.Wait()
	if leave {
		if err := n.ml.Leave(2 * time.Second); err != nil {
			n.logger.Warn("leave gossip failed; other nodes will see this node as failed", "error", err)
		} else {
			n.logger.Info("left gossip")
		}
	}

	var errs []error
	if err := n.ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("stop gossip: %w", err))
	}
	n.raft.DeregisterObserver(n.observer)
	if err := n.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("stop raft: %w", err))
	}
	if err := n.closeStorage(); err != nil {
		errs = append(errs, err)
	}

	n.subsMu.Lock()
	n.subsDone = true
	for id, c := range n.subs {
		delete(n.subs, id)
		close(c)
	}
	n.subsMu.Unlock()

	err := errors.Join(errs...)
	if err != nil {
		n.logger.Error("cluster node stopped with errors", "error", err)
	} else {
		n.logger.Info("cluster node stopped")
	}
	return err
}

// leaveRaft takes this node out of the Raft configuration before it stops:
// a leader first hands leadership to another voter, then the (new) leader
// removes this node. The last voter never removes itself.
func (n *Node) leaveRaft() {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		n.logger.Error("read raft configuration before leaving failed", "error", err)
		return
	}

	voters := 0
	for _, s := range future.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters < 2 {
		n.logger.Warn("not leaving the raft configuration: this node is its last voter")
		return
	}

	if n.IsLeader() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.logger.Warn("leadership transfer before leaving failed; removing this node as leader", "error", err)
		} else {
			n.logger.Info("transferred raft leadership before leaving")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaderWait)
	defer cancel()
	err := n.RemoveServer(ctx, n.cfg.NodeID)
	if errors.Is(err, ErrUnknownServer) {
		// The leader removed this node on seeing the leave announcement.
		err = nil
	}
	if err != nil {
		n.logger.Warn("removing this node from the raft configuration failed; the leader removes it when gossip reports it left", "error", err)
		return
	}
	n.logger.Info("removed this node from the raft configuration")
}

func (n *Node) closeStorage() error {
	var errs []error
	if n.transport != nil {
		// raft.Shutdown closes the transport too; a second close is harmless.
		n.transport.Close()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft log: %w", err))
		}
	}
	if n.fsm != nil {
		if err := n.fsm.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close state machine: %w", err))
		}
	}
	return errors.Join(errs...)
}
