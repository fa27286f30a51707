package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

func newOrg(name string) *raftfsm.PutOrganization {
	return &raftfsm.PutOrganization{
		Create:       true,
		Organization: model.Organization{ID: uuid.NewString(), Name: name},
	}
}

func applyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitForOrg waits until node has applied the organization.
func waitForOrg(t *testing.T, c *clustertest.Cluster, node *cluster.Node, id string) {
	t.Helper()
	c.WaitFor(fmt.Sprintf("organization %s on node %s", id, node.ID()), func() bool {
		_, err := node.FSM().GetOrganization(id)
		return err == nil
	})
}

func TestBootstrapThreeNodes(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	leader := c.Leader()
	if leader == nil {
		t.Fatal("no leader after bootstrap")
	}
	if got := len(c.Followers()); got != 2 {
		t.Errorf("followers = %d, want 2", got)
	}
	for _, n := range c.Running() {
		st := n.Status()
		if st.LeaderID != leader.ID() {
			t.Errorf("node %s: leader = %q, want %q", n.ID(), st.LeaderID, leader.ID())
		}
		if got := clustertest.Voters(n); got != 3 {
			t.Errorf("node %s: voters = %d, want 3", n.ID(), got)
		}
		for _, ns := range st.Nodes {
			if ns.HTTPURL == "" || ns.RaftAddress == "" {
				t.Errorf("node %s: status of %s lacks an address: %+v", n.ID(), ns.ID, ns)
			}
			if ns.Gossip != cluster.GossipAlive {
				t.Errorf("node %s: gossip state of %s = %q, want alive", n.ID(), ns.ID, ns.Gossip)
			}
		}
		if !n.Ready() {
			t.Errorf("node %s: not ready", n.ID())
		}
	}
	if id, url := c.Followers()[0].Leader(); id != leader.ID() || url != c.URL(c.Index(leader)) {
		t.Errorf("follower sees leader %q at %q, want %q at %q", id, url, leader.ID(), c.URL(c.Index(leader)))
	}
}

func TestApplyThroughFollower(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	follower := c.Followers()[0]
	cmd := newOrg("acme")

	resp, err := follower.Apply(applyCtx(t), cmd)
	if err != nil {
		t.Fatalf("apply through follower: %v", err)
	}
	if resp.Duplicate {
		t.Error("first apply answered as duplicate")
	}
	if cmd.ProposalID == "" || cmd.NodeID != follower.ID() || cmd.Time.IsZero() {
		t.Errorf("meta not stamped by the follower: %+v", cmd.Meta)
	}
	for _, n := range c.Running() {
		waitForOrg(t, c, n, cmd.Organization.ID)
	}

	// The same proposal again, as a retry would send it: applied once.
	again, err := c.Followers()[1].Apply(applyCtx(t), cmd)
	if err != nil {
		t.Fatalf("apply the same proposal again: %v", err)
	}
	if !again.Duplicate {
		t.Error("second apply of one proposal id not answered as duplicate")
	}
	orgs, err := c.Leader().FSM().ListOrganizations()
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Errorf("organizations = %d, want 1", len(orgs))
	}
}

func TestFollowerReadsOwnWrite(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	follower := c.Followers()[0]

	// Each write is read back on the follower it went through, with no
	// wait in between: Apply returns once the follower has applied it.
	for i := range 10 {
		cmd := newOrg(fmt.Sprintf("written through a follower %d", i))
		if _, err := follower.Apply(applyCtx(t), cmd); err != nil {
			t.Fatalf("write %d through follower %s: %v", i, follower.ID(), err)
		}
		if _, err := follower.FSM().GetOrganization(cmd.Organization.ID); err != nil {
			t.Fatalf("write %d not readable on follower %s right after Apply returned: %v", i, follower.ID(), err)
		}
	}
}

func TestApplyRejectedCommand(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	first := newOrg("acme")
	if _, err := c.Followers()[0].Apply(applyCtx(t), first); err != nil {
		t.Fatal(err)
	}
	dup := newOrg("acme again")
	dup.Organization.ID = first.Organization.ID
	resp, err := c.Followers()[0].Apply(applyCtx(t), dup)
	var applyErr *raftfsm.ApplyError
	if !errors.As(err, &applyErr) {
		t.Fatalf("create with a taken id: err = %v, want *raftfsm.ApplyError", err)
	}
	if applyErr.Code != raftfsm.CodeConflict {
		t.Errorf("code = %q, want %q", applyErr.Code, raftfsm.CodeConflict)
	}
	if resp == nil || resp.Err == nil {
		t.Errorf("response = %+v, want one with Err set", resp)
	}
}

func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	old := c.Leader()
	oldIndex := c.Index(old)
	before := newOrg("before")
	if _, err := old.Apply(applyCtx(t), before); err != nil {
		t.Fatal(err)
	}
	c.Kill(oldIndex)

	leader := c.WaitForNewLeader(old)
	after := newOrg("after")
	// Apply through the follower that is left, so the write is forwarded.
	follower := c.Followers()[0]
	if _, err := follower.Apply(applyCtx(t), after); err != nil {
		t.Fatalf("apply after failover: %v", err)
	}
	for _, n := range c.Running() {
		waitForOrg(t, c, n, before.Organization.ID)
		waitForOrg(t, c, n, after.Organization.ID)
	}
	if leader.ID() == old.ID() {
		t.Errorf("new leader is the killed node %s", old.ID())
	}
}

func TestRestartCatchesUp(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{
		// Frequent, small snapshots make the leader compact its log, so the
		// restarted node needs a snapshot as well as entries.
		Configure: func(i int, cfg *cluster.Config) {
			cfg.SnapshotThreshold = 16
			cfg.SnapshotInterval = 200 * time.Millisecond
		},
	})
	victim := c.Index(c.Followers()[0])
	c.Kill(victim)

	var ids []string
	for i := range 40 {
		cmd := newOrg(fmt.Sprintf("org %d", i))
		if _, err := c.Leader().Apply(applyCtx(t), cmd); err != nil {
			t.Fatalf("apply %d with a node down: %v", i, err)
		}
		ids = append(ids, cmd.Organization.ID)
	}

	leaderDir := c.Config(c.Index(c.Leader())).DataDir
	c.WaitFor("a snapshot on the leader", func() bool { return hasSnapshot(leaderDir) })

	node := c.Restart(victim)
	for _, id := range ids {
		waitForOrg(t, c, node, id)
	}
	c.WaitFor("restarted node ready", node.Ready)
	if !hasSnapshot(c.Config(victim).DataDir) {
		t.Error("restarted node caught up without installing a snapshot")
	}
	if got := clustertest.Voters(c.Leader()); got != 3 {
		t.Errorf("voters after restart = %d, want 3", got)
	}
}

// hasSnapshot reports whether a node's data dir holds a Raft snapshot.
func hasSnapshot(dataDir string) bool {
	entries, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	return err == nil && len(entries) > 0
}

func TestRemoveServerAndRejoin(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	victim := c.Index(c.Followers()[0])
	victimID := c.Nodes[victim].ID()
	c.Kill(victim)

	// Remove through the remaining follower, so the request is forwarded.
	var follower *cluster.Node
	for _, n := range c.Followers() {
		follower = n
	}
	// Until gossip reports the node failed, the leader would add it back.
	c.WaitFor("killed node failed in gossip", func() bool {
		leader := c.Leader()
		if leader == nil {
			return false
		}
		for _, ns := range leader.Status().Nodes {
			if ns.ID == victimID {
				return ns.Gossip == cluster.GossipFailed
			}
		}
		return false
	})
	if err := follower.RemoveServer(applyCtx(t), victimID); err != nil {
		t.Fatalf("remove server %s: %v", victimID, err)
	}
	c.WaitFor("two voters", func() bool { return clustertest.Voters(c.Leader()) == 2 })
	if err := follower.RemoveServer(applyCtx(t), victimID); !errors.Is(err, cluster.ErrUnknownServer) {
		t.Errorf("second removal: err = %v, want ErrUnknownServer", err)
	}

	cmd := newOrg("while removed")
	if _, err := follower.Apply(applyCtx(t), cmd); err != nil {
		t.Fatalf("apply with two voters: %v", err)
	}

	// The node comes back as a new server under its old id.
	c.WipeData(victim)
	node := c.Restart(victim)
	c.WaitFor("three voters again", func() bool {
		l := c.Leader()
		return l != nil && clustertest.Voters(l) == 3
	})
	waitForOrg(t, c, node, cmd.Organization.ID)
}

func TestNoQuorumFailsWithErrNoLeader(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{
		Configure: func(i int, cfg *cluster.Config) { cfg.LeaderWait = 2 * time.Second },
	})
	survivor := c.Index(c.Followers()[0])
	for i := range c.Nodes {
		if i != survivor {
			c.Kill(i)
		}
	}
	_, err := c.Nodes[survivor].Apply(applyCtx(t), newOrg("lost"))
	if !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("apply without quorum: err = %v, want ErrNoLeader", err)
	}
}

func TestShutdownBlocksApply(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	node := c.Followers()[0]
	if err := c.Stop(c.Index(node), false); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Apply(applyCtx(t), newOrg("late")); !errors.Is(err, cluster.ErrShuttingDown) {
		t.Errorf("apply after shutdown: err = %v, want ErrShuttingDown", err)
	}
}

func TestShutdownWithLeaveRemovesLeader(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	old := c.Leader()
	if err := c.Stop(c.Index(old), true); err != nil {
		t.Fatalf("shutdown with leave: %v", err)
	}
	leader := c.WaitForNewLeader(old)
	c.WaitFor("two voters after leave", func() bool { return clustertest.Voters(leader) == 2 })
	c.WaitFor("gossip reports the old leader left", func() bool {
		for _, ns := range leader.Status().Nodes {
			if ns.ID == old.ID() {
				return ns.Gossip == cluster.GossipLeft && ns.Suffrage == "none"
			}
		}
		return false
	})
	if _, err := c.Followers()[0].Apply(applyCtx(t), newOrg("after leave")); err != nil {
		t.Errorf("apply after leave: %v", err)
	}
}

func TestLeaderSubscription(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	leader := c.Leader()
	ch, cancel := leader.SubscribeLeader()
	defer cancel()
	if v := <-ch; !v {
		t.Error("leader's first subscription value = false, want true")
	}
	followerCh := c.Followers()[0].LeaderChanges()
	if v := <-followerCh; v {
		t.Error("follower's first value = true, want false")
	}

	i := c.Index(leader)
	c.Kill(i)
	// The killed node's subscription ends with its shutdown.
	for range ch {
	}
	newLeader := c.WaitForNewLeader(leader)
	sub := newLeader.LeaderChanges()
	deadline := time.After(clustertest.WaitTimeout)
	for {
		select {
		case v := <-sub:
			if v {
				return
			}
		case <-deadline:
			t.Fatal("new leader's subscription never received true")
		}
	}
}

// postInternal sends a raw apply request to a node's internal API, signed
// with gossipKey unless it is nil.
func postInternal(t *testing.T, url string, gossipKey, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/internal/v1/apply", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if gossipKey != nil {
		cluster.SignInternalRequest(req, gossipKey, body)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post to %s: %v", url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, data
}

func TestInternalApplyTwiceAppliesOnce(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	key := c.Config(0).GossipKey
	leader := c.Leader()
	cmd := newOrg("retried")
	cmd.Meta = raftfsm.Meta{ProposalID: uuid.NewString(), Time: time.Now().UTC(), NodeID: "node-x"}
	entry, err := raftfsm.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}

	var answers []raftfsm.Response
	for range 2 {
		status, data := postInternal(t, c.URL(c.Index(leader)), key, entry)
		if status != http.StatusOK {
			t.Fatalf("internal apply: status %d: %s", status, data)
		}
		var resp raftfsm.Response
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		answers = append(answers, resp)
	}
	if answers[0].Duplicate {
		t.Error("first internal apply answered as duplicate")
	}
	if !answers[1].Duplicate {
		t.Error("second internal apply of the same proposal id not answered as duplicate")
	}
	orgs, err := leader.FSM().ListOrganizations()
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Errorf("organizations = %d, want 1", len(orgs))
	}

	// A follower does not apply. It returns not_leader so the caller retries on the leader.
	status, data := postInternal(t, c.URL(c.Index(c.Followers()[0])), key, entry)
	if status != http.StatusMisdirectedRequest || !bytes.Contains(data, []byte(`"not_leader"`)) {
		t.Errorf("internal apply on a follower: status %d: %s; want 421 not_leader", status, data)
	}
	// An entry that does not decode never reaches the log.
	garbage := []byte{0xff, '{', '}'}
	status, data = postInternal(t, c.URL(c.Index(leader)), key, garbage)
	if status != http.StatusBadRequest || !bytes.Contains(data, []byte(`"invalid_entry"`)) {
		t.Errorf("internal apply of garbage: status %d: %s; want 400 invalid_entry", status, data)
	}
}

func TestGossipKeySignsInternalAPI(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := clustertest.New(t, 3, clustertest.Options{
		Configure: func(i int, cfg *cluster.Config) { cfg.GossipKey = key },
	})
	cmd := newOrg("encrypted")
	if _, err := c.Followers()[0].Apply(applyCtx(t), cmd); err != nil {
		t.Fatalf("forwarded apply with a gossip key: %v", err)
	}
	waitForOrg(t, c, c.Leader(), cmd.Organization.ID)

	entry, err := raftfsm.Encode(newOrg("unsigned"))
	if err != nil {
		t.Fatal(err)
	}
	status, data := postInternal(t, c.URL(c.Index(c.Leader())), nil, entry)
	if status != http.StatusUnauthorized || !bytes.Contains(data, []byte(`"unauthorized"`)) {
		t.Errorf("unsigned internal apply: status %d: %s; want 401 unauthorized", status, data)
	}
}

func TestInternalAPIForbiddenWithoutGossipKey(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 1, clustertest.Options{
		Configure: func(i int, cfg *cluster.Config) { cfg.GossipKey = nil },
	})
	leader := c.Leader()
	cmd := newOrg("unsigned")
	entry, err := raftfsm.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}

	// The request comes from 127.0.0.1, the address of the node itself.
	for name, key := range map[string][]byte{"unsigned": nil, "signed": []byte("0123456789abcdef")} {
		status, data := postInternal(t, c.URL(0), key, entry)
		if status != http.StatusForbidden {
			t.Errorf("%s internal apply without a gossip key: status %d: %s; want 403", name, status, data)
		}
		if !bytes.Contains(data, []byte(`"code":"forbidden"`)) {
			t.Errorf("%s internal apply: body %s lacks code forbidden", name, data)
		}
		if !bytes.Contains(data, []byte("--gossip-key")) {
			t.Errorf("%s internal apply: body %s does not name --gossip-key", name, data)
		}
	}
	if _, err := leader.FSM().GetOrganization(cmd.Organization.ID); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("organization of a rejected internal apply: err = %v, want ErrNotFound", err)
	}
	// The node's own writes do not use the internal API.
	if _, err := leader.Apply(applyCtx(t), newOrg("local")); err != nil {
		t.Errorf("local apply on a single node without a gossip key: %v", err)
	}
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3)
	leader := c.Leader()
	if _, err := leader.Apply(applyCtx(t), newOrg("measured")); err != nil {
		t.Fatal(err)
	}

	i := c.Index(leader)
	families, err := c.Registry(i).Gather()
	if err != nil {
		t.Fatal(err)
	}

	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				values[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				values[f.GetName()] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				values[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}

	if values["ringhook_raft_is_leader"] != 1 {
		t.Errorf("is_leader on the leader = %v, want 1", values["ringhook_raft_is_leader"])
	}
	if values["ringhook_raft_leader_changes_total"] < 1 {
		t.Errorf("leader_changes_total = %v, want at least 1", values["ringhook_raft_leader_changes_total"])
	}
	if values["ringhook_raft_apply_duration_seconds"] < 1 {
		t.Errorf("apply duration samples = %v, want at least 1", values["ringhook_raft_apply_duration_seconds"])
	}
}

func TestSingleNodeBootstrap(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 1)
	node := c.Leader()
	if node == nil {
		t.Fatal("single node did not become leader")
	}
	cmd := newOrg("solo")
	if _, err := node.Apply(applyCtx(t), cmd); err != nil {
		t.Fatalf("apply on a single node: %v", err)
	}
	if _, err := node.FSM().GetOrganization(cmd.Organization.ID); err != nil {
		t.Errorf("organization not applied: %v", err)
	}
}
