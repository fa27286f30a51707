// Package ari drives an Asterisk PBX over ARI for the agent: it originates
// calls into the agent's own Stasis application, follows their events,
// hangs them up and reports the PBX's health.
//
// It uses github.com/CyCoreSystems/ari/v5 v5.3.1 and guards against that
// version's defects (a Connect that can block forever, no HTTP timeouts, a
// crash on unknown event types, silent reconnects, a one-shot Exec, leaking
// subscriptions, no context). The guards are described in the agent's
// DESIGN.md; most of them rest on a relay between the library and Asterisk.
package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// Errors returned by Originate.
var (
	// ErrWebsocketDown means the ARI event websocket is not connected, so an
	// originated call could not be followed and would be dropped on answer.
	ErrWebsocketDown = errors.New("the ARI event websocket is down")
	// ErrChannelExists means a channel with the requested id is already
	// known to the agent or to Asterisk (HTTP 409), so it was not dialed again.
	ErrChannelExists = errors.New("a channel with this id already exists")
)

// eventTypes are the only events the agent asks Asterisk for.
var eventTypes = []string{
	ariv5.Events.Dial,
	ariv5.Events.ChannelStateChange,
	ariv5.Events.StasisStart,
	ariv5.Events.StasisEnd,
	ariv5.Events.ChannelHangupRequest,
	ariv5.Events.ChannelDestroyed,
}

// Config configures a Driver.
type Config struct {
	// URL is Asterisk's HTTP base, e.g. http://127.0.0.1:8088 (a trailing
	// /ari is accepted).
	URL         string
	Username    string
	Password    string
	Application string
	Logger      *slog.Logger
	// ConnectTimeout bounds the library's Connect (default 10 s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds each REST request to Asterisk (default 5 s).
	RequestTimeout time.Duration
	// PingInterval is how often Asterisk is pinged over HTTP and over the
	// event websocket (default 5 s).
	PingInterval time.Duration
}

// Health is the driver's view of the PBX.
type Health struct {
	Reachable   bool
	WebsocketUp bool
	Detail      string
}

// OriginateRequest describes one outbound call.
type OriginateRequest struct {
	ChannelID string
	Endpoint  string
	CallerID  string
	// Timeout is the ring timeout; Asterisk counts it in whole seconds.
	Timeout time.Duration
	AppArgs string
}

// OriginateError is a failed POST /ari/channels.
type OriginateError struct {
	Answer OriginateAnswer
	Err    error
}

func (e *OriginateError) Error() string {
	if e.Answer.Status == 0 {
		return fmt.Sprintf("originate failed: %v", e.Err)
	}
	return fmt.Sprintf("originate failed with HTTP %d %s: %v", e.Answer.Status, string(e.Answer.Body), e.Err)
}

func (e *OriginateError) Unwrap() error {
	if e.Answer.Status == http.StatusConflict {
		return ErrChannelExists
	}
	return e.Err
}

// staleDialWait bounds the wait for the library's redial on shutdown; the
// library redials 10 ms after a read error and then once a second.
const staleDialWait = 5 * time.Second

// Driver is one ARI connection.
type Driver struct {
	cfg    Config
	base   string
	http   *http.Client
	relay  *relay
	logger *slog.Logger

	reconnected chan struct{}
	// workers counts goroutines that hold library subscriptions; the
	// library's bus must not be closed while they may still cancel them.
	workers sync.WaitGroup

	mu        sync.Mutex
	client    ariv5.Client // nil until Connect returned
	reachable bool
	wsUp      bool
	detail    string
	calls     map[string]*Call
	everUp    bool
}

// New checks the configuration and builds a Driver; Run connects it.
func New(cfg Config) (*Driver, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("ARI user and password are required")
	}
	if cfg.Application == "" {
		return nil, errors.New("ARI application name is required")
	}

	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		// Asterisk closes idle HTTP connections after 15 s (session_keep_alive);
		// a POST on a connection it just closed fails and is not replayed.
		IdleConnTimeout:     10 * time.Second,
		MaxIdleConnsPerHost: 8,
	}
	d := &Driver{
		cfg:         cfg,
		base:        base,
		http:        &http.Client{Transport: transport, Timeout: 2 * cfg.RequestTimeout},
		logger:      cfg.Logger,
		reconnected: make(chan struct{}, 1),
		calls:       map[string]*Call{},
	}
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	// The websocket lives as long as it works, so it gets a client without
	// an overall timeout.
	wsClient := &http.Client{Transport: transport}
	d.relay = &relay{
		upstream: base,
		wsURL:    wsBase + "/ari/events",
		client:   wsClient,
		logger:   cfg.Logger,
		onEvent:  d.recordEvent,
		onUp:     d.websocketUp,
		onDown:   d.websocketDown,
		pingIval: cfg.PingInterval,
	}
	return d, nil
}

func baseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid ARI URL %q: use http(s)://host:port, e.g. http://127.0.0.1:8088", raw)
	}
	path := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/ari")
	return u.Scheme + "://" + u.Host + path, nil
}

// Application returns the ARI application name.
func (d *Driver) Application() string { return d.cfg.Application }

// Health returns the current view of the PBX.
func (d *Driver) Health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	// The websocket counts as up only once Connect returned, because
	// Originate needs the library's client.
	return Health{Reachable: d.reachable, WebsocketUp: d.wsUp && d.client != nil, Detail: d.detail}
}

// Reconnected receives (coalesced) after the event websocket came back up
// following a drop. Events of the gap are lost: the caller reconciles its
// calls with ChannelExists.
func (d *Driver) Reconnected() <-chan struct{} { return d.reconnected }

// Run connects to Asterisk and keeps checking it until ctx ends, then
// closes the connection.
func (d *Driver) Run(ctx context.Context) error {
	if err := startRelay(d.relay); err != nil {
		return err
	}
	defer d.shutdown()

	backoff := time.Second
	for ctx.Err() == nil {
		err := d.Ping(ctx)
		d.setReachable(err)
		if err == nil && d.currentClient() == nil {
			err = d.connect(ctx)
			if err != nil {
				d.setDetail(err.Error())
				d.logger.Error("ARI connect failed; retrying", "error", err, "retry_in", backoff.String())
			}
		}
		wait := d.cfg.PingInterval
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, 30*time.Second)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

func (d *Driver) shutdown() {
	d.mu.Lock()
	cl := d.client
	d.client = nil
	calls := make([]*Call, 0, len(d.calls))
	for _, c := range d.calls {
		calls = append(calls, c)
	}
	d.mu.Unlock()
	for _, c := range calls {
		c.Close()
	}
	if cl != nil {
		d.retireClient()
	}
	// The library's bus is not safe against a Close that races a
	// subscription's Cancel, so every subscriber stops first.
	d.workers.Wait()
	if cl != nil {
		cl.Close()
	}
	d.relay.close()
}

// retireClient makes the library's reconnect loop drop its websocket and
// wait for the next redial at the relay before the client is closed.
// Client.Close in v5.3.1 writes an unguarded flag that the reconnect loop
// writes when its websocket ends. Once that loop has redialed and got 410,
// it only sleeps and redials, so Close no longer races with it. The redial
// also orders the loop's earlier writes before Close for the race
// detector, which treats socket I/O as synchronization.
func (d *Driver) retireClient() {
	select {
	case <-d.relay.staleDial:
	default:
	}
	d.relay.newSession()
	select {
	case <-d.relay.staleDial:
	case <-time.After(staleDialWait):
		d.logger.Warn("the ARI library did not redial after its session was retired; closing it anyway")
	}
}

// connect runs the library's Connect, which can block for ever, in a
// goroutine with a deadline. On the deadline the goroutine is abandoned:
// its session is retired at the relay, which answers its retries with 410.
func (d *Driver) connect(ctx context.Context) error {
	restURL, wsURL := d.relay.newSession()
	type result struct {
		client ariv5.Client
		err    error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := native.Connect(&native.Options{
			Application:  d.cfg.Application,
			URL:          restURL,
			WebsocketURL: wsURL,
			Username:     d.cfg.Username,
			Password:     d.cfg.Password,
			SubscribeAll: false,
		})
		done <- result{cl, err}
	}()

	timer := time.NewTimer(d.cfg.ConnectTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		d.relay.newSession()
		return fmt.Errorf("ARI connect to %s did not finish within %s: check that the ARI user may open the event websocket", d.base, d.cfg.ConnectTimeout)
	case <-ctx.Done():
		d.relay.newSession()
		return ctx.Err()
	}
	if r.err != nil {
		d.relay.newSession()
		return fmt.Errorf("ARI connect to %s: %w", d.base, r.err)
	}

	if err := d.putEventFilter(ctx); err != nil {
		d.logger.Warn("setting the ARI event filter failed", "error", err)
	}
	d.mu.Lock()
	d.client = r.client
	d.mu.Unlock()
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		d.hangupStrays(ctx, r.client)
	}()
	d.logger.Info("ARI connected", "application", d.cfg.Application)
	return nil
}

// hangupStrays hangs up channels that enter the application but belong to
// no tracked call, such as the new leg of a followed 3xx redirect or a call
// of a previous agent process.
func (d *Driver) hangupStrays(ctx context.Context, cl ariv5.Client) {
	sub := cl.Bus().Subscribe(nil, ariv5.Events.StasisStart)
	defer sub.Cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Events():
			if !ok {
				return
			}
			ss, isStart := e.(*ariv5.StasisStart)
			if !isStart {
				continue
			}
			d.mu.Lock()
			_, tracked := d.calls[ss.Channel.ID]
			d.mu.Unlock()
			if tracked {
				continue
			}
			d.logger.Warn("hanging up a channel that no call of this agent owns", "channel_id", ss.Channel.ID)
			hctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
			_ = d.Hangup(hctx, ss.Channel.ID)
			cancel()
		}
	}
}

func (d *Driver) currentClient() ariv5.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.client
}

func (d *Driver) setReachable(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reachable = err == nil
	if err != nil {
		d.detail = err.Error()
	} else if d.wsUp {
		d.detail = ""
	}
}

func (d *Driver) setDetail(detail string) {
	d.mu.Lock()
	d.detail = detail
	d.mu.Unlock()
}

func (d *Driver) websocketUp() {
	d.mu.Lock()
	d.wsUp = true
	again := d.everUp
	d.everUp = true
	d.detail = ""
	d.mu.Unlock()
	if !again {
		return
	}
	d.logger.Info("ARI event websocket reconnected")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.RequestTimeout)
		defer cancel()
		// The filter lives on the application object, which Asterisk may
		// have destroyed while no websocket was connected.
		if err := d.putEventFilter(ctx); err != nil {
			d.logger.Warn("setting the ARI event filter after a reconnect failed", "error", err)
		}
		select {
		case d.reconnected <- struct{}{}:
		default:
		}
	}()
}

func (d *Driver) websocketDown(reason string) {
	d.mu.Lock()
	d.wsUp = false
	d.detail = "ARI event websocket down: " + reason
	d.mu.Unlock()
	d.logger.Warn("ARI event websocket down", "reason", reason)
}

func (d *Driver) recordEvent(channelID string, raw []byte) {
	d.mu.Lock()
	c := d.calls[channelID]
	d.mu.Unlock()
	if c != nil {
		c.record(raw)
	}
}

// Ping checks that Asterisk answers GET /ari/asterisk/ping with these
// credentials.
func (d *Driver) Ping(ctx context.Context) error {
	status, body, err := d.do(ctx, http.MethodGet, "/asterisk/ping", nil)
	if err != nil {
		return fmt.Errorf("ARI ping %s: %w", d.base, err)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("ARI at %s rejected user %q (HTTP %d): check the ARI user and password", d.base, d.cfg.Username, status)
	case status != http.StatusOK:
		return fmt.Errorf("ARI ping %s: HTTP %d %s", d.base, status, truncate(body))
	}
	return nil
}

func (d *Driver) putEventFilter(ctx context.Context) error {
	allowed := make([]map[string]string, 0, len(eventTypes))
	for _, t := range eventTypes {
		allowed = append(allowed, map[string]string{"type": t})
	}
	body, _ := json.Marshal(map[string]any{"allowed": allowed})
	status, resp, err := d.do(ctx, http.MethodPut, "/applications/"+url.PathEscape(d.cfg.Application)+"/eventFilter", body)
	if err != nil {
		return fmt.Errorf("PUT event filter: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("PUT event filter: HTTP %d %s", status, truncate(resp))
	}
	return nil
}

// ChannelExists reports whether Asterisk still has the channel.
func (d *Driver) ChannelExists(ctx context.Context, channelID string) (bool, error) {
	status, body, err := d.do(ctx, http.MethodGet, "/channels/"+url.PathEscape(channelID), nil)
	if err != nil {
		return false, fmt.Errorf("GET channel %s: %w", channelID, err)
	}
	switch status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("GET channel %s: HTTP %d %s", channelID, status, truncate(body))
}

// ListChannels returns the ids of every channel Asterisk has.
func (d *Driver) ListChannels(ctx context.Context) ([]string, error) {
	status, body, err := d.do(ctx, http.MethodGet, "/channels", nil)
	if err != nil {
		return nil, fmt.Errorf("GET channels: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET channels: HTTP %d %s", status, truncate(body))
	}
	var chans []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &chans); err != nil {
		return nil, fmt.Errorf("GET channels: decode: %w", err)
	}
	ids := make([]string, 0, len(chans))
	for _, c := range chans {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// Hangup hangs the channel up; a channel that is already gone is not an error.
func (d *Driver) Hangup(ctx context.Context, channelID string) error {
	status, body, err := d.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(channelID)+"?reason=normal", nil)
	if err != nil {
		return fmt.Errorf("hang up channel %s: %w", channelID, err)
	}
	if status != http.StatusNoContent && status != http.StatusOK && status != http.StatusNotFound {
		return fmt.Errorf("hang up channel %s: HTTP %d %s", channelID, status, truncate(body))
	}
	return nil
}

func (d *Driver) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+"/ari"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(d.cfg.Username, d.cfg.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, data, nil
}

func truncate(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
