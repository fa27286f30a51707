package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"nhooyr.io/websocket"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/protocol"
	"github.com/ringhook/ringhook/raftfsm"
)

// maxMessageSize bounds one agent message. It is large because a Finished
// report carries the raw ARI events of its channel.
const maxMessageSize = 4 << 20

// claim is an attempt that an agent's current session holds: the hub sent
// it in this session, or the agent named it in Hello.InFlight.
type claim struct {
	sentAt   time.Time
	accepted bool
	// cancelSent is set once the hub sent Cancel for the attempt.
	cancelSent bool
}

// session is one agent's websocket on the leader.
type session struct {
	id        uint64
	agent     model.Agent
	hello     protocol.Hello
	conn      *websocket.Conn
	log       *slog.Logger
	startedAt time.Time
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	// Guarded by Gateway.mu.
	health   protocol.Health
	lastSeen time.Time
	claims   map[protocol.CallRef]*claim
	closed   bool
}

func (s *session) activeCallsLocked() int {
	return max(s.health.ActiveCalls, len(s.claims))
}

// send writes one message. Writes may run concurrently with the read loop.
func (s *session) send(timeout time.Duration, msgType string, payload any) error {
	data, err := protocol.Encode(msgType, payload)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("send %s to agent %s: %w", msgType, s.agent.ID, err)
	}
	return nil
}

// close ends the session with a close code and reason, once. It waits for the close handshake, so callers that must not
// block run it in a goroutine.
func (s *session) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		s.log.Info("closing agent session", "close_code", int(code), "reason", reason)
		// Close before cancelling: a cancelled read context makes the
		// library drop the connection without sending the close frame.
		_ = s.conn.Close(code, reason)
		s.cancel()
	})
}

// errUnauthorized marks authentication failures; their text goes to the agent.
var errUnauthorized = errors.New("unauthorized")

// authenticate checks an "Authorization: Bearer rha_<agent_id>_<secret>"
// header against the agent's stored secret hash.
func (g *Gateway) authenticate(r *http.Request) (model.Agent, error) {
	header := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return model.Agent{}, fmt.Errorf("%w: missing bearer token in the Authorization header; configure the agent token (rha_...)", errUnauthorized)
	}
	rest, ok := strings.CutPrefix(token, "rha_")
	if !ok {
		return model.Agent{}, fmt.Errorf("%w: the token is not an agent token; agent tokens start with rha_", errUnauthorized)
	}
	agentID, secret, ok := strings.Cut(rest, "_")
	if !ok || agentID == "" || secret == "" {
		return model.Agent{}, fmt.Errorf("%w: malformed agent token; expected rha_<agent_id>_<secret>", errUnauthorized)
	}

	agent, err := g.state.GetAgent(agentID)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return model.Agent{}, fmt.Errorf("%w: unknown agent %s; create the agent on the hub and use its token", errUnauthorized, agentID)
	}
	if err != nil {
		return model.Agent{}, fmt.Errorf("look up agent %s: %w", agentID, err)
	}
	sum := sha256.Sum256([]byte(secret))
	got := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(agent.TokenHash))) != 1 {
		return model.Agent{}, fmt.Errorf("%w: wrong secret for agent %s; use the token the hub issued for this agent", errUnauthorized, agentID)
	}
	return agent, nil
}

func (g *Gateway) serveConnect(w http.ResponseWriter, r *http.Request) {
	agent, err := g.authenticate(r)
	if err != nil {
		status := http.StatusUnauthorized
		if !errors.Is(err, errUnauthorized) {
			status = http.StatusServiceUnavailable
		}
		g.log.Warn("agent connection rejected", "remote_addr", r.RemoteAddr, "error", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ringhook-agent"`)
		http.Error(w, err.Error(), status)
		return
	}

	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		g.log.Warn("agent websocket upgrade failed", "agent_id", agent.ID, "error", err)
		return
	}
	conn.SetReadLimit(maxMessageSize)
	log := g.log.With("agent_id", agent.ID, "remote_addr", r.RemoteAddr)

	hello, err := g.readHello(r.Context(), conn, agent)
	if err != nil {
		log.Warn("agent handshake failed", "error", err)
		return
	}

	if !g.node.IsLeader() {
		_, leaderURL := g.node.Leader()
		g.redirectFollower(r.Context(), conn, leaderURL)
		log.Info("sent agent to the leader", "leader_url", leaderURL)
		return
	}

	s := g.register(agent, hello, conn, log)
	if s == nil {
		return
	}
	defer g.unregister(s)

	welcome := protocol.Welcome{
		ProtocolVersion:     protocol.Version,
		NodeID:              g.node.ID(),
		HeartbeatIntervalMS: int(g.cfg.HeartbeatInterval / time.Millisecond),
	}
	if err := s.send(g.cfg.WriteTimeout, protocol.TypeWelcome, welcome); err != nil {
		s.log.Warn("send welcome failed", "error", err)
		s.close(websocket.StatusInternalError, "could not send welcome")
		return
	}

	go g.watchHeartbeats(s)
	g.readLoop(s)
}

// readHello reads and checks the first message. On failure it has closed
// the connection with the matching code.
func (g *Gateway) readHello(ctx context.Context, conn *websocket.Conn, agent model.Agent) (protocol.Hello, error) {
	readCtx, cancel := context.WithTimeout(ctx, g.cfg.HelloTimeout)
	defer cancel()
	_, data, err := conn.Read(readCtx)
	if err != nil {
		// A read that times out has already closed the connection.
		_ = conn.Close(protocol.CloseProtocolError, "no hello received")
		return protocol.Hello{}, fmt.Errorf("read hello within %s: %w", g.cfg.HelloTimeout, err)
	}

	var hello protocol.Hello
	env, err := protocol.Decode(data)
	if err == nil && env.Type != protocol.TypeHello {
		err = fmt.Errorf("first message is %q, expected %q", env.Type, protocol.TypeHello)
	}
	if err == nil {
		err = protocol.DecodePayload(env, &hello)
	}
	if err != nil {
		g.reject(ctx, conn, protocol.CloseProtocolError, protocol.CodeBadMessage, err.Error())
		return protocol.Hello{}, err
	}

	if hello.AgentID != agent.ID {
		msg := fmt.Sprintf("hello names agent %q but the token belongs to agent %q", hello.AgentID, agent.ID)
		g.reject(ctx, conn, protocol.CloseUnauthorized, protocol.CodeUnauthorized, msg)
		return protocol.Hello{}, errors.New(msg)
	}

	if code, msg := checkVersion(hello.ProtocolVersion); code != "" {
		g.reject(ctx, conn, protocol.CloseIncompatibleVersion, code, msg)
		return protocol.Hello{}, fmt.Errorf("incompatible protocol version %d: %s", hello.ProtocolVersion, msg)
	}
	return hello, nil
}

// checkVersion returns an error code and a message that names the side to
// upgrade, or empty strings when the version is accepted.
func checkVersion(v int) (code, msg string) {
	switch {
	case v < protocol.MinVersion:
		return protocol.CodeVersionTooOld, fmt.Sprintf(
			"agent protocol version %d is too old: this hub accepts %d to %d; upgrade the agent",
			v, protocol.MinVersion, protocol.Version)
	case v > protocol.Version:
		return protocol.CodeVersionTooNew, fmt.Sprintf(
			"agent protocol version %d is too new: this hub accepts %d to %d; upgrade the hub",
			v, protocol.MinVersion, protocol.Version)
	}
	return "", ""
}

// reject sends Error and closes. A close reason is at most 123 bytes, so
// the full text goes in the Error message.
func (g *Gateway) reject(ctx context.Context, conn *websocket.Conn, closeCode websocket.StatusCode, code, msg string) {
	if data, err := protocol.Encode(protocol.TypeError, protocol.Error{Code: code, Message: msg}); err == nil {
		wctx, cancel := context.WithTimeout(ctx, g.cfg.WriteTimeout)
		_ = conn.Write(wctx, websocket.MessageText, data)
		cancel()
	}
	_ = conn.Close(closeCode, closeReason(msg))
}

func (g *Gateway) redirectFollower(ctx context.Context, conn *websocket.Conn, leaderURL string) {
	if data, err := protocol.Encode(protocol.TypeNotLeader, protocol.NotLeader{LeaderURL: leaderURL}); err == nil {
		wctx, cancel := context.WithTimeout(ctx, g.cfg.WriteTimeout)
		_ = conn.Write(wctx, websocket.MessageText, data)
		cancel()
	}
	reason := "this hub node is a follower; no leader known, retry the other hubs"
	if leaderURL != "" {
		reason = "this hub node is a follower; connect to the leader " + leaderURL
	}
	_ = conn.Close(protocol.CloseNotLeader, closeReason(reason))
}

// closeReason cuts a reason to the 123 bytes a close frame can carry.
func closeReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// register makes s the agent's session, replacing an older one, and takes
// the attempts named in Hello.InFlight as claims.
func (g *Gateway) register(agent model.Agent, hello protocol.Hello, conn *websocket.Conn, log *slog.Logger) *session {
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		agent:     agent,
		hello:     hello,
		conn:      conn,
		startedAt: now,
		ctx:       ctx,
		cancel:    cancel,
		health:    hello.Health,
		lastSeen:  now,
		claims:    make(map[protocol.CallRef]*claim),
	}
	for _, f := range hello.InFlight {
		s.claims[f.CallRef] = &claim{sentAt: now, accepted: true}
	}

	g.mu.Lock()
	if g.shuttingDown {
		g.mu.Unlock()
		cancel()
		_ = conn.Close(protocol.CloseShuttingDown, "hub node is shutting down; reconnect to another hub")
		return nil
	}
	g.nextSession++
	s.id = g.nextSession
	s.log = log.With("session", s.id)
	old := g.sessions[agent.ID]
	g.sessions[agent.ID] = s
	if old != nil {
		old.closed = true
	}
	g.mu.Unlock()

	if old != nil {
		go old.close(protocol.CloseReplaced, "a newer session of this agent connected")
	}
	s.log.Info("agent session started",
		"protocol_version", hello.ProtocolVersion,
		"software_version", hello.SoftwareVersion,
		"ari_application", hello.Application,
		"in_flight", len(hello.InFlight),
		"ari_reachable", hello.Health.ARIReachable,
		"ari_websocket_up", hello.Health.ARIWebsocketUp)
	for _, f := range hello.InFlight {
		s.log.Info("agent claims attempt in flight", "call_id", f.CallID, "attempt", f.Attempt, "progress", f.Progress)
	}
	g.poke()
	return s
}

// unregister drops s if it is still the agent's session. Its claims go
// with it: the dispatcher then treats those attempts as unclaimed.
func (g *Gateway) unregister(s *session) {
	g.mu.Lock()
	s.closed = true
	if g.sessions[s.agent.ID] == s {
		delete(g.sessions, s.agent.ID)
	}
	claims := len(s.claims)
	g.mu.Unlock()

	s.close(websocket.StatusNormalClosure, "session ended")
	s.log.Info("agent session stopped", "attempts_held", claims, "duration", time.Since(s.startedAt).Round(time.Millisecond).String())
	g.poke()
}

// watchHeartbeats pings the agent every interval and closes the session
// when no message arrived for HeartbeatMisses intervals.
func (g *Gateway) watchHeartbeats(s *session) {
	interval := g.cfg.HeartbeatInterval
	limit := interval * time.Duration(g.cfg.HeartbeatMisses)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		g.mu.Lock()
		silent := time.Since(s.lastSeen)
		g.mu.Unlock()
		if silent > limit {
			s.close(protocol.CloseHeartbeatTimeout, fmt.Sprintf(
				"no heartbeat for %s (limit %d intervals of %s)", silent.Round(time.Millisecond), g.cfg.HeartbeatMisses, interval))
			return
		}
		pctx, cancel := context.WithTimeout(s.ctx, interval)
		if err := s.conn.Ping(pctx); err != nil && s.ctx.Err() == nil {
			s.log.Debug("agent ping failed", "error", err)
		}
		cancel()
	}
}

// closeDeletedSessions closes the sessions of agents that no longer exist
// in the replicated state. Deleting an agent does not signal Changed, so
// every dispatcher pass runs this check.
func (g *Gateway) closeDeletedSessions() {
	// Sessions are listed before the agents: each listed session
	// authenticated against an agent that existed before ListAgents read,
	// so an agent missing from the list was deleted since.
	g.mu.Lock()
	ids := make([]string, 0, len(g.sessions))
	for id, s := range g.sessions {
		if !s.closed {
			ids = append(ids, id)
		}
	}
	g.mu.Unlock()
	if len(ids) == 0 {
		return
	}

	agents, err := g.state.ListAgents()
	if err != nil {
		g.log.Error("list agents to find deleted ones failed", "error", err)
		return
	}
	exists := make(map[string]bool, len(agents))
	for _, a := range agents {
		exists[a.ID] = true
	}
	for _, id := range ids {
		if !exists[id] {
			g.closeDeletedSession(id)
		}
	}
}

// agentDeleted reports whether the replicated state no longer holds the agent.
func (g *Gateway) agentDeleted(agentID string) bool {
	_, err := g.state.GetAgent(agentID)
	return errors.Is(err, raftfsm.ErrNotFound)
}

// closeDeletedSession marks the session of a deleted agent closed at once,
// so that no dispatch picks it, and closes it with CloseUnauthorized. The
// agent's token no longer authenticates, so the agent cannot reconnect.
func (g *Gateway) closeDeletedSession(agentID string) {
	g.mu.Lock()
	s := g.sessions[agentID]
	if s == nil || s.closed {
		g.mu.Unlock()
		return
	}
	s.closed = true
	g.mu.Unlock()

	s.log.Warn("closing the session of a deleted agent")
	g.poke()
	go s.close(protocol.CloseUnauthorized, closeReason(
		"agent "+agentID+" was deleted on the hub; create the agent again and configure its new token"))
}

// closeAll ends every session, for a lost leadership or a shutdown.
func (g *Gateway) closeAll(code websocket.StatusCode, reason string, notLeader bool) {
	g.mu.Lock()
	sessions := make([]*session, 0, len(g.sessions))
	for _, s := range g.sessions {
		s.closed = true
		sessions = append(sessions, s)
	}
	g.mu.Unlock()

	leaderURL := ""
	if notLeader {
		_, leaderURL = g.node.Leader()
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if notLeader {
				_ = s.send(g.cfg.WriteTimeout, protocol.TypeNotLeader, protocol.NotLeader{LeaderURL: leaderURL})
			}
			s.close(code, reason)
		}()
	}
	wg.Wait()
}
