// Package httpapi serves a hub node's HTTP interface: the webhook intake at
// /api/wh/{endpoint_id}, the admin API under /api/v1, Prometheus metrics,
// health and readiness probes, and the mount points of the agent websocket
// and the cluster's internal forwarding API. docs/api.md is the reference of
// every route.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/raftfsm"
)

// Backend is the part of a cluster node the HTTP API uses; *cluster.Node
// implements it.
type Backend interface {
	// ID returns this node's id.
	ID() string
	// Apply proposes a command through Raft, forwarding it to the leader
	// when this node is a follower. It returns cluster.ErrNoLeader when no
	// leader appeared in time, cluster.ErrOutcomeUnknown when the command
	// may have been committed but was not confirmed, and a
	// *raftfsm.ApplyError for a rejected command.
	Apply(ctx context.Context, cmd raftfsm.Command) (*raftfsm.Response, error)
	// FSM returns this node's state machine, for local reads.
	FSM() *raftfsm.FSM
	IsLeader() bool
	// Leader returns the leader's id and HTTP URL, empty when unknown.
	Leader() (id, httpURL string)
	// Ready reports whether the node has a known leader and has applied up
	// to the commit index.
	Ready() bool
	// Status returns the node's view of the cluster: nodes, leader, term
	// and Raft indexes.
	Status() cluster.Status
	// RemoveServer removes a server from the Raft configuration.
	RemoveServer(ctx context.Context, id string) error
}

// Defaults for Config fields left at zero.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultLeaderWait   = 10 * time.Second
	// ApplyGrace is the time a write gets for the apply itself after the
	// leader wait, so that a leader found late can still commit it.
	ApplyGrace = 5 * time.Second
)

// Config configures a Server. Backend is required.
type Config struct {
	Backend Backend
	// Agents returns the health of the agents connected to this node's
	// gateway. When nil, agent lists carry no health.
	Agents AgentHealthSource
	// AgentHandler serves the agent websocket at /api/agent/v1/connect.
	AgentHandler http.Handler
	// InternalHandler serves the cluster's node-to-node API under
	// /internal/v1/ and receives the full path.
	InternalHandler http.Handler
	Logger          *slog.Logger
	// Registry receives the API's metrics and serves /metrics. A new
	// registry is made when nil.
	Registry *prometheus.Registry
	// BootstrapToken is an admin bearer token that is always accepted.
	// Empty disables it, so only tokens created through the API work.
	BootstrapToken string
	// PublicURL is the scheme and host that webhook URLs are built on, for
	// example "https://hub.example.com". When empty, the URL of the
	// request that created the endpoint is used.
	PublicURL string
	// MaxBodyBytes is the largest webhook or admin request body accepted;
	// DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// LeaderWait is how long a write may wait for a leader; set it to the
	// cluster's leader wait. A write that has not finished LeaderWait plus
	// ApplyGrace after it started gets a 503 response, or a 504 when the
	// write may have been committed. DefaultLeaderWait when zero.
	LeaderWait time.Duration
}

// Server is the HTTP API of one hub node.
type Server struct {
	cfg     Config
	backend Backend
	agents  AgentHealthSource
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	// applyTimeout bounds one write: LeaderWait plus ApplyGrace.
	applyTimeout time.Duration
}

// New builds a Server and registers its metrics on cfg.Registry.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("httpapi: Config.Backend is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.LeaderWait <= 0 {
		cfg.LeaderWait = DefaultLeaderWait
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("httpapi: register metrics: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		backend: cfg.Backend,
		agents:  cfg.Agents,
		log:     cfg.Logger,
		metrics: m,

		applyTimeout: cfg.LeaderWait + ApplyGrace,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the root handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	// A cleaned path would be a 301 redirect, and some tools follow a
	// redirected POST as a GET without the body.
	r.SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// gorilla/mux v1.8.1 reports a method mismatch inside a subrouter
		// as not found, so the methods are tried here.
		if allowed := allowedMethods(r, req); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed on %s; use %s", req.Method, req.URL.Path, strings.Join(allowed, " or ")))
			return
		}
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no route for %s %s; see docs/api.md for the routes", req.Method, req.URL.Path))
	})

	r.HandleFunc("/api/wh/{endpoint_id}", s.handleWebhook)
	r.HandleFunc("/api/wh/{endpoint_id}/{rest:.*}", s.handleWebhook)

	r.Handle("/metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry}))
	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)

	if s.cfg.AgentHandler != nil {
		r.Handle("/api/agent/v1/connect", s.cfg.AgentHandler)
	}
	if s.cfg.InternalHandler != nil {
		r.PathPrefix("/internal/v1/").Handler(s.cfg.InternalHandler)
	}

	api := r.PathPrefix("/api/v1").Subrouter()
	api.Use(s.authenticate)
	s.adminRoutes(api)
	return r
}

// allowedMethods returns the methods that have a route for req's path.
func allowedMethods(router *mux.Router, req *http.Request) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if router.Match(probe, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node_id": s.backend.ID()})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	leaderID, _ := s.backend.Leader()
	body := map[string]any{
		"node_id":   s.backend.ID(),
		"leader_id": leaderID,
		"ready":     s.backend.Ready(),
	}
	if !s.backend.Ready() {
		body["message"] = "this node knows no leader or has not applied up to the commit index yet"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// awaitLocal checks that this node's state machine shows a write that
// Backend.Apply has returned. On a follower, Apply waits (up to 2 s) until
// the node has applied the forwarded entry, so a client reads its own write
// from the node it wrote through. When that wait ran out, the write still
// succeeded and a read may briefly show the old state; this logs it.
func (s *Server) awaitLocal(applied func() bool) {
	if !applied() {
		s.log.Debug("this node has not applied the write yet; reads here may lag", "node_id", s.backend.ID())
	}
}

// applyContext bounds one write by LeaderWait plus ApplyGrace. It is detached from the
// client's cancellation: a proposal that a client abandoned may still
// commit, and cancelling it halfway gains nothing.
func (s *Server) applyContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), s.applyTimeout)
}
