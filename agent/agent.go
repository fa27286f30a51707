package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	"github.com/ringhook/ringhook/agent/ari"
	"github.com/ringhook/ringhook/protocol"
)

// PBX is what the agent needs from its Asterisk; *ari.Driver implements it.
type PBX interface {
	Run(ctx context.Context) error
	Health() ari.Health
	Reconnected() <-chan struct{}
	Originate(ctx context.Context, req ari.OriginateRequest) (*ari.Call, error)
	Follow(channelID string) (*ari.Call, error)
	Hangup(ctx context.Context, channelID string) error
	ChannelExists(ctx context.Context, channelID string) (bool, error)
}

// Agent is one running edge agent.
type Agent struct {
	cfg     Config
	agentID string
	logger  *slog.Logger
	pbx     PBX
	outbox  *outbox

	mu       sync.Mutex
	attempts map[string]*attempt // by channel id
	session  *session            // nil while not connected to the leader
}

// New checks cfg and builds an agent with an ARI driver for its PBX.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	agentID, _ := AgentIDFromToken(cfg.Token)
	logger := cfg.Logger.With("agent_id", agentID)

	driver, err := ari.New(ari.Config{
		URL:          cfg.ARIURL,
		Username:     cfg.ARIUser,
		Password:     cfg.ARIPassword,
		Application:  cfg.Application,
		Logger:       logger,
		PingInterval: cfg.ARIPingInterval,
	})
	if err != nil {
		return nil, err
	}
	box, err := openOutbox(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	return &Agent{
		cfg:      cfg,
		agentID:  agentID,
		logger:   logger,
		pbx:      driver,
		outbox:   box,
		attempts: map[string]*attempt{},
	}, nil
}

// ID returns the agent id from the token.
func (a *Agent) ID() string { return a.agentID }

// Run connects to the PBX and the hub and serves assignments until ctx
// ends.
func (a *Agent) Run(ctx context.Context) error {
	a.logger.Info("agent starting",
		"hubs", redactURLs(a.cfg.HubURLs),
		"ari_url", redactURL(a.cfg.ARIURL),
		"application", a.cfg.Application,
		"pending_reports", len(a.outbox.pending()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := a.pbx.Run(ctx); err != nil {
			a.logger.Error("ARI driver stopped", "error", err)
		}
	}()
	go func() {
		defer wg.Done()
		a.reconcileOnReconnect(ctx)
	}()
	a.runHub(ctx)
	cancel()
	wg.Wait()
	a.logger.Info("agent stopped")
	return nil
}

// Health returns the agent's health as it reports it to the hub.
func (a *Agent) Health() protocol.Health {
	h := a.pbx.Health()
	a.mu.Lock()
	active := len(a.attempts)
	a.mu.Unlock()
	return protocol.Health{
		ARIReachable:   h.Reachable,
		ARIWebsocketUp: h.WebsocketUp,
		ActiveCalls:    active,
		MaxCalls:       a.cfg.MaxCalls,
		Detail:         h.Detail,
	}
}

func (a *Agent) inFlight() []protocol.InFlight {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]protocol.InFlight, 0, len(a.attempts))
	for _, at := range a.attempts {
		out = append(out, protocol.InFlight{CallRef: at.ref, ChannelID: at.channelID, Progress: at.progressValue()})
	}
	return out
}

// enqueue stores a report and sends it when a session is up.
func (a *Agent) enqueue(msgType, id string, payload any) {
	raw, err := protocol.Encode(msgType, payload)
	if err != nil {
		a.logger.Error("encode report failed", "error", err)
		return
	}
	env, _ := protocol.Decode(raw)
	if err := a.outbox.add(report{ID: id, Type: msgType, Payload: env.Payload}); err != nil {
		a.logger.Error("storing a report in the state file failed; it is kept in memory", "report_id", id, "error", err)
	}
	a.mu.Lock()
	s := a.session
	a.mu.Unlock()
	if s != nil {
		if err := s.send(raw); err != nil {
			a.logger.Warn("sending a report failed; it is resent after reconnecting", "report_id", id, "error", err)
		}
	}
}

// redactURL hides a password inside a URL's user information.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

func redactURLs(raw []string) []string {
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i] = redactURL(r)
	}
	return out
}

func reportID(channelID, kind string) string {
	return fmt.Sprintf("%s/%s", channelID, kind)
}
