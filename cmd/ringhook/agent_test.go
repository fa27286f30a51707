package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAgentInvalidConfig(t *testing.T) {
	missingFolder := filepath.Join(t.TempDir(), "absent")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing hubs", []string{"-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p"}, "hub URLs are missing"},
		{"bad token", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "nope", "-ari-user", "u", "-ari-password", "p"}, "invalid agent token"},
		{"missing token", []string{"-hub-urls", "http://127.0.0.1:1", "-ari-user", "u", "-ari-password", "p"},
			"missing agent token: set --agent-token, --agent-token-file or RINGHOOK_AGENT_TOKEN"},
		{"zero max calls", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-max-calls", "0"},
			"invalid --max-calls 0: it must be at least 1"},
		{"negative max calls", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-max-calls", "-3"},
			"invalid --max-calls -3"},
		{"state file folder missing", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-state-file", missingFolder + "/agent.json"},
			"invalid state file " + missingFolder + "/agent.json: the folder " + missingFolder + " does not exist"},
		{"negative drain timeout", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-drain-timeout", "-1s"},
			"invalid --drain-timeout -1s: it must not be negative"},
		{"bad template", []string{"-hub-urls", "http://127.0.0.1:1", "-agent-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-dial-template", "PJSIP/trunk"}, "invalid dial template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RINGHOOK_AGENT_TOKEN", "")
			t.Setenv("RINGHOOK_AGENT_TOKEN_FILE", "")
			// The admin CLI's token must not stand in for the agent token.
			t.Setenv("RINGHOOK_TOKEN", "rha_admincli_notanagenttoken")
			var stderr bytes.Buffer
			code := runMain(context.Background(), append([]string{"agent"}, tt.args...), nil, &bytes.Buffer{}, &stderr)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.want)
			}
		})
	}
}

// runAgentUntilStarted runs "ringhook agent" until it logs its start line,
// stops it and returns its exit code and stderr. Hub and ARI point at a
// local server that answers 503, so the agent only retries.
func runAgentUntilStarted(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runAgentWithEnv(t, nil, args...)
}

// runAgentWithEnv is runAgentUntilStarted with environment variables set
// after the agent's own variables are cleared.
func runAgentWithEnv(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	t.Setenv("RINGHOOK_AGENT_TOKEN", "")
	t.Setenv("RINGHOOK_AGENT_TOKEN_FILE", "")
	t.Setenv("RINGHOOK_ARI_PASSWORD", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	base := []string{"agent", "-hub-urls", down.URL, "-ari-url", down.URL, "-ari-user", "ringhook"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, append(base, args...), nil, &bytes.Buffer{}, &stderr)
	}()

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "agent starting") {
		select {
		case code := <-done:
			return code, stderr.String()
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start line; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(20 * time.Second):
		t.Fatal("ringhook agent did not stop after its context was cancelled")
	}
	return 0, ""
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAgentSecretFiles(t *testing.T) {
	tokenFile := writeSecret(t, "  rha_fileagent_t0kenfromfile\n")
	passwordFile := writeSecret(t, "pw-from-file\n")

	code, out := runAgentUntilStarted(t, "-agent-token-file", tokenFile, "-ari-password-file", passwordFile)
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, out)
	}
	if !strings.Contains(out, `"agent_id":"fileagent"`) {
		t.Errorf("start line lacks the agent id from the token file; stderr:\n%s", out)
	}
	for _, secret := range []string{"t0kenfromfile", "pw-from-file"} {
		if strings.Contains(out, secret) {
			t.Errorf("stderr contains the secret %q:\n%s", secret, out)
		}
	}
}

func TestAgentTokenFromEnvironment(t *testing.T) {
	tokenFile := writeSecret(t, "rha_envfileagent_t0kenfromfile\n")
	tests := []struct {
		name    string
		env     map[string]string
		agentID string
	}{
		{"token", map[string]string{"RINGHOOK_AGENT_TOKEN": "rha_envagent_t0kenfromenv"}, "envagent"},
		{"token file", map[string]string{"RINGHOOK_AGENT_TOKEN_FILE": tokenFile}, "envfileagent"},
		{"admin token ignored", map[string]string{
			"RINGHOOK_TOKEN":       "rha_admincli_notanagenttoken",
			"RINGHOOK_AGENT_TOKEN": "rha_envagent_t0kenfromenv",
		}, "envagent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runAgentWithEnv(t, tt.env, "-ari-password", "pw")
			if code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, out)
			}
			if want := `"agent_id":"` + tt.agentID + `"`; !strings.Contains(out, want) {
				t.Errorf("start line lacks %s; stderr:\n%s", want, out)
			}
		})
	}
}

func TestAgentTokenFlagBeatsFile(t *testing.T) {
	tokenFile := writeSecret(t, "rha_fileagent_t0kenfromfile")
	code, out := runAgentUntilStarted(t, "-agent-token", "rha_flagagent_t0kenfromflag", "-agent-token-file", tokenFile, "-ari-password", "pw")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, out)
	}
	if !strings.Contains(out, `"agent_id":"flagagent"`) {
		t.Errorf("agent id is not the one of --agent-token; stderr:\n%s", out)
	}
}

func TestAgentSecretFileErrors(t *testing.T) {
	empty := writeSecret(t, " \n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing token file", []string{"-agent-token-file", filepath.Join(t.TempDir(), "absent"), "-ari-password", "pw"}, "read --agent-token-file"},
		{"empty password file", []string{"-agent-token", "rha_a1_secret", "-ari-password-file", empty}, "--ari-password-file " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runAgentUntilStarted(t, tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", out, tt.want)
			}
		})
	}
}

func TestAgentLogsStartAndStop(t *testing.T) {
	code, out := runAgentUntilStarted(t, "-agent-token", "rha_logagent_t0ken", "-ari-password", "s3cretpw", "-ari-application", "ringhook-logs")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, out)
	}
	var start map[string]any
	stops := 0
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec["msg"] {
		case "agent starting":
			start = rec
		case "agent stopped":
			stops++
		}
	}
	if start == nil {
		t.Fatalf("no start line; stderr:\n%s", out)
	}
	if start["agent_id"] != "logagent" {
		t.Errorf("start agent_id = %v, want logagent", start["agent_id"])
	}
	if start["application"] != "ringhook-logs" {
		t.Errorf("start application = %v, want ringhook-logs", start["application"])
	}
	if hubs, _ := start["hubs"].([]any); len(hubs) != 1 || !strings.HasPrefix(hubs[0].(string), "http://127.0.0.1:") {
		t.Errorf("start hubs = %v, want the one hub URL", start["hubs"])
	}
	if u, _ := start["ari_url"].(string); !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("start ari_url = %v, want the ARI URL", start["ari_url"])
	}
	if stops != 1 {
		t.Errorf("stop lines = %d, want 1", stops)
	}
	for _, secret := range []string{"t0ken", "s3cretpw"} {
		if strings.Contains(out, secret) {
			t.Errorf("stderr contains the secret %q", secret)
		}
	}
}
