package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

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
	// draining is set when Run's context ends: from then on the agent
	// takes no new assignments.
	draining bool

	// calls counts the attempt goroutines. Add is called under mu only
	// while draining is false, so it never races with the Wait of drain.
	calls sync.WaitGroup
	// abort is closed by Abort: every attempt still in progress hangs up
	// its channel.
	abort     chan struct{}
	abortOnce sync.Once
}

// ackWait bounds how long a stopping agent waits for the hub to acknowledge
// its last reports. Reports still unacknowledged stay in the state file.
const ackWait = 5 * time.Second

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
		abort:    make(chan struct{}),
	}, nil
}

// ID returns the agent id from the token.
func (a *Agent) ID() string { return a.agentID }

// Run connects to the PBX and the hub and serves assignments until ctx
// ends. It then drains: it rejects new assignments, lets the calls in
// progress end and reports them, and returns when they have ended, or after
// DrainTimeout or Abort, once it has hung up the calls still in progress.
// The ARI and hub connections stay up until then.
func (a *Agent) Run(ctx context.Context) error {
	a.logger.Info("agent starting",
		"hubs", redactURLs(a.cfg.HubURLs),
		"ari_url", redactURL(a.cfg.ARIURL),
		"application", a.cfg.Application,
		"pending_reports", len(a.outbox.pending()))
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()

	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := a.pbx.Run(runCtx); err != nil {
			a.logger.Error("ARI driver stopped", "error", err)
		}
	}()
	go func() {
		defer wg.Done()
		a.reconcileOnReconnect(runCtx)
	}()
	go func() {
		defer wg.Done()
		a.runHub(runCtx)
	}()
	<-ctx.Done()
	a.drain()
	stopRun()
	wg.Wait()
	a.logger.Info("agent stopped", "pending_reports", len(a.outbox.pending()))
	return nil
}

// Abort ends a drain at once: every call still in progress is hung up and
// reported as failed and retryable. It is meant for after Run's context
// ended. Called earlier, it also makes the agent reject new assignments.
// Calling it again does nothing.
func (a *Agent) Abort() {
	a.abortOnce.Do(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.draining = true
		for _, at := range a.attempts {
			at.stopBeforeDial()
		}
		close(a.abort)
	})
}

// drain waits until the calls in progress have ended, hanging up those
// left after DrainTimeout or Abort, then gives the hub up to ackWait to
// acknowledge the reports.
func (a *Agent) drain() {
	a.mu.Lock()
	a.draining = true
	n := len(a.attempts)
	a.mu.Unlock()
	a.logger.Info("agent stopping; calls in progress run to their end", "calls", n, "drain_timeout", a.cfg.DrainTimeout.String())
	a.sendHealth()

	idle := make(chan struct{})
	go func() {
		a.calls.Wait()
		close(idle)
	}()
	timer := time.NewTimer(a.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
		a.logger.Warn("drain timeout passed; hanging up the calls still in progress", "calls", a.Health().ActiveCalls)
		a.Abort()
		<-idle
	case <-a.abort:
		a.logger.Warn("stop requested again; hanging up the calls still in progress", "calls", a.Health().ActiveCalls)
		<-idle
	}

	deadline := time.Now().Add(ackWait)
	for len(a.outbox.pending()) > 0 && a.connected() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *Agent) connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session != nil
}

// sendHealth sends a heartbeat at once, so that the hub learns of a change
// before the next regular one.
func (a *Agent) sendHealth() {
	a.mu.Lock()
	s := a.session
	a.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.sendMsg(protocol.TypeHeartbeat, protocol.Heartbeat{Health: a.Health()}); err != nil {
		a.logger.Warn("sending a heartbeat failed", "error", err)
	}
}

// Health returns the agent's health as it reports it to the hub.
func (a *Agent) Health() protocol.Health {
	h := a.pbx.Health()
	a.mu.Lock()
	active := len(a.attempts)
	draining := a.draining
	a.mu.Unlock()
	health := protocol.Health{
		ARIReachable:   h.Reachable,
		ARIWebsocketUp: h.WebsocketUp,
		ActiveCalls:    active,
		MaxCalls:       a.cfg.MaxCalls,
		Detail:         h.Detail,
	}
	if draining {
		// ARIWebsocketUp false makes hubs that do not read ShuttingDown
		// choose other agents too.
		health.ShuttingDown = true
		health.ARIWebsocketUp = false
		health.Detail = fmt.Sprintf("the agent is shutting down: it takes no new calls and ends its %d calls in progress", active)
	}
	return health
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
