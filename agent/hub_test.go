package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringhook/ringhook/protocol"
)

// logBuffer collects JSON log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the decoded log records whose message contains msg.
func (b *logBuffer) records(msg string) []map[string]any {
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if m, _ := rec["msg"].(string); strings.Contains(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

func TestAgentFollowsNotLeader(t *testing.T) {
	sim := startSim(t)
	leader := newFakeHub(t, true)
	follower := newFakeHubMode(t, hubMode{notLeader: leader.srv.URL})
	startAgent(t, leader, sim, func(c *Config) { c.HubURLs = []string{follower.srv.URL} })

	if n := follower.helloCount(); n == 0 {
		t.Fatal("the agent reached the leader without asking the configured hub first")
	}
	assertBusyCall(t, leader, sim, "call-via-leader", "+4930999010")
}

func TestAgentIncompatibleVersionWaits(t *testing.T) {
	sim := startSim(t)
	const reason = "agent protocol version 1 is too old: this hub accepts 2 to 2; upgrade the agent"
	hub := newFakeHubMode(t, hubMode{
		closeCode:   protocol.CloseIncompatibleVersion,
		errorCode:   protocol.CodeVersionTooOld,
		closeReason: reason,
	})
	logs := &logBuffer{}
	a, err := New(Config{
		HubURLs: []string{hub.srv.URL}, Token: testToken, ARIURL: sim.URL(),
		ARIUser: "ringhook", ARIPassword: "pw", DialTemplate: "PJSIP/{number}@trunk",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		ARIPingInterval: 200 * time.Millisecond,
		Logger:          slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	defer func() {
		cancel()
		if !stopped {
			<-done
		}
	}()

	const logMsg = "rejected this agent's protocol version"
	eventually(t, "the rejection is logged", func() bool { return len(logs.records(logMsg)) > 0 })
	rec := logs.records(logMsg)[0]
	if rec["level"] != "ERROR" {
		t.Errorf("log level = %v, want ERROR", rec["level"])
	}
	if msg, _ := rec["error"].(string); !strings.Contains(msg, reason) {
		t.Errorf("logged error %q lacks the hub's reason %q", msg, reason)
	}
	wait, err := time.ParseDuration(rec["retry_in"].(string))
	if err != nil {
		t.Fatalf("retry_in %v: %v", rec["retry_in"], err)
	}
	if wait < incompatibleRetry/2 {
		t.Errorf("retry_in = %s, want at least %s", wait, incompatibleRetry/2)
	}

	// A spinning agent would reconnect about 20 times in this second.
	time.Sleep(time.Second)
	if n := hub.helloCount(); n != 1 {
		t.Errorf("hello count = %d after the rejection, want 1", n)
	}

	cancel()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if len(logs.records("agent stopped")) != 1 {
		t.Error("no stop line in the log")
	}
}

// A hub rejects an agent with an Error message carrying the full text and
// then a close frame carrying the code, as hub/gateway does.
func TestAgentUnauthorizedCloseCode(t *testing.T) {
	sim := startSim(t)
	const reason = `hello names agent "agent1" but the token belongs to agent "other"`
	hub := newFakeHubMode(t, hubMode{
		closeCode:   protocol.CloseUnauthorized,
		errorCode:   protocol.CodeUnauthorized,
		closeReason: reason,
	})
	logs := &logBuffer{}
	a, err := New(Config{
		HubURLs: []string{hub.srv.URL}, Token: testToken, ARIURL: sim.URL(),
		ARIUser: "ringhook", ARIPassword: "pw", DialTemplate: "PJSIP/{number}@trunk",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, a)

	const logMsg = "rejected the agent token"
	eventually(t, "the token rejection is logged", func() bool { return len(logs.records(logMsg)) > 0 })
	rec := logs.records(logMsg)[0]
	msg, _ := rec["error"].(string)
	if !strings.Contains(msg, reason) {
		t.Errorf("logged error %q lacks the hub's message %q", msg, reason)
	}
	if !strings.Contains(msg, protocol.CodeUnauthorized) {
		t.Errorf("logged error %q lacks the error code %q", msg, protocol.CodeUnauthorized)
	}
}

// TestAgentReplacedSessionBacksOff runs an agent against a hub that closes
// every session with CloseReplaced, as when a second process uses the same
// token. The agent must back off exponentially and warn each time.
func TestAgentReplacedSessionBacksOff(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHubMode(t, hubMode{replaceAfterWelcome: true})
	logs := &logBuffer{}
	const reconnectMin, reconnectMax = 20 * time.Millisecond, 160 * time.Millisecond
	a, err := New(Config{
		HubURLs: []string{hub.srv.URL}, Token: testToken, ARIURL: sim.URL(),
		ARIUser: "ringhook", ARIPassword: "pw", DialTemplate: "PJSIP/{number}@trunk",
		ReconnectMin: reconnectMin, ReconnectMax: reconnectMax,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runAgent(t, a)

	const logMsg = "another process uses this agent's token"
	const occurrences = 6
	eventually(t, "six replaced sessions are logged", func() bool { return len(logs.records(logMsg)) >= occurrences })
	stop()

	records := logs.records(logMsg)
	// Every session ended by the replacement, except possibly the one that
	// the test's cancel interrupted, has its own warning.
	if hellos := hub.helloCount(); len(records) < hellos-1 {
		t.Errorf("%d warnings for %d sessions, want one per replaced session", len(records), hellos)
	}

	// The k-th wait is drawn from the upper half of min(reconnectMin*2^k,
	// reconnectMax), so it is at least half of that.
	backoff := reconnectMin
	for i, rec := range records[:occurrences] {
		if rec["level"] != "WARN" {
			t.Errorf("warning %d: level = %v, want WARN", i, rec["level"])
		}
		if rec["agent_id"] != "agent1" {
			t.Errorf("warning %d: agent_id = %v, want agent1", i, rec["agent_id"])
		}
		wait, err := time.ParseDuration(rec["retry_in"].(string))
		if err != nil {
			t.Fatalf("warning %d: retry_in %v: %v", i, rec["retry_in"], err)
		}
		if wait < backoff/2 || wait > reconnectMax {
			t.Errorf("warning %d: retry_in = %s, want between %s and %s", i, wait, backoff/2, reconnectMax)
		}
		backoff = min(2*backoff, reconnectMax)
	}
}
