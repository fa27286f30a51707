package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringhook/ringhook/hub/cluster"
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
	logLevel         string
	logFormat        string
}

func (f *hubFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "", "unique, stable `id` of this node (required)")
	fs.StringVar(&f.dataDir, "data-dir", "", "`folder` for the Raft log, snapshots and state (required)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "`host:port` the HTTP API listens on")
	fs.StringVar(&f.httpURL, "http-url", "", "`URL` other nodes and agents use to reach this node (default http://HTTP-ADDR)")
	fs.StringVar(&f.publicURL, "public-url", "", "base `URL` of the webhook URLs handed out (default: the admin request's host)")
	fs.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7000", "`host:port` the Raft transport listens on; the host must be an IP address")
	fs.StringVar(&f.raftAdvertise, "raft-advertise", "", "Raft `host:port` other nodes dial (default RAFT-ADDR)")
	fs.StringVar(&f.gossipAddr, "gossip-addr", "127.0.0.1:7946", "`host:port` memberlist gossip listens on, TCP and UDP")
	fs.StringVar(&f.gossipAdvertise, "gossip-advertise", "", "gossip `host:port` other nodes use (default GOSSIP-ADDR)")
	fs.StringVar(&f.join, "join", "", "comma-separated gossip `addresses` (host:port) of other nodes")
	fs.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "number of servers that must meet before a new cluster bootstraps; 1 for a single node, 0 to wait to be added")
	fs.StringVar(&f.gossipKey, "gossip-key", "", "base64 `key` of 16, 24 or 32 bytes that encrypts gossip and signs forwarded writes; the same on every node")
	fs.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "`file` holding the base64 gossip key")
	fs.StringVar(&f.adminToken, "admin-token", "", "bootstrap admin bearer `token`, always accepted (prefer --admin-token-file or RINGHOOK_ADMIN_TOKEN)")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "`file` holding the bootstrap admin token")
	fs.BoolVar(&f.leaveOnTerminate, "leave-on-terminate", false, "leave the cluster on SIGTERM, so the others remove this node as a voter")
	fs.DurationVar(&f.retention, "retention", retention.DefaultMaxAge, "how long requests and finished calls are kept")
	fs.DurationVar(&f.noAgentWait, "no-agent-wait", 5*time.Minute, "how long a queued call waits for a healthy agent before it fails")
	fs.DurationVar(&f.leaderWait, "leader-wait", cluster.DefaultLeaderWait, "how long a write waits for a leader before the API answers 503")
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
		HTTPAddr:       f.httpAddr,
		PublicURL:      f.publicURL,
		BootstrapToken: token,
		Retention:      f.retention,
		NoAgentWait:    f.noAgentWait,
	}, nil
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
