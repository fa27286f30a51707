package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/adminclient"
)

// HubOptions configures the hub nodes of a Cluster.
type HubOptions struct {
	// AdminToken is the bootstrap admin token (16 characters or more).
	AdminToken string
	// NoAgentWait is how long a queued call waits for a healthy agent
	// before it fails; the hub's default when zero.
	NoAgentWait time.Duration
	// LeaderWait is how long a write waits for a leader before the API
	// returns 503; the hub's default when zero.
	LeaderWait time.Duration
	// LogLevel is the hubs' log level; "info" when empty.
	LogLevel string
	// GossipKey is the base64 gossip key all nodes share; a random 32-byte
	// key when empty.
	GossipKey string
	// HeartbeatInterval is the agents' heartbeat interval;
	// DefaultHeartbeatInterval when zero.
	HeartbeatInterval time.Duration
	// ReconnectGrace is how long the hub waits for a lost agent to come
	// back before it retries its call; DefaultReconnectGrace when zero.
	ReconnectGrace time.Duration
}

// Agent-loss timings of the test hubs, shorter than the hub's defaults
// (5 s and 10 s) so that a killed agent's call moves on sooner.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultReconnectGrace    = 3 * time.Second
)

// Hub is one `ringhook hub` process with the addresses it listens on.
type Hub struct {
	ID         string
	URL        string
	HTTPAddr   string
	RaftAddr   string
	GossipAddr string
	DataDir    string
	Process    *Process
	// Admin is an admin API client bound to this node.
	Admin *adminclient.Client
}

// Up reports whether the hub process is running.
func (h *Hub) Up() bool { return !h.Process.Exited() }

// Kill stops the node with SIGKILL, as a crash would.
func (h *Hub) Kill() { h.Process.Kill() }

// Restart starts the node again from its data folder on the same addresses.
func (h *Hub) Restart() { h.Process.Restart() }

// ClusterStatus is the part of GET /api/v1/cluster the tests read.
type ClusterStatus struct {
	NodeID   string `json:"node_id"`
	State    string `json:"state"`
	LeaderID string `json:"leader_id"`
	Term     uint64 `json:"term"`
	Applied  uint64 `json:"applied_index"`
	Ready    bool   `json:"ready"`
	Nodes    []struct {
		ID       string `json:"id"`
		Suffrage string `json:"suffrage"`
		Leader   bool   `json:"leader"`
	} `json:"nodes"`
}

// Status returns the node's own view of the cluster.
func (h *Hub) Status(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := h.Admin.Do(ctx, http.MethodGet, "/api/v1/cluster", nil, nil, &st)
	return st, err
}

// Ready reports whether GET /readyz returns 200: the node knows a leader
// and has applied up to the commit index.
func (h *Hub) Ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Cluster is three hub nodes on loopback that bootstrap one Raft cluster.
type Cluster struct {
	Hubs  []*Hub
	Token string
	tb    testing.TB
}

// StartCluster starts n hub nodes that join each other through gossip and
// bootstrap once all n have met, then waits for a leader.
func StartCluster(tb testing.TB, n int, opts HubOptions) *Cluster {
	tb.Helper()
	if len(opts.AdminToken) < 16 {
		tb.Fatalf("admin token %q is shorter than the 16 characters the hub requires", opts.AdminToken)
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.GossipKey == "" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			tb.Fatalf("generate gossip key: %v", err)
		}
		opts.GossipKey = base64.StdEncoding.EncodeToString(key)
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.ReconnectGrace == 0 {
		opts.ReconnectGrace = DefaultReconnectGrace
	}
	c := &Cluster{Token: opts.AdminToken, tb: tb}
	for i := 0; i < n; i++ {
		h := &Hub{
			ID:         fmt.Sprintf("hub%d", i+1),
			HTTPAddr:   FreeAddr(tb),
			RaftAddr:   FreeAddr(tb),
			GossipAddr: FreeAddr(tb),
			DataDir:    filepath.Join(tb.TempDir(), "data"),
		}
		h.URL = "http://" + h.HTTPAddr
		h.Admin = adminclient.New(h.URL, opts.AdminToken)
		c.Hubs = append(c.Hubs, h)
	}
	var gossip []string
	for _, h := range c.Hubs {
		gossip = append(gossip, h.GossipAddr)
	}
	for _, h := range c.Hubs {
		args := []string{"hub",
			"--node-id", h.ID,
			"--data-dir", h.DataDir,
			"--http-addr", h.HTTPAddr,
			"--raft-addr", h.RaftAddr,
			"--gossip-addr", h.GossipAddr,
			"--join", strings.Join(gossip, ","),
			"--bootstrap-expect", fmt.Sprint(n),
			"--log-level", opts.LogLevel,
			"--heartbeat-interval", opts.HeartbeatInterval.String(),
			"--reconnect-grace", opts.ReconnectGrace.String(),
		}
		if opts.NoAgentWait > 0 {
			args = append(args, "--no-agent-wait", opts.NoAgentWait.String())
		}
		if opts.LeaderWait > 0 {
			args = append(args, "--leader-wait", opts.LeaderWait.String())
		}
		// The token and the key go through the environment so that they
		// stay out of the argument list the harness prints on failure.
		h.Process = Start(tb, h.ID, args, "RINGHOOK_ADMIN_TOKEN="+opts.AdminToken, "RINGHOOK_GOSSIP_KEY="+opts.GossipKey)
	}
	c.WaitForLeader(60 * time.Second)
	return c
}

// URLs returns the base URL of every node, in order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Hubs))
	for i, h := range c.Hubs {
		urls[i] = h.URL
	}
	return urls
}

// Hub returns the node with the given id, or nil.
func (c *Cluster) Hub(id string) *Hub {
	for _, h := range c.Hubs {
		if h.ID == id {
			return h
		}
	}
	return nil
}

// Leader returns the node that the running nodes agree is the leader and
// that reports itself as leader, or an error when there is none right now.
func (c *Cluster) Leader(ctx context.Context) (*Hub, error) {
	var views []string
	leaderID := ""
	for _, h := range c.Hubs {
		if !h.Up() {
			continue
		}
		st, err := h.Status(ctx)
		if err != nil {
			views = append(views, fmt.Sprintf("%s: %v", h.ID, err))
			continue
		}
		views = append(views, fmt.Sprintf("%s: state %s, leader %q", h.ID, st.State, st.LeaderID))
		if st.LeaderID == "" {
			continue
		}
		if leaderID != "" && leaderID != st.LeaderID {
			return nil, fmt.Errorf("nodes disagree on the leader: %s", strings.Join(views, "; "))
		}
		leaderID = st.LeaderID
	}
	if leaderID == "" {
		return nil, fmt.Errorf("no node knows a leader: %s", strings.Join(views, "; "))
	}
	leader := c.Hub(leaderID)
	if leader == nil || !leader.Up() {
		return nil, fmt.Errorf("leader %s is not a running node of this cluster: %s", leaderID, strings.Join(views, "; "))
	}
	st, err := leader.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask leader %s for its status: %w", leaderID, err)
	}
	if st.State != "Leader" {
		return nil, fmt.Errorf("node %s is named leader but is in state %s", leaderID, st.State)
	}
	return leader, nil
}

// WaitForLeader waits until the running nodes agree on a leader and every
// running node is ready, and returns the leader.
func (c *Cluster) WaitForLeader(timeout time.Duration) *Hub {
	c.tb.Helper()
	ctx := context.Background()
	var leader *Hub
	Eventually(c.tb, timeout, func() error {
		l, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		for _, h := range c.Hubs {
			if h.Up() && !h.Ready(ctx) {
				return fmt.Errorf("node %s is not ready yet", h.ID)
			}
		}
		leader = l
		return nil
	})
	return leader
}

// Admin returns an admin client of the current leader, waiting for one.
func (c *Cluster) Admin() *adminclient.Client {
	c.tb.Helper()
	return c.WaitForLeader(60 * time.Second).Admin
}

// AnyUp returns the first running node.
func (c *Cluster) AnyUp() *Hub {
	for _, h := range c.Hubs {
		if h.Up() {
			return h
		}
	}
	c.tb.Fatalf("no hub node is running")
	return nil
}

// AgentHealth is one agent of GET /api/v1/agents with the health that
// the node holding its session reports.
type AgentHealth struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Trunk  string `json:"trunk"`
	Health *struct {
		Connected   bool   `json:"connected"`
		Healthy     bool   `json:"healthy"`
		Detail      string `json:"detail"`
		ActiveCalls int    `json:"active_calls"`
		NodeID      string `json:"node_id"`
	} `json:"health"`
}

// WaitForHealthyAgents waits until the leader reports every agent in ids
// connected and healthy, so that calls can be dispatched to any of them.
func (c *Cluster) WaitForHealthyAgents(timeout time.Duration, ids ...string) {
	c.tb.Helper()
	ctx := context.Background()
	Eventually(c.tb, timeout, func() error {
		leader, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		var agents []AgentHealth
		if err := leader.Admin.List(ctx, "/api/v1/agents", nil, &agents); err != nil {
			return err
		}
		byID := map[string]AgentHealth{}
		for _, a := range agents {
			byID[a.ID] = a
		}
		var problems []string
		for _, id := range ids {
			a, ok := byID[id]
			switch {
			case !ok:
				problems = append(problems, id+" is not listed")
			case a.Health == nil || !a.Health.Connected:
				problems = append(problems, a.Name+" is not connected to the leader")
			case !a.Health.Healthy:
				problems = append(problems, a.Name+" is unhealthy: "+a.Health.Detail)
			}
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	})
}

// decodeJSON decodes data into v and names the data on failure.
func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %q: %w", truncate(string(data), 300), err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
