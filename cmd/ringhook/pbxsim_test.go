package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPBXSim runs "ringhook pbxsim" in-process and returns the printed
// ARI and control URLs, and a function that stops it and returns its exit
// code.
func startPBXSim(t *testing.T, args ...string) (ariURL, controlURL string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := runMain(ctx, append([]string{"pbxsim"}, args...), nil, outW, io.Discard)
		outW.Close()
		done <- code
	}()

	lines := bufio.NewScanner(outR)
	for (ariURL == "" || controlURL == "") && lines.Scan() {
		key, value, _ := strings.Cut(lines.Text(), "=")
		switch key {
		case "ari_url":
			ariURL = value
		case "control_url":
			controlURL = value
		}
	}
	go io.Copy(io.Discard, outR)
	if ariURL == "" || controlURL == "" {
		cancel()
		t.Fatalf("pbxsim did not print its URLs (exit code %d)", <-done)
	}
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("pbxsim did not stop within 20 s of cancellation")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return ariURL, controlURL, stop
}

func doRequest(t *testing.T, method, url, user, pass, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestPBXSimCommand(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - match: \"+15550001111\"\n    kind: allocation-failure\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ariURL, controlURL, stop := startPBXSim(t,
		"--listen", "127.0.0.1:0", "--username", "u", "--password", "p",
		"--behavior-file", rules, "--time-scale", "0.01", "--default", "busy")

	if code, body := doRequest(t, "GET", ariURL+"/ari/asterisk/ping", "u", "p", ""); code != 200 || !strings.Contains(body, "pong") {
		t.Errorf("ping = %d %s", code, body)
	}
	if code, body := doRequest(t, "POST", ariURL+"/ari/channels?endpoint=PJSIP/%2B15550001111@t&app=a", "u", "p", ""); code != 500 || !strings.Contains(body, "Allocation failed") {
		t.Errorf("originate to the allocation-failure rule = %d %s", code, body)
	}

	if code, body := doRequest(t, "PUT", controlURL+"/sim/behaviors/%2B15550002222", "", "", `{"kind":"unreachable"}`); code != 204 {
		t.Fatalf("set behavior = %d %s", code, body)
	}
	if code, body := doRequest(t, "PUT", controlURL+"/sim/behaviors/%2B1", "", "", `{"kind":"ringing"}`); code != 400 {
		t.Errorf("set unknown kind = %d %s, want 400", code, body)
	}
	if code, _ := doRequest(t, "POST", ariURL+"/ari/channels?endpoint=PJSIP/%2B15550002222@t&app=a&channelId=c2&timeout=60", "u", "p", ""); code != 200 {
		t.Errorf("originate = %d", code)
	}
	code, body := doRequest(t, "GET", controlURL+"/sim/originations", "", "", "")
	var origs []struct {
		Number string `json:"number"`
		Kind   string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(body), &origs); code != 200 || err != nil {
		t.Fatalf("originations = %d %s (%v)", code, body, err)
	}
	if len(origs) != 2 || origs[0].Kind != "allocation-failure" || origs[1].Number != "+15550002222" || origs[1].Kind != "unreachable" {
		t.Errorf("originations = %+v", origs)
	}

	if code, _ := doRequest(t, "PUT", controlURL+"/sim/refuse", "", "", `{"refuse":true}`); code != 204 {
		t.Fatalf("refuse = %d", code)
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(ariURL + "/ari/asterisk/ping"); err == nil {
		t.Errorf("ARI reachable while refusing")
	}
	if code, _ := doRequest(t, "PUT", controlURL+"/sim/refuse", "", "", `{"refuse":false}`); code != 204 {
		t.Fatalf("accept = %d", code)
	}
	if code, _ := doRequest(t, "GET", ariURL+"/ari/asterisk/ping", "u", "p", ""); code != 200 {
		t.Errorf("ping after refusing = %d", code)
	}

	if code := stop(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestPBXSimCommandRejectsBadFlags(t *testing.T) {
	t.Setenv("RINGHOOK_USERNAME", "")
	t.Setenv("RINGHOOK_PASSWORD", "")
	cases := map[string][]string{
		"missing credentials": {"--listen", "127.0.0.1:0"},
		"bad fail share":      {"--username", "u", "--password", "p", "--fail-share", "2"},
		"bad default":         {"--username", "u", "--password", "p", "--default", "ringing"},
		"open control API":    {"--username", "u", "--password", "p", "--control-listen", "0.0.0.0:0"},
	}
	for name, args := range cases {
		var stderr strings.Builder
		code := runMain(context.Background(), append([]string{"pbxsim"}, args...), nil, io.Discard, &stderr)
		if code != 2 {
			t.Errorf("%s: exit code = %d, want 2 (stderr %q)", name, code, stderr.String())
		}
	}
}
