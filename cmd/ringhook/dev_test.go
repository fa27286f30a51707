package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devRunning is one in-process run of `ringhook dev`.
type devRunning struct {
	cancel context.CancelFunc
	// exit receives the exit code once; done is closed when the run returns.
	exit   chan int
	done   chan struct{}
	stdout *syncBuffer
	stderr *syncBuffer
}

func startDev(t *testing.T, dataDir string) *devRunning {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRunning{cancel: cancel, exit: make(chan int, 1), done: make(chan struct{}), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	args := []string{"dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--answer-after", "100ms", "--fail-share", "0"}
	go func() {
		d.exit <- runMain(ctx, args, strings.NewReader(""), d.stdout, d.stderr)
		close(d.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(60 * time.Second):
		}
	})
	return d
}

// waitOutput polls stdout until it contains want, failing early when the
// demo exits.
func (d *devRunning) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(d.stdout.String(), want) {
		select {
		case code := <-d.exit:
			t.Fatalf("ringhook dev exited with code %d before printing %q\nstdout:\n%s\nstderr:\n%s", code, want, d.stdout.String(), d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ringhook dev did not print %q within %s\nstdout:\n%s\nstderr:\n%s", want, timeout, d.stdout.String(), d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *devRunning) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.exit:
		if code != 0 {
			t.Errorf("ringhook dev exit code after cancel = %d, want 0\nstderr:\n%s", code, d.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ringhook dev did not stop within 60 s of its context being cancelled")
	}
	if !strings.Contains(d.stdout.String(), "Stopped. State is kept in") {
		t.Errorf("ringhook dev did not report its stop:\n%s", d.stdout.String())
	}
}

func readDevState(t *testing.T, dataDir string) devState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
	if err != nil {
		t.Fatalf("read dev.json: %v", err)
	}
	var state devState
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatalf("dev.json is not valid JSON: %v", err)
	}
	return state
}

func TestDevDemoCallsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three hub nodes, three agents and three simulated PBXs")
	}
	dataDir := t.TempDir()
	dev := startDev(t, dataDir)
	dev.waitOutput(t, "ringhook is running.", 90*time.Second)

	state := readDevState(t, dataDir)
	if !strings.HasPrefix(state.WebhookURL, "http://127.0.0.1:") || strings.HasSuffix(state.WebhookURL, ":0") || !strings.Contains(state.WebhookURL, "/api/wh/"+state.EndpointID) {
		t.Errorf("webhook_url = %q, want the first node's real address and the endpoint id", state.WebhookURL)
	}
	if len(state.AdminToken) < 16 {
		t.Errorf("admin_token = %q, want a long random token", state.AdminToken)
	}
	if key, err := base64.StdEncoding.DecodeString(state.GossipKey); err != nil || len(key) != 32 {
		t.Errorf("gossip_key decodes to %d bytes (err %v), want 32", len(key), err)
	}
	if info, err := os.Stat(filepath.Join(dataDir, "dev.json")); err != nil {
		t.Errorf("stat dev.json: %v", err)
	} else if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("dev.json mode = %o, want 600 because it holds the admin token and gossip key", mode)
	}
	if len(state.HubURLs) != devNodes {
		t.Errorf("hub_urls = %v, want %d URLs", state.HubURLs, devNodes)
	}
	if !strings.Contains(state.Curl, state.WebhookURL) || !strings.Contains(state.Curl, "alertmanager.json") {
		t.Errorf("curl = %q, want the webhook URL and the payload file", state.Curl)
	}
	if !strings.Contains(dev.stdout.String(), state.WebhookURL) {
		t.Errorf("welcome text lacks the webhook URL %s", state.WebhookURL)
	}

	payload, err := os.Open(filepath.Join(dataDir, "alertmanager.json"))
	if err != nil {
		t.Fatalf("open the example payload: %v", err)
	}
	defer payload.Close()
	accepted := postWebhook(t, state.WebhookURL, payload)
	if len(accepted.Phones) == 0 || accepted.Phones[0].CallID == "" {
		t.Fatalf("webhook queued no call: %+v", accepted.Phones)
	}
	callID := accepted.Phones[0].CallID

	dev.waitOutput(t, "call "+callID, 60*time.Second)
	line := ""
	for _, l := range strings.Split(dev.stdout.String(), "\n") {
		if strings.Contains(l, "call "+callID) {
			line = l
		}
	}
	if !strings.Contains(line, "answered") {
		t.Errorf("call line %q, want the answered disposition", line)
	}
	if !strings.Contains(line, "agents agent") {
		t.Errorf("call line %q, want the agents tried", line)
	}
	if strings.Contains(line, "+12025550101") || strings.Contains(line, "+12025550102") {
		t.Errorf("call line %q shows a full phone number", line)
	}
	dev.stop(t)

	again := startDev(t, dataDir)
	again.waitOutput(t, "ringhook is running.", 90*time.Second)
	resumed := readDevState(t, dataDir)
	if resumed.EndpointID != state.EndpointID {
		t.Errorf("endpoint id after restart = %q, want %q", resumed.EndpointID, state.EndpointID)
	}
	if resumed.WebhookURL != state.WebhookURL {
		t.Errorf("webhook URL after restart = %q, want %q", resumed.WebhookURL, state.WebhookURL)
	}
	if resumed.GossipKey != state.GossipKey {
		t.Error("gossip key changed after restart, want the one dev.json stored")
	}
	if resumed.HubURLs[0] != state.HubURLs[0] {
		t.Errorf("first hub URL after restart = %q, want %q", resumed.HubURLs[0], state.HubURLs[0])
	}
	again.stop(t)
}

func TestDevRejectsInvalidFailShare(t *testing.T) {
	code, _, stderr := runCommand(t, "", "dev", "--data-dir", t.TempDir(), "--fail-share", "1.5")
	if code != 2 || !strings.Contains(stderr, "--fail-share") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming --fail-share", code, stderr)
	}
}
