package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Default timings. DESIGN.md explains how they add up to the failover time.
const (
	DefaultLeaderWait         = 5 * time.Second
	DefaultHeartbeatTimeout   = 1 * time.Second
	DefaultElectionTimeout    = 1 * time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 50 * time.Millisecond
	// DefaultApplyTimeout bounds one attempt to commit a command, on the
	// leader or through a forward.
	DefaultApplyTimeout = 10 * time.Second
	// snapshotRetain is how many Raft snapshots stay on disk.
	snapshotRetain = 2
)

// Config configures one hub node of the cluster.
type Config struct {
	// NodeID names the node in Raft and in gossip; it must be unique and
	// stable across restarts.
	NodeID string
	// DataDir holds the Raft log (raft.db), the snapshots (snapshots/) and
	// the state machine (fsm/).
	DataDir string

	// RaftBind is the host:port the Raft TCP transport listens on;
	// RaftAdvertise is the address other nodes dial (RaftBind when empty).
	RaftBind      string
	RaftAdvertise string
	// GossipBind is the host:port memberlist listens on, TCP and UDP;
	// GossipAdvertise is the address other nodes use (GossipBind when empty).
	GossipBind      string
	GossipAdvertise string
	// HTTPURL is this node's base URL, for example http://10.0.0.1:8080.
	// Followers forward writes to the leader's HTTPURL + "/internal/v1/apply".
	HTTPURL string

	// Join lists gossip addresses (host:port) of other nodes. The node
	// keeps trying them in the background until it has met one.
	Join []string
	// BootstrapExpect is the number of servers that must meet before a new
	// cluster bootstraps. 0 never bootstraps: the node waits to be added by
	// an existing leader.
	BootstrapExpect int
	// GossipKey encrypts memberlist traffic (AES, 16, 24 or 32 bytes) and
	// signs requests to the internal API. Every node needs the same key.
	// It is required with BootstrapExpect above 1 or a non-empty Join:
	// without it the internal API rejects every request.
	GossipKey []byte

	// LeaderWait is how long Apply waits for a leader, and keeps retrying
	// a failed attempt, before it returns ErrNoLeader or, after an attempt
	// that may have committed, ErrOutcomeUnknown. Default 5 s.
	LeaderWait time.Duration
	// ApplyTimeout bounds one attempt to commit a command. Default 10 s.
	ApplyTimeout time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// Raft timing overrides; zero keeps the defaults above. Tests may
	// shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold overrides raft's count of log entries between
	// snapshots (8192 by default) and the number of entries kept after a
	// snapshot. Tests use a small value to exercise snapshot installs.
	SnapshotThreshold uint64
	// SnapshotInterval overrides how often raft checks whether a snapshot
	// is due (a random 120-240 s by default).
	SnapshotInterval time.Duration
	// GossipLocal selects memberlist's local-network timings (faster
	// failure detection) in place of its LAN timings. For tests.
	GossipLocal bool
}

func (c *Config) setDefaults() {
	if c.RaftAdvertise == "" {
		c.RaftAdvertise = c.RaftBind
	}
	if c.GossipAdvertise == "" {
		c.GossipAdvertise = c.GossipBind
	}
	if c.LeaderWait <= 0 {
		c.LeaderWait = DefaultLeaderWait
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.LeaderLeaseTimeout <= 0 {
		c.LeaderLeaseTimeout = DefaultLeaderLeaseTimeout
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("cluster config: node id is empty; set a unique, stable node id")
	}
	if c.DataDir == "" {
		return fmt.Errorf("cluster config: data dir is empty; set a directory for the raft log and state")
	}
	addrs := []struct{ name, addr string }{
		{"raft bind", c.RaftBind}, {"raft advertise", c.RaftAdvertise},
		{"gossip bind", c.GossipBind}, {"gossip advertise", c.GossipAdvertise},
	}
	for _, a := range addrs {
		if _, _, err := splitHostPort(a.addr); err != nil {
			return fmt.Errorf("cluster config: %s address %q: %w", a.name, a.addr, err)
		}
	}
	for _, a := range []struct{ name, addr string }{addrs[1], addrs[3]} {
		if ip, _, _ := splitHostPort(a.addr); ip.IsUnspecified() {
			return fmt.Errorf("cluster config: %s address %q is unspecified; other nodes cannot dial it, so set an advertise address with this node's IP", a.name, a.addr)
		}
	}
	u, err := url.Parse(c.HTTPURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cluster config: http url %q is not an absolute http(s) URL; set this node's base URL such as http://10.0.0.1:8080", c.HTTPURL)
	}
	switch len(c.GossipKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("cluster config: gossip key has %d bytes; it must have 16, 24 or 32", len(c.GossipKey))
	}
	if c.BootstrapExpect < 0 {
		return fmt.Errorf("cluster config: bootstrap expect %d is negative", c.BootstrapExpect)
	}
	// The internal API rejects every request without a gossip key, so
	// followers could not forward writes to the leader.
	if len(c.GossipKey) == 0 && (c.BootstrapExpect > 1 || len(c.Join) > 0) {
		return fmt.Errorf("cluster config: a cluster of more than one node needs a gossip key, which signs the internal API; set the same 16, 24 or 32 byte key on every node")
	}
	return nil
}

// splitHostPort parses host:port with a numeric port; the host must be an
// IP address because both memberlist and raft advertise it verbatim.
func splitHostPort(addr string) (net.IP, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("want host:port: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return nil, 0, fmt.Errorf("port %q is not a number from 1 to 65535", portText)
	}
	return ip, port, nil
}
