package main

import (
	"context"
	"encoding/base64"
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/gateway"
)

func TestHubRejectsInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	base := []string{"hub", "--node-id", "hub1", "--data-dir", dir}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "missing node id", args: []string{"hub", "--data-dir", dir}, want: "--node-id"},
		{name: "missing data dir", args: []string{"hub", "--node-id", "hub1"}, want: "--data-dir"},
		{name: "gossip key not base64", args: append(base, "--gossip-key", "not base64!"), want: "--gossip-key"},
		{name: "gossip key wrong length", args: append(base, "--gossip-key", "c2hvcnQ="), want: "--gossip-key"},
		{name: "gossip key file missing", args: append(base, "--gossip-key-file", dir+"/missing.key"), want: "--gossip-key-file"},
		{name: "short admin token", args: append(base, "--admin-token", "short"), want: "--admin-token"},
		{name: "short admin token in env", args: base, env: map[string]string{"RINGHOOK_ADMIN_TOKEN": "short"}, want: "--admin-token"},
		{name: "retention below an hour", args: append(base, "--retention", "30m"), want: "--retention"},
		{name: "retention not a duration", args: append(base, "--retention", "forever"), want: "retention"},
		{name: "negative leader wait", args: append(base, "--leader-wait", "-1s"), want: "--leader-wait"},
		{name: "zero no-agent wait", args: append(base, "--no-agent-wait", "0s"), want: "--no-agent-wait"},
		{name: "invalid log level", args: append(base, "--log-level", "loud"), want: "--log-level"},
		{name: "three nodes without gossip key", args: append(base, "--bootstrap-expect", "3"), want: "--gossip-key-file"},
		{name: "join without gossip key", args: append(base, "--bootstrap-expect", "1", "--join", "127.0.0.1:7947"), want: "--gossip-key"},
		{name: "public url without scheme separator", args: append(base, "--public-url", "ftp//x"), want: "--public-url"},
		{name: "public url ftp", args: append(base, "--public-url", "ftp://hooks.example.com"), want: "--public-url"},
		{name: "public url relative", args: append(base, "--public-url", "/ringhook"), want: "--public-url"},
		{name: "public url with query", args: append(base, "--public-url", "https://hooks.example.com/?a=1"), want: "--public-url"},
		{name: "public url with user", args: append(base, "--public-url", "https://user:pw@hooks.example.com"), want: "--public-url"},
		{name: "zero heartbeat interval", args: append(base, "--heartbeat-interval", "0s"), want: "--heartbeat-interval"},
		{name: "negative reconnect grace", args: append(base, "--reconnect-grace", "-1s"), want: "--reconnect-grace"},
		{name: "reconnect grace below interval", args: append(base, "--heartbeat-interval", "2s", "--reconnect-grace", "1s"), want: "--reconnect-grace"},
		{name: "unknown config key", args: append(base, "--config", writeFile(t, "hub.yaml", "node-id: hub1\nraft-adress: 127.0.0.1:7000\n")), want: `"raft-adress"`},
		{name: "positional argument", args: append(base, "extra"), want: `"extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runCommand(t, "", tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not name %s", stderr, tt.want)
			}
		})
	}
}

func TestHubConfigFromFlags(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	tests := []struct {
		name      string
		args      []string
		heartbeat time.Duration
		grace     time.Duration
		publicURL string
	}{
		{name: "defaults", heartbeat: gateway.DefaultHeartbeatInterval, grace: 2 * gateway.DefaultHeartbeatInterval},
		{name: "grace from interval", args: []string{"--heartbeat-interval", "1s"}, heartbeat: time.Second, grace: 2 * time.Second},
		{name: "both set", args: []string{"--heartbeat-interval", "1s", "--reconnect-grace", "3s"}, heartbeat: time.Second, grace: 3 * time.Second},
		{name: "public url with prefix", args: []string{"--public-url", "https://example.com/ringhook"}, publicURL: "https://example.com/ringhook",
			heartbeat: gateway.DefaultHeartbeatInterval, grace: 2 * gateway.DefaultHeartbeatInterval},
		{name: "cluster with key", args: []string{"--bootstrap-expect", "3", "--join", "127.0.0.1:7947", "--gossip-key", key},
			heartbeat: gateway.DefaultHeartbeatInterval, grace: 2 * gateway.DefaultHeartbeatInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("ringhook hub", flag.ContinueOnError)
			var flags hubFlags
			flags.register(fs)
			if err := fs.Parse(append([]string{"--node-id", "hub1", "--data-dir", dir}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			cfg, err := flags.config()
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			if cfg.HeartbeatInterval != tt.heartbeat {
				t.Errorf("HeartbeatInterval = %s, want %s", cfg.HeartbeatInterval, tt.heartbeat)
			}
			if cfg.ReconnectGrace != tt.grace {
				t.Errorf("ReconnectGrace = %s, want %s", cfg.ReconnectGrace, tt.grace)
			}
			if cfg.PublicURL != tt.publicURL {
				t.Errorf("PublicURL = %q, want %q", cfg.PublicURL, tt.publicURL)
			}
		})
	}
}

func TestHubStartsAndStopsOnCancel(t *testing.T) {
	httpAddr := clustertest.FreeAddr(t, false)
	args := []string{"hub",
		"--node-id", "hub1",
		"--data-dir", t.TempDir() + "/hub1",
		"--http-addr", httpAddr,
		"--raft-addr", clustertest.FreeAddr(t, false),
		"--gossip-addr", clustertest.FreeAddr(t, true),
		"--bootstrap-expect", "1",
		"--log-format", "json",
	}
	t.Setenv("RINGHOOK_ADMIN_TOKEN", "test-admin-token-0123456789")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- runMain(ctx, args, strings.NewReader(""), &stdout, &stderr) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-exit:
			t.Fatalf("hub exited with code %d before it was ready; stderr:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub at %s not ready within 20 s; stderr:\n%s", httpAddr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit code after cancel = %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("hub did not return after its context was cancelled")
	}
	if !strings.Contains(stderr.String(), `"msg":"hub node stopped"`) {
		t.Errorf("log lacks the stop line; stderr:\n%s", stderr.String())
	}
}
