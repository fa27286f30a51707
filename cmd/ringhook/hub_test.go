package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address whose TCP port, and UDP port when
// udp is set, was free a moment ago.
func freeAddr(t *testing.T, udp bool) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen on 127.0.0.1: %v", err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !udp {
			return addr
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatal("found no free port on 127.0.0.1")
	return ""
}

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

func TestHubStartsAndStopsOnCancel(t *testing.T) {
	httpAddr := freeAddr(t, false)
	args := []string{"hub",
		"--node-id", "hub1",
		"--data-dir", t.TempDir() + "/hub1",
		"--http-addr", httpAddr,
		"--raft-addr", freeAddr(t, false),
		"--gossip-addr", freeAddr(t, true),
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
