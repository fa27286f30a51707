// Package gateway keeps the agents' websocket sessions, tracks agent health
// in the leader's memory and runs the dispatcher that hands queued calls to
// agents. Sessions and dispatch live on the Raft leader only, and a
// follower sends a connecting agent to the leader. Every assignment and every agent
// report goes through Raft before the hub acts on it or acknowledges it.
//
// DESIGN.md beside this file gives the reasons and the retry bounds.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// Backend is the part of the cluster node that the gateway uses.
// *cluster.Node implements it.
type Backend interface {
	ID() string
	FSM() *raftfsm.FSM
	// Apply proposes a command and waits until the leader applied it.
	Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error)
	IsLeader() bool
	// LeaderChanges receives true when this node becomes leader, false when
	// it stops.
	LeaderChanges() <-chan bool
	// Leader returns the leader's id and base HTTP URL, empty when unknown.
	Leader() (id, httpURL string)
}

// State is the part of the replicated state that the gateway reads.
// *raftfsm.FSM implements it.
type State interface {
	GetAgent(id string) (model.Agent, error)
	ListAgents() ([]model.Agent, error)
	GetCall(id string) (model.Call, error)
	// ListCallsByStatus returns every call with the status, oldest first.
	ListCallsByStatus(status string) ([]model.Call, error)
	ListRequests(q raftfsm.RequestQuery) ([]model.Request, error)
	// Changed receives after each applied batch that touched calls.
	Changed() <-chan struct{}
}

// Defaults for Config fields left at zero.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatMisses   = 3
	DefaultHelloTimeout      = 10 * time.Second
	DefaultAckTimeout        = 15 * time.Second
	DefaultNoAgentWait       = 5 * time.Minute
	DefaultDispatchInterval  = time.Second
	DefaultWriteTimeout      = 5 * time.Second
	DefaultApplyTimeout      = 10 * time.Second
)

// Config configures a Gateway. Zero durations take the defaults above.
type Config struct {
	Node Backend
	// State defaults to Node.FSM().
	State      State
	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// HeartbeatInterval is how often agents send Heartbeat and the hub pings.
	HeartbeatInterval time.Duration
	// HeartbeatMisses is how many intervals may pass without a message from
	// the agent before the hub closes the session.
	HeartbeatMisses int
	// HelloTimeout is how long a new connection may take to send Hello.
	HelloTimeout time.Duration
	// ReconnectGrace is how long a new leader waits for agents to reconnect
	// and claim their attempts in flight before it dispatches or retries,
	// and how long an attempt whose agent vanished waits to be reclaimed.
	// Default: two heartbeat intervals.
	ReconnectGrace time.Duration
	// AckTimeout is how long an agent may take to reply to Assign with
	// AssignAccepted or AssignRefused.
	AckTimeout time.Duration
	// NoAgentWait is how long a queued call waits for a healthy agent with
	// an untried trunk, counted from when it was queued or its last attempt
	// finished, before it fails.
	NoAgentWait time.Duration
	// DispatchInterval is how often the dispatcher looks at the queue when
	// nothing wakes it.
	DispatchInterval time.Duration
	// WriteTimeout bounds one websocket write.
	WriteTimeout time.Duration
	// ApplyTimeout bounds one Raft apply.
	ApplyTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.HeartbeatMisses <= 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = DefaultHelloTimeout
	}
	if c.ReconnectGrace <= 0 {
		c.ReconnectGrace = 2 * c.HeartbeatInterval
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.NoAgentWait <= 0 {
		c.NoAgentWait = DefaultNoAgentWait
	}
	if c.DispatchInterval <= 0 {
		c.DispatchInterval = DefaultDispatchInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
}

// Gateway serves agent sessions and dispatches calls while its node leads.
type Gateway struct {
	cfg     Config
	node    Backend
	state   State
	log     *slog.Logger
	metrics *metrics

	// wake requests a dispatcher pass. It is buffered, so sends never block.
	wake chan struct{}

	mu           sync.Mutex
	sessions     map[string]*session // by agent id, guarded by mu
	nextSession  uint64              // guarded by mu
	shuttingDown bool                // guarded by mu
}

// New returns a Gateway. It serves and dispatches only once Run is called.
func New(cfg Config) *Gateway {
	cfg.setDefaults()
	state := cfg.State
	if state == nil {
		state = cfg.Node.FSM()
	}
	g := &Gateway{
		cfg:      cfg,
		node:     cfg.Node,
		state:    state,
		log:      cfg.Logger.With("node_id", cfg.Node.ID()),
		wake:     make(chan struct{}, 1),
		sessions: make(map[string]*session),
	}
	g.metrics = newMetrics(cfg.Registerer, g)
	return g
}

// Handler serves GET /api/agent/v1/connect.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ConnectPath, g.serveConnect)
	return mux
}

// ConnectPath is the path of the agents' websocket endpoint.
const ConnectPath = "/api/agent/v1/connect"

func (g *Gateway) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *Gateway) apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ApplyTimeout)
	defer cancel()
	return g.node.Apply(ctx, cmd)
}
