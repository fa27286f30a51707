package cluster

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func validConfig() Config {
	return Config{
		NodeID:     "node-a",
		DataDir:    "/var/lib/ringhook",
		RaftBind:   "127.0.0.1:7000",
		GossipBind: "127.0.0.1:7946",
		HTTPURL:    "http://127.0.0.1:8080",
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no node id", func(c *Config) { c.NodeID = "" }, "node id is empty"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data dir is empty"},
		{"host name", func(c *Config) { c.RaftBind = "hub1:7000" }, "not an IP address"},
		{"no port", func(c *Config) { c.GossipBind = "127.0.0.1" }, "gossip bind address"},
		{"relative url", func(c *Config) { c.HTTPURL = "127.0.0.1:8080" }, "not an absolute http(s) URL"},
		{"short key", func(c *Config) { c.GossipKey = []byte("short") }, "gossip key has 5 bytes"},
		{"negative expect", func(c *Config) { c.BootstrapExpect = -1 }, "bootstrap expect -1"},
		{"single node without key", func(c *Config) { c.BootstrapExpect = 1 }, ""},
		{"expect three without key", func(c *Config) { c.BootstrapExpect = 3 }, "needs a gossip key"},
		{"join without key", func(c *Config) { c.Join = []string{"127.0.0.1:7947"} }, "needs a gossip key"},
		{"expect three with key", func(c *Config) { c.BootstrapExpect = 3; c.GossipKey = make([]byte, 32) }, ""},
		{"wildcard bind", func(c *Config) { c.RaftBind = "0.0.0.0:7000"; c.RaftAdvertise = "10.0.0.1:7000" }, ""},
		{"wildcard advertise", func(c *Config) { c.GossipBind = "0.0.0.0:7946" }, "gossip advertise address \"0.0.0.0:7946\" is unspecified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			cfg.setDefaults()
			err := cfg.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate: err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.setDefaults()
	if cfg.RaftAdvertise != cfg.RaftBind || cfg.GossipAdvertise != cfg.GossipBind {
		t.Errorf("advertise addresses = %q, %q; want the bind addresses", cfg.RaftAdvertise, cfg.GossipAdvertise)
	}
	if cfg.LeaderWait != DefaultLeaderWait {
		t.Errorf("leader wait = %s, want %s", cfg.LeaderWait, DefaultLeaderWait)
	}
	if cfg.HeartbeatTimeout != DefaultHeartbeatTimeout || cfg.LeaderLeaseTimeout != DefaultLeaderLeaseTimeout {
		t.Errorf("raft timings = %s, %s", cfg.HeartbeatTimeout, cfg.LeaderLeaseTimeout)
	}
}

func TestTranslateRaftError(t *testing.T) {
	if err := translateRaftError("apply", raft.ErrRaftShutdown); err != ErrShuttingDown {
		t.Errorf("raft shutdown: err = %v, want ErrShuttingDown", err)
	}
	for _, raftErr := range []error{raft.ErrLeadershipLost, raft.ErrNotLeader, raft.ErrEnqueueTimeout} {
		err := translateRaftError("apply", raftErr)
		if !isRetryable(err) {
			t.Errorf("%v: not retryable", raftErr)
		}
		if !strings.Contains(err.Error(), "apply") {
			t.Errorf("%v: message %q lacks the operation", raftErr, err)
		}
	}
	if err := translateRaftError("apply", raft.ErrLeadershipLost); !isAmbiguous(err) {
		t.Errorf("leadership lost: %v not marked ambiguous", err)
	}
	for _, raftErr := range []error{raft.ErrNotLeader, raft.ErrEnqueueTimeout, raft.ErrLeadershipTransferInProgress} {
		if err := translateRaftError("apply", raftErr); isAmbiguous(err) {
			t.Errorf("%v: marked ambiguous, but raft rejects the entry before appending it", raftErr)
		}
	}
	if err := translateRaftError("apply", raft.ErrNothingNewToSnapshot); isRetryable(err) {
		t.Errorf("unrelated raft error marked retryable: %v", err)
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	hl := newHCLogAdapter(logger, "raft").With("peer", "node-b")

	hl.Debug("hidden")
	hl.Warn("failed to contact", "server-id", "node-c", "servers", hclog.Fmt("%d voters", 3), "dangling")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug line written at info level: %s", out)
	}
	for _, want := range []string{"level=WARN", `msg="failed to contact"`, "component=raft", "peer=node-b", "server-id=node-c", `servers="3 voters"`, "extra=dangling"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %q lacks %q", out, want)
		}
	}
}

func TestStdLogWriterLevels(t *testing.T) {
	var buf bytes.Buffer
	w := &stdLogWriter{logger: slog.New(slog.NewTextHandler(&buf, nil)), component: "memberlist"}
	w.Write([]byte("[WARN] memberlist: Was able to connect to node-b over TCP\n[ERR] memberlist: Failed fallback ping\n"))
	out := buf.String()
	for _, want := range []string{`level=WARN msg="memberlist: Was able to connect`, `level=ERROR msg="memberlist: Failed fallback ping"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func signedRequest(key []byte, path, body string, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	ts := strconv.FormatInt(at.Unix(), 10)
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, signature(deriveAuthKey(key), http.MethodPost, path, ts, []byte(body)))
	return r
}

func TestAuthenticateSignature(t *testing.T) {
	key := []byte("0123456789abcdef")
	n := &Node{authKey: deriveAuthKey(key)}
	body := `{"id":"node-b"}`

	if err := n.authenticate(signedRequest(key, pathRemoveServer, body, time.Now()), pathRemoveServer, []byte(body)); err != nil {
		t.Errorf("valid signature rejected: %v", err)
	}
	cases := map[string]*http.Request{
		"other key":      signedRequest([]byte("fedcba9876543210"), pathRemoveServer, body, time.Now()),
		"other path":     signedRequest(key, pathApply, body, time.Now()),
		"old timestamp":  signedRequest(key, pathRemoveServer, body, time.Now().Add(-10*time.Minute)),
		"no signature":   httptest.NewRequest(http.MethodPost, pathRemoveServer, strings.NewReader(body)),
		"changed header": signedRequest(key, pathRemoveServer, body, time.Now()),
	}
	cases["changed header"].Header.Set(headerTimestamp, strconv.FormatInt(time.Now().Unix()+1, 10))
	for name, r := range cases {
		if err := n.authenticate(r, pathRemoveServer, []byte(body)); err == nil {
			t.Errorf("%s: request accepted", name)
		}
	}
	if err := n.authenticate(signedRequest(key, pathRemoveServer, body, time.Now()), pathRemoveServer, []byte(`{"id":"node-c"}`)); err == nil {
		t.Error("changed body accepted")
	}
}

func TestDeriveAuthKeyDiffersFromGossipKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	derived := deriveAuthKey(key)
	if bytes.Equal(derived, key) || len(derived) != 32 {
		t.Errorf("derived key %x from %x", derived, key)
	}
	if deriveAuthKey(nil) != nil {
		t.Error("derived a key without a gossip key")
	}
}

func TestStartRejectsInvalidConfig(t *testing.T) {
	cfg := validConfig()
	cfg.NodeID = ""
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("start with an empty node id succeeded")
	}
}

func newPostNode() *Node {
	return &Node{cfg: Config{NodeID: "node-a", ApplyTimeout: time.Second}, client: &http.Client{}}
}

func TestPostClassifiesFailures(t *testing.T) {
	answer := func(status int, code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			writeError(w, status, code, "test answer")
		}
	}
	// silent reads the request and waits until the client hangs up. The
	// server notices the hang-up only once the body has been read.
	silent := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}
	cases := []struct {
		name          string
		handler       http.HandlerFunc
		wantAmbiguous bool
	}{
		{"no answer", silent, true},
		{"leadership lost", answer(http.StatusServiceUnavailable, codeLeadershipLost), true},
		{"not leader", answer(http.StatusMisdirectedRequest, codeNotLeader), false},
		{"not applied", answer(http.StatusServiceUnavailable, codeNotApplied), false},
		{"shutting down", answer(http.StatusServiceUnavailable, codeShuttingDown), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, _, err := newPostNode().post(context.Background(), srv.URL, pathApply, contentTypeEntry, []byte("entry"))
			if !isRetryable(err) {
				t.Fatalf("post: err = %v, want a retryable error", err)
			}
			if got := isAmbiguous(err); got != tc.wantAmbiguous {
				t.Errorf("post: ambiguous = %v, want %v (err = %v)", got, tc.wantAmbiguous, err)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, _, err := newPostNode().post(context.Background(), url, pathApply, contentTypeEntry, []byte("entry"))
		if !isRetryable(err) {
			t.Fatalf("post: err = %v, want a retryable error", err)
		}
		if isAmbiguous(err) {
			t.Errorf("post to a closed port: err = %v marked ambiguous, but nothing was sent", err)
		}
	})
}
