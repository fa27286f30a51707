// Package hubserver assembles one hub node: the cluster node (Raft and
// gossip), the agent gateway with its dispatcher, the HTTP API and the
// retention pruner, behind one HTTP listener. `ringhook hub` runs one;
// `ringhook dev` runs three in one process.
package hubserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/gateway"
	"github.com/ringhook/ringhook/hub/httpapi"
	"github.com/ringhook/ringhook/hub/retention"
)

// Config configures one hub node.
type Config struct {
	// Cluster is the Raft and gossip configuration; its HTTPURL defaults to
	// http://HTTPAddr.
	Cluster cluster.Config
	// HTTPAddr is the host:port the HTTP API listens on.
	HTTPAddr string
	// PublicURL is the base of webhook URLs handed out; the request's own
	// host when empty.
	PublicURL string
	// BootstrapToken is an admin token that is always accepted.
	BootstrapToken string
	// Retention is how long requests and finished calls are kept.
	Retention time.Duration
	// NoAgentWait is how long a queued call waits for a healthy agent.
	NoAgentWait time.Duration
	// Gateway timings; zero keeps the gateway's defaults.
	HeartbeatInterval time.Duration
	ReconnectGrace    time.Duration
	Logger            *slog.Logger
}

// Server is one running hub node.
type Server struct {
	Node    *cluster.Node
	Gateway *gateway.Gateway
	API     *httpapi.Server
	// URL is the node's base HTTP URL.
	URL string

	logger   *slog.Logger
	listener net.Listener
	http     *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Start opens the node's data, joins or bootstraps the cluster and serves
// HTTP. The node runs until Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	baseLogger := cfg.Logger
	if baseLogger == nil {
		baseLogger = slog.Default()
	}
	// The cluster node and the gateway add node_id themselves; the API,
	// the pruner and this package's own lines get it here.
	logger := baseLogger.With("node_id", cfg.Cluster.NodeID)

	// Listen first, so that a busy port fails before Raft state is touched
	// and the advertised URL carries the real port.
	listener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	baseURL := "http://" + listener.Addr().String()
	if cfg.Cluster.HTTPURL == "" {
		cfg.Cluster.HTTPURL = baseURL
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Cluster.Logger = baseLogger
	cfg.Cluster.Registerer = registry

	node, err := cluster.Start(ctx, cfg.Cluster)
	if err != nil {
		listener.Close()
		return nil, fmt.Errorf("start cluster node: %w", err)
	}

	gw := gateway.New(gateway.Config{
		Node:              node,
		Logger:            baseLogger,
		Registerer:        registry,
		NoAgentWait:       cfg.NoAgentWait,
		HeartbeatInterval: cfg.HeartbeatInterval,
		ReconnectGrace:    cfg.ReconnectGrace,
	})
	api, err := httpapi.New(httpapi.Config{
		Backend:         node,
		Agents:          gw,
		AgentHandler:    gw.Handler(),
		InternalHandler: node.InternalHandler(),
		Logger:          logger,
		Registry:        registry,
		BootstrapToken:  cfg.BootstrapToken,
		PublicURL:       cfg.PublicURL,
		LeaderWait:      cfg.Cluster.LeaderWait,
	})
	if err != nil {
		node.Shutdown(false)
		listener.Close()
		return nil, fmt.Errorf("build HTTP API: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s := &Server{
		Node:     node,
		Gateway:  gw,
		API:      api,
		URL:      baseURL,
		logger:   logger,
		listener: listener,
		cancel:   cancel,
		http: &http.Server{
			Handler:           api.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}

	pruner := &retention.Pruner{Node: node, MaxAge: cfg.Retention, Logger: logger}
	s.goRun(func() { gw.Run(runCtx) })
	s.goRun(func() { pruner.Run(runCtx) })
	s.goRun(func() {
		if err := s.http.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP server stopped", "error", err)
		}
	})
	// The advertised addresses default to the bind addresses inside cluster.Start,
	// which works on its own copy of the config.
	raftAddr, gossipAddr := cfg.Cluster.RaftAdvertise, cfg.Cluster.GossipAdvertise
	if raftAddr == "" {
		raftAddr = cfg.Cluster.RaftBind
	}
	if gossipAddr == "" {
		gossipAddr = cfg.Cluster.GossipBind
	}
	logger.Info("hub node started", "http_url", baseURL, "raft_addr", raftAddr, "gossip_addr", gossipAddr)
	return s, nil
}

func (s *Server) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Shutdown stops accepting HTTP requests and lets in-flight requests and
// applies finish, waiting up to ctx. It then stops the dispatcher and
// closes the node. With leave set, the node also leaves the cluster.
func (s *Server) Shutdown(ctx context.Context, leave bool) error {
	var err error
	s.stopOnce.Do(func() {
		s.logger.Info("hub node stopping", "leave", leave)
		if shutdownErr := s.http.Shutdown(ctx); shutdownErr != nil {
			s.logger.Warn("HTTP server did not drain in time", "error", shutdownErr)
			s.http.Close()
		}
		s.cancel()
		s.wg.Wait()
		err = s.Node.Shutdown(leave)
		s.logger.Info("hub node stopped")
	})
	return err
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
