package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"nhooyr.io/websocket"
)

// maxBody caps the response bodies the relay buffers.
const maxBody = 1 << 20

// pongTimeout is how long the relay waits for Asterisk's pong.
const pongTimeout = 10 * time.Second

// relay sits between the ARI library and Asterisk on a loopback port. The
// library's REST calls and its event websocket go through it, so that:
//   - every request to Asterisk runs on an http.Client with timeouts, and the
//     library always gets an answer from the relay;
//   - event types the library cannot decode are dropped before they reach
//     it, because it would crash on them;
//   - the raw JSON of every event and of each originate answer is captured
//     for the report;
//   - the driver learns when the event websocket goes down and comes back.
//
// Requests carry a session number in their path (/s/<n>/ari/...); requests
// of an abandoned library instance are answered 410 Gone.
type relay struct {
	upstream string // http(s)://host:port without /ari
	wsURL    string // ws(s)://host:port/ari/events
	client   *http.Client
	logger   *slog.Logger
	server   *http.Server
	addr     string

	// onEvent receives each raw event before the library sees it.
	onEvent func(channelID string, raw []byte)
	// onUp and onDown report the state of the whole event path.
	onUp   func()
	onDown func(reason string)

	session  atomic.Int64
	pingIval time.Duration

	dropped atomic.Int64

	// staleDial receives (coalesced) when an event websocket dial of a
	// retired session arrives. See Driver.shutdown.
	staleDial chan struct{}

	mu         sync.Mutex
	originates map[string]OriginateAnswer
	current    *websocket.Conn // downstream connection of the live session
}

// OriginateAnswer is the HTTP answer to POST /ari/channels as Asterisk sent it.
type OriginateAnswer struct {
	Status int             `json:"originate_status"`
	Body   json.RawMessage `json:"originate_body,omitempty"`
}

func startRelay(r *relay) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the ARI relay on 127.0.0.1: %w", err)
	}
	r.addr = ln.Addr().String()
	r.staleDial = make(chan struct{}, 1)
	r.originates = map[string]OriginateAnswer{}
	r.server = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.logger.Error("ARI relay stopped", "error", err)
		}
	}()
	return nil
}

func (r *relay) close() {
	r.mu.Lock()
	if r.current != nil {
		r.current.Close(websocket.StatusGoingAway, "agent stopping")
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.server.Shutdown(ctx)
}

// newSession invalidates the previous library instance and returns the base
// REST and websocket URLs for the next one.
func (r *relay) newSession() (restURL, wsURL string) {
	n := r.session.Add(1)
	r.mu.Lock()
	if r.current != nil {
		r.current.Close(websocket.StatusGoingAway, "session replaced")
	}
	r.mu.Unlock()
	base := fmt.Sprintf("%s/s/%d/ari", r.addr, n)
	return "http://" + base, "ws://" + base + "/events"
}

// takeOriginate returns and forgets the captured answer for a channel id.
func (r *relay) takeOriginate(channelID string) (OriginateAnswer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.originates[channelID]
	delete(r.originates, channelID)
	return a, ok
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/s/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	num, path, ok := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n != r.session.Load() {
		if path == "ari/events" {
			select {
			case r.staleDial <- struct{}{}:
			default:
			}
		}
		http.Error(w, `{"message":"stale ARI client session"}`, http.StatusGone)
		return
	}
	if path == "ari/events" {
		r.serveEvents(w, req)
		return
	}
	r.serveREST(w, req, strings.TrimPrefix(path, "ari"))
}

func (r *relay) serveREST(w http.ResponseWriter, req *http.Request, path string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		http.Error(w, `{"message":"read request body"}`, http.StatusBadRequest)
		return
	}
	target := r.upstream + "/ari" + path
	if req.URL.RawQuery != "" {
		target += "?" + req.URL.RawQuery
	}
	up, err := http.NewRequestWithContext(req.Context(), req.Method, target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, `{"message":"build upstream request"}`, http.StatusBadGateway)
		return
	}
	up.Header.Set("Content-Type", req.Header.Get("Content-Type"))
	up.Header.Set("Authorization", req.Header.Get("Authorization"))

	resp, err := r.client.Do(up)
	if err != nil {
		msg, _ := json.Marshal(map[string]string{"message": "ARI request failed: " + err.Error()})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write(msg)
		r.recordOriginate(req.Method, path, body, 0, msg)
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		http.Error(w, `{"message":"read ARI response"}`, http.StatusBadGateway)
		r.recordOriginate(req.Method, path, body, 0, []byte(`{"message":"read ARI response failed"}`))
		return
	}
	r.recordOriginate(req.Method, path, body, resp.StatusCode, respBody)

	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

func (r *relay) recordOriginate(method, path string, reqBody []byte, status int, respBody []byte) {
	if method != http.MethodPost || strings.TrimSuffix(path, "/") != "/channels" {
		return
	}
	var in struct {
		ChannelID string `json:"channelId"`
	}
	if json.Unmarshal(reqBody, &in) != nil || in.ChannelID == "" {
		return
	}
	a := OriginateAnswer{Status: status}
	if json.Valid(respBody) {
		a.Body = append(json.RawMessage(nil), respBody...)
	} else if len(respBody) > 0 {
		a.Body, _ = json.Marshal(string(respBody))
	}
	r.mu.Lock()
	r.originates[in.ChannelID] = a
	r.mu.Unlock()
}

func (r *relay) serveEvents(w http.ResponseWriter, req *http.Request) {
	session := r.session.Load()
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	up, resp, err := websocket.Dial(ctx, r.wsURL+"?"+req.URL.RawQuery, &websocket.DialOptions{
		HTTPClient: r.client,
		HTTPHeader: http.Header{"Authorization": req.Header.Values("Authorization")},
	})
	cancel()
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil && resp.StatusCode >= 400 {
			status = resp.StatusCode
		}
		r.logger.Warn("ARI event websocket dial failed", "error", err, "status", status)
		http.Error(w, `{"message":"ARI event websocket dial failed"}`, status)
		return
	}
	up.SetReadLimit(maxBody)

	down, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		up.Close(websocket.StatusInternalError, "downstream accept failed")
		return
	}
	r.mu.Lock()
	if r.session.Load() != session {
		r.mu.Unlock()
		up.Close(websocket.StatusGoingAway, "session replaced")
		down.Close(websocket.StatusGoingAway, "session replaced")
		return
	}
	r.current = down
	r.mu.Unlock()

	r.onUp()
	reason := r.pump(up, down)
	up.Close(websocket.StatusNormalClosure, "")
	down.Close(websocket.StatusGoingAway, "ARI event websocket closed")

	r.mu.Lock()
	if r.current == down {
		r.current = nil
	}
	r.mu.Unlock()
	r.onDown(reason)
}

// pump copies events from Asterisk to the library until either side fails.
func (r *relay) pump(up, down *websocket.Conn) string {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The library never reads control frames on its own, but nhooyr needs a
	// reader on the downstream side to notice that it went away.
	downGone := down.CloseRead(ctx)
	go func() {
		<-downGone.Done()
		cancel()
	}()
	go r.keepalive(ctx, cancel, up)

	for {
		_, data, err := up.Read(ctx)
		if err != nil {
			select {
			case <-downGone.Done():
				return "the ARI library closed its websocket"
			default:
			}
			return "ARI event websocket: " + err.Error()
		}

		var head struct {
			Type    string `json:"type"`
			Channel *struct {
				ID string `json:"id"`
			} `json:"channel"`
			Peer *struct {
				ID string `json:"id"`
			} `json:"peer"`
		}
		if json.Unmarshal(data, &head) == nil {
			switch {
			case head.Type == "Dial" && head.Peer != nil:
				r.onEvent(head.Peer.ID, data)
			case head.Channel != nil:
				r.onEvent(head.Channel.ID, data)
			}
		}

		if _, err := ariv5.DecodeEvent(data); err != nil {
			n := r.dropped.Add(1)
			if n == 1 || n%100 == 0 {
				r.logger.Warn("dropped an ARI event the ARI library cannot decode", "event_type", head.Type, "dropped_total", n)
			}
			continue
		}
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err = down.Write(wctx, websocket.MessageText, data)
		wcancel()
		if err != nil {
			return "forward event to the ARI library: " + err.Error()
		}
	}
}

// keepalive pings Asterisk so that a half-open connection is noticed in
// seconds rather than when TCP keepalive gives up.
func (r *relay) keepalive(ctx context.Context, cancel context.CancelFunc, up *websocket.Conn) {
	t := time.NewTicker(r.pingIval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// The pong is read by pump, which may be busy forwarding a
			// burst of events, so the wait is generous.
			pctx, pcancel := context.WithTimeout(ctx, pongTimeout)
			err := up.Ping(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				r.logger.Warn("ARI event websocket ping failed; reconnecting", "error", err)
				cancel()
				return
			}
		}
	}
}
