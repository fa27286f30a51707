package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/gateway"
	"github.com/ringhook/ringhook/hub/hubserver"
	"github.com/ringhook/ringhook/hub/retention"
)

func init() {
	register("hub", "run one hub node of the cluster", runHub)
}

// hubFlags are the settings of `ringhook hub`.
type hubFlags struct {
	nodeID           string
	dataDir          string
	httpAddr         string
	httpURL          string
	publicURL        string
	raftAddr         string
	raftAdvertise    string
	gossipAddr       string
	gossipAdvertise  string
	join             string
	bootstrapExpect  int
	gossipKey        string
	gossipKeyFile    string
	adminToken       string
	adminTokenFile   string
	leaveOnTerminate bool
	retention        time.Duration
	noAgentWait      time.Duration
	leaderWait       time.Duration
	heartbeat        time.Duration
	reconnectGrace   time.Duration
	logLevel         string
	logFormat        string
}

func (f *hubFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "", "unique, stable `id` of this node (required)")
	fs.StringVar(&f.dataDir, "data-dir", "", "`folder` for the Raft log, snapshots and state (required)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "`host:port` the HTTP API listens on")
	fs.StringVar(&f.httpURL, "http-url", "", "`URL` other nodes and agents use to reach this node (default http://HTTP-ADDR)")
	fs.StringVar(&f.publicURL, "public-url", "", "absolute http(s) base `URL` of the webhook URLs handed out, optionally with a path prefix such as https://example.com/ringhook (default: the admin request's scheme and host)")
	fs.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7000", "`host:port` the Raft transport listens on; the host must be an IP address")
	fs.StringVar(&f.raftAdvertise, "raft-advertise", "", "Raft `host:port` other nodes dial (default RAFT-ADDR)")
	fs.StringVar(&f.gossipAddr, "gossip-addr", "127.0.0.1:7946", "`host:port` memberlist gossip listens on, TCP and UDP")
	fs.StringVar(&f.gossipAdvertise, "gossip-advertise", "", "gossip `host:port` other nodes use (default GOSSIP-ADDR)")
	fs.StringVar(&f.join, "join", "", "comma-separated gossip `addresses` (host:port) of other nodes")
	fs.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "number of servers that must meet before a new cluster bootstraps; 1 for a single node, 0 to wait to be added")
	fs.StringVar(&f.gossipKey, "gossip-key", "", "base64 `key` of 16, 24 or 32 bytes that encrypts gossip and signs forwarded writes; the same on every node, required unless the node runs alone (prefer --gossip-key-file or RINGHOOK_GOSSIP_KEY)")
	fs.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "`file` holding the base64 gossip key")
	fs.StringVar(&f.adminToken, "admin-token", "", "bootstrap admin bearer `token`, always accepted (prefer --admin-token-file or RINGHOOK_ADMIN_TOKEN)")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "`file` holding the bootstrap admin token")
	fs.BoolVar(&f.leaveOnTerminate, "leave-on-terminate", false, "leave the cluster on SIGTERM, so the others remove this node as a voter")
	fs.DurationVar(&f.retention, "retention", retention.DefaultMaxAge, "how long requests and finished calls are kept")
	fs.DurationVar(&f.noAgentWait, "no-agent-wait", 5*time.Minute, "how long a queued call waits for a healthy agent before it fails")
	fs.DurationVar(&f.leaderWait, "leader-wait", cluster.DefaultLeaderWait, "how long a write waits for a leader before the API answers 503")
	fs.DurationVar(&f.heartbeat, "heartbeat-interval", gateway.DefaultHeartbeatInterval, "how often agents send a heartbeat and the hub pings them; an agent silent for 3 intervals is disconnected")
	fs.DurationVar(&f.reconnectGrace, "reconnect-grace", 0, "how long an attempt whose agent vanished, or a new leader, waits for agents to reconnect before the call is retried (default two heartbeat intervals)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `format`: text or json")
}

// config checks the flags and turns them into a hub node configuration.
func (f *hubFlags) config() (hubserver.Config, error) {
	if f.nodeID == "" {
		return hubserver.Config{}, errors.New("--node-id is required: give each hub node a unique, stable id such as hub1")
	}
	if f.dataDir == "" {
		return hubserver.Config{}, errors.New("--data-dir is required: give the node a folder for its Raft log and state")
	}
	var key []byte
	keyText, keySetting := f.gossipKey, "--gossip-key"
	if f.gossipKeyFile != "" {
		keySetting = "--gossip-key-file"
		data, err := os.ReadFile(f.gossipKeyFile)
		if err != nil {
			return hubserver.Config{}, fmt.Errorf("--gossip-key-file: %w", err)
		}
		keyText = strings.TrimSpace(string(data))
	}
	if keyText != "" {
		decoded, err := base64.StdEncoding.DecodeString(keyText)
		if err != nil {
			return hubserver.Config{}, fmt.Errorf("%s is not valid base64: %w", keySetting, err)
		}
		if n := len(decoded); n != 16 && n != 24 && n != 32 {
			return hubserver.Config{}, fmt.Errorf("%s decodes to %d bytes; it must be 16, 24 or 32 (try: head -c 32 /dev/urandom | base64)", keySetting, n)
		}
		key = decoded
	}
	if key == nil && (f.bootstrapExpect > 1 || strings.TrimSpace(f.join) != "") {
		return hubserver.Config{}, errors.New("a cluster of more than one node needs a gossip key, which encrypts gossip and signs the writes nodes forward to each other: " +
			"set --gossip-key or --gossip-key-file (or RINGHOOK_GOSSIP_KEY) to the same key on every node (try: head -c 32 /dev/urandom | base64)")
	}
	if err := validatePublicURL(f.publicURL); err != nil {
		return hubserver.Config{}, err
	}
	token, tokenSetting := f.adminToken, "--admin-token"
	if f.adminTokenFile != "" {
		tokenSetting = "--admin-token-file"
		data, err := os.ReadFile(f.adminTokenFile)
		if err != nil {
			return hubserver.Config{}, fmt.Errorf("--admin-token-file: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token != "" && len(token) < 16 {
		return hubserver.Config{}, fmt.Errorf("%s is shorter than 16 characters; use a long random value (try: head -c 24 /dev/urandom | base64)", tokenSetting)
	}
	if f.retention < time.Hour {
		return hubserver.Config{}, fmt.Errorf("--retention %s is below one hour; set 1h or more", f.retention)
	}
	if f.noAgentWait <= 0 {
		return hubserver.Config{}, fmt.Errorf("--no-agent-wait %s must be positive", f.noAgentWait)
	}
	if f.leaderWait <= 0 {
		return hubserver.Config{}, fmt.Errorf("--leader-wait %s must be positive", f.leaderWait)
	}
	if f.heartbeat <= 0 {
		return hubserver.Config{}, fmt.Errorf("--heartbeat-interval %s must be positive", f.heartbeat)
	}
	grace := f.reconnectGrace
	if grace == 0 {
		grace = 2 * f.heartbeat
	}
	if grace < f.heartbeat {
		return hubserver.Config{}, fmt.Errorf("--reconnect-grace %s is shorter than --heartbeat-interval %s; an agent needs at least one interval to reconnect, so set it to %s or more", grace, f.heartbeat, f.heartbeat)
	}
	var join []string
	for _, addr := range strings.Split(f.join, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			join = append(join, addr)
		}
	}

	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return hubserver.Config{}, fmt.Errorf("--data-dir: %w", err)
	}
	return hubserver.Config{
		Cluster: cluster.Config{
			NodeID:          f.nodeID,
			DataDir:         dataDir,
			RaftBind:        f.raftAddr,
			RaftAdvertise:   f.raftAdvertise,
			GossipBind:      f.gossipAddr,
			GossipAdvertise: f.gossipAdvertise,
			HTTPURL:         f.httpURL,
			Join:            join,
			BootstrapExpect: f.bootstrapExpect,
			GossipKey:       key,
			LeaderWait:      f.leaderWait,
		},
		HTTPAddr:          f.httpAddr,
		PublicURL:         f.publicURL,
		BootstrapToken:    token,
		Retention:         f.retention,
		NoAgentWait:       f.noAgentWait,
		HeartbeatInterval: f.heartbeat,
		ReconnectGrace:    grace,
	}, nil
}

// validatePublicURL checks --public-url: empty, or an absolute http or
// https URL whose path, if any, is the prefix a reverse proxy serves the
// hub under. Webhook URLs are the public URL followed by /api/wh/<id>.
func validatePublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	const example = "such as https://hooks.example.com or https://example.com/ringhook"
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--public-url %q is not a valid URL (%v); set an absolute http(s) URL %s", raw, err, example)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("--public-url %q is not an absolute http or https URL; set one %s", raw, example)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("--public-url %q has user info, a query or a fragment; set only the scheme, host and optional path prefix, %s", raw, example)
	}
	return nil
}

func runHub(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringhook hub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var flags hubFlags
	flags.register(fs)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ringhook hub:", err)
		return 2
	}
	logger, err := newLogger(stderr, flags.logLevel, flags.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "ringhook hub:", err)
		return 2
	}
	cfg, err := flags.config()
	if err != nil {
		fmt.Fprintln(stderr, "ringhook hub:", err)
		return 2
	}
	if err := os.MkdirAll(cfg.Cluster.DataDir, 0o700); err != nil {
		fmt.Fprintln(stderr, "ringhook hub: create data folder:", err)
		return 1
	}
	cfg.Logger = logger

	server, err := hubserver.Start(ctx, cfg)
	if err != nil {
		logger.Error("hub node failed to start", "error", err)
		return 1
	}
	<-ctx.Done()

	// A second signal during the drain kills the process the usual way.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx, flags.leaveOnTerminate); err != nil {
		logger.Error("hub node did not shut down cleanly", "error", err)
		return 1
	}
	return 0
}
