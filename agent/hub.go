package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/ringhook/ringhook/protocol"
	"nhooyr.io/websocket"
)

// ConnectPath is the hub's agent websocket path.
const ConnectPath = "/api/agent/v1/connect"

// incompatibleRetry is the wait after the hub refused this agent's protocol
// version: an operator must upgrade one side, so retrying fast is noise.
const incompatibleRetry = 5 * time.Minute

// session is one welcomed websocket to the leader.
type session struct {
	conn *websocket.Conn
	ctx  context.Context
}

func (s *session) send(data []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, data)
}

func (s *session) sendMsg(msgType string, payload any) error {
	data, err := protocol.Encode(msgType, payload)
	if err != nil {
		return err
	}
	return s.send(data)
}

// sessionResult describes how a session ended.
type sessionResult struct {
	welcomed  bool
	leaderURL string // set after NotLeader with a known leader
	closeCode websocket.StatusCode
	err       error
}

// runHub keeps a session to the leader until ctx ends: it follows
// NotLeader, tries the configured hubs in turn, and backs off with jitter.
func (a *Agent) runHub(ctx context.Context) {
	next := 0
	leader := ""
	backoff := a.cfg.ReconnectMin
	for ctx.Err() == nil {
		target := leader
		if target == "" {
			target = a.cfg.HubURLs[next%len(a.cfg.HubURLs)]
			next++
		}
		leader = ""

		res := a.runSession(ctx, target)
		if ctx.Err() != nil {
			return
		}
		// A session that another process's session replaced does not reset
		// the backoff: two agents with one token would otherwise take the
		// session from each other about once a second, forever.
		if res.welcomed && res.closeCode != protocol.CloseReplaced {
			backoff = a.cfg.ReconnectMin
		}
		if res.leaderURL != "" && res.leaderURL != target {
			a.logger.Info("following the hub leader", "hub", target, "leader", res.leaderURL)
			leader = res.leaderURL
			continue
		}

		wait := backoff
		if res.closeCode == protocol.CloseIncompatibleVersion {
			wait = incompatibleRetry
		}
		// Full jitter on the upper half keeps agents from reconnecting in step.
		wait = wait/2 + rand.N(wait/2+1)
		backoff = min(2*backoff, a.cfg.ReconnectMax)

		switch res.closeCode {
		case protocol.CloseIncompatibleVersion:
			a.logger.Error("the hub rejected this agent's protocol version; upgrade the agent or the hub", "hub", target, "protocol_version", protocol.Version, "error", res.err, "retry_in", wait.String())
		case protocol.CloseUnauthorized:
			a.logger.Error("the hub rejected the agent token; check the token or create a new one", "hub", target, "error", res.err, "retry_in", wait.String())
		case protocol.CloseReplaced:
			a.logger.Warn("another process uses this agent's token and took over the hub session; give each agent its own token",
				"hub", target, "error", res.err, "retry_in", wait.String())
		default:
			a.logger.Warn("hub connection ended; reconnecting", "hub", target, "error", res.err, "retry_in", wait.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func connectURL(base string) string {
	base = strings.TrimSuffix(base, "/")
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + ConnectPath
}

func (a *Agent) runSession(ctx context.Context, hubURL string) sessionResult {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, connectURL(hubURL), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + a.cfg.Token}},
	})
	cancel()
	if err != nil {
		return sessionResult{err: fmt.Errorf("connect to hub %s: %w", hubURL, err)}
	}
	conn.SetReadLimit(1 << 20)
	defer conn.CloseNow()

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	s := &session{conn: conn, ctx: sctx}

	hello := protocol.Hello{
		ProtocolVersion: protocol.Version,
		AgentID:         a.agentID,
		Application:     a.cfg.Application,
		Health:          a.Health(),
		InFlight:        a.inFlight(),
	}
	if err := s.sendMsg(protocol.TypeHello, hello); err != nil {
		return closed(fmt.Errorf("send hello to %s: %w", hubURL, err))
	}

	env, res, ok := a.readWelcome(sctx, conn, hubURL)
	if !ok {
		return res
	}
	switch env.Type {
	case protocol.TypeWelcome:
	case protocol.TypeNotLeader:
		var nl protocol.NotLeader
		_ = protocol.DecodePayload(env, &nl)
		conn.Close(websocket.StatusNormalClosure, "following the leader")
		return sessionResult{leaderURL: nl.LeaderURL, err: fmt.Errorf("hub %s is not the leader", hubURL)}
	default:
		return closed(fmt.Errorf("hub %s sent %q instead of welcome", hubURL, env.Type))
	}
	var welcome protocol.Welcome
	if err := protocol.DecodePayload(env, &welcome); err != nil {
		return closed(err)
	}
	a.logger.Info("connected to the hub leader", "hub", hubURL, "node_id", welcome.NodeID)

	a.mu.Lock()
	a.session = s
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.session == s {
			a.session = nil
		}
		a.mu.Unlock()
	}()

	// Reports the hub may not have stored yet go out again; the hub treats
	// one it already applied as a duplicate.
	for _, r := range a.outbox.pending() {
		data, err := protocol.Encode(r.Type, r.Payload)
		if err == nil {
			err = s.send(data)
		}
		if err != nil {
			return sessionResult{welcomed: true, err: fmt.Errorf("resend report %s: %w", r.ID, err)}
		}
	}

	go a.heartbeat(sctx, s, welcome.HeartbeatInterval())

	res = a.readLoop(sctx, s)
	res.welcomed = true
	return res
}

// readWelcome reads the hub's answer to Hello: Welcome or NotLeader. A hub
// that rejects the agent first sends an Error with the full text, then
// closes with a code that says why (the close reason is cut at 123 bytes).
// readWelcome then returns false and a result carrying both.
func (a *Agent) readWelcome(ctx context.Context, conn *websocket.Conn, hubURL string) (protocol.Envelope, sessionResult, bool) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var rejection *protocol.Error
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if rejection != nil {
				err = fmt.Errorf("hub %s rejected the agent (%s: %s): %w", hubURL, rejection.Code, rejection.Message, err)
			} else {
				err = fmt.Errorf("wait for welcome from %s: %w", hubURL, err)
			}
			return protocol.Envelope{}, closed(err), false
		}
		env, err := protocol.Decode(data)
		if err != nil {
			return protocol.Envelope{}, closed(fmt.Errorf("decode the answer of hub %s to hello: %w", hubURL, err)), false
		}
		if env.Type != protocol.TypeError || rejection != nil {
			return env, sessionResult{}, true
		}
		rejection = &protocol.Error{}
		_ = protocol.DecodePayload(env, rejection)
	}
}

func closed(err error) sessionResult {
	return sessionResult{err: err, closeCode: websocket.CloseStatus(err)}
}

func (a *Agent) heartbeat(ctx context.Context, s *session, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.sendMsg(protocol.TypeHeartbeat, protocol.Heartbeat{Health: a.Health()}); err != nil {
				a.logger.Warn("sending a heartbeat failed", "error", err)
				s.conn.CloseNow()
				return
			}
		}
	}
}

func (a *Agent) readLoop(ctx context.Context, s *session) sessionResult {
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			return closed(err)
		}
		env, err := protocol.Decode(data)
		if err != nil {
			a.logger.Warn("undecodable hub message", "error", err)
			_ = s.sendMsg(protocol.TypeError, protocol.Error{Code: protocol.CodeBadMessage, Message: err.Error()})
			continue
		}
		switch env.Type {
		case protocol.TypeAssign:
			var m protocol.Assign
			if err := protocol.DecodePayload(env, &m); err != nil {
				_ = s.sendMsg(protocol.TypeError, protocol.Error{Code: protocol.CodeBadMessage, Message: err.Error()})
				continue
			}
			a.handleAssign(ctx, s, m)
		case protocol.TypeCancel:
			var m protocol.Cancel
			if err := protocol.DecodePayload(env, &m); err == nil {
				a.handleCancel(m)
			}
		case protocol.TypeAck:
			var m protocol.Ack
			if err := protocol.DecodePayload(env, &m); err == nil {
				if _, err := a.outbox.ack(m.ReportID); err != nil {
					a.logger.Error("updating the state file after an ack failed", "report_id", m.ReportID, "error", err)
				}
			}
		case protocol.TypeNotLeader:
			var nl protocol.NotLeader
			_ = protocol.DecodePayload(env, &nl)
			return sessionResult{leaderURL: nl.LeaderURL, err: errors.New("the hub is no longer the leader")}
		case protocol.TypeError:
			var m protocol.Error
			_ = protocol.DecodePayload(env, &m)
			a.logger.Warn("hub reported an error", "code", m.Code, "message", m.Message)
		case protocol.TypeWelcome:
		default:
			_ = s.sendMsg(protocol.TypeError, protocol.Error{Code: protocol.CodeUnknownType, Message: "unknown message type " + env.Type})
		}
	}
}
