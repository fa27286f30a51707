package pbxsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultTimeout is Asterisk's originate timeout when none (or 0, or a
// negative other than -1) is given.
const defaultTimeout = 30 * time.Second

// knownTechs are the channel technologies the simulator can allocate; any
// other gives 500 Allocation failed, as an unloaded module does.
var knownTechs = map[string]bool{"PJSIP": true, "SIP": true, "Local": true, "IAX2": true}

// channel is one originated channel. Fields after the first block are
// guarded by Server.mu.
type channel struct {
	id         string
	name       string
	endpoint   string
	dialstring string
	app        string
	appArgs    string
	caller     callerID
	protocolID string
	created    time.Time
	ssrc       uint32
	behavior   Behavior
	timeout    time.Duration // real time; 0 for no limit
	record     *Origination
	hangup     chan int // the cause of the first DELETE

	state    string
	inStasis bool
}

func (ch *channel) snapshotLocked() channelSnapshot {
	dp := dialplanCEP{Context: "from-trunk", Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"}
	if ch.inStasis {
		dp.AppName = "Stasis"
		dp.AppData = ch.app
		if ch.appArgs != "" {
			dp.AppData += "," + ch.appArgs
		}
	}
	return channelSnapshot{
		ID: ch.id, Name: ch.name, State: ch.state, ProtocolID: ch.protocolID,
		Caller: ch.caller, Connected: ch.caller, Dialplan: dp,
		CreationTime: formatTime(ch.created), Language: "en",
	}
}

// requestHangup passes a DELETE to the call goroutine; later ones are
// ignored, as the channel is already being hung up.
func (ch *channel) requestHangup(cause int) {
	select {
	case ch.hangup <- cause:
	default:
	}
}

// originateRequest holds the originate parameters from the query string
// and the JSON body; body fields win, as in Asterisk.
type originateRequest struct {
	Endpoint  string
	App       string
	AppArgs   string
	CallerID  string
	Timeout   int
	ChannelID string
	Extension string
	Context   string
}

func parseInt(s string) (int, error) { return strconv.Atoi(strings.TrimSpace(s)) }

func parseOriginate(r *http.Request) (originateRequest, error) {
	q := r.URL.Query()
	req := originateRequest{
		Endpoint: q.Get("endpoint"), App: q.Get("app"), AppArgs: q.Get("appArgs"),
		CallerID: q.Get("callerId"), ChannelID: q.Get("channelId"),
		Extension: q.Get("extension"), Context: q.Get("context"),
	}
	if t := q.Get("timeout"); t != "" {
		n, err := parseInt(t)
		if err != nil {
			return req, fmt.Errorf("timeout %q is not an integer", t)
		}
		req.Timeout = n
	}
	if id := r.PathValue("id"); id != "" {
		req.ChannelID = id
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return req, fmt.Errorf("read body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return req, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return req, fmt.Errorf("body is not a JSON object: %w", err)
	}
	strs := map[string]*string{
		"endpoint": &req.Endpoint, "app": &req.App, "appArgs": &req.AppArgs,
		"callerId": &req.CallerID, "extension": &req.Extension, "context": &req.Context,
	}
	if r.PathValue("id") == "" {
		strs["channelId"] = &req.ChannelID
	}
	for key, dst := range strs {
		raw, ok := fields[key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return req, fmt.Errorf("%s must be a string", key)
		}
	}
	if raw, ok := fields["timeout"]; ok {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return req, fmt.Errorf("timeout must be an integer")
			}
			n = json.Number(str)
		}
		v, err := parseInt(n.String())
		if err != nil {
			return req, fmt.Errorf("timeout %q is not an integer", n)
		}
		req.Timeout = v
	}
	return req, nil
}

// handleOriginate implements POST /ari/channels and POST /ari/channels/{id}.
func (s *Server) handleOriginate(w http.ResponseWriter, r *http.Request) {
	req, err := parseOriginate(r)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Endpoint == "" {
		writeMessage(w, http.StatusBadRequest, "Endpoint must be specified")
		return
	}
	tech, resource, ok := strings.Cut(req.Endpoint, "/")
	if !ok || tech == "" || resource == "" {
		writeMessage(w, http.StatusBadRequest, "Invalid endpoint specified")
		return
	}
	if req.App == "" && req.Extension == "" {
		writeMessage(w, http.StatusBadRequest, "Application or extension must be specified")
		return
	}
	if len(req.ChannelID) > 149 {
		writeMessage(w, http.StatusBadRequest, "Channel ID is too long")
		return
	}

	timeout := time.Duration(req.Timeout) * time.Second
	switch {
	case req.Timeout == -1:
		timeout = 0
	case req.Timeout <= 0:
		timeout = defaultTimeout
	}
	number := NumberFromEndpoint(req.Endpoint)
	now := time.Now()

	s.mu.Lock()
	if req.ChannelID != "" && s.channels[req.ChannelID] != nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	select {
	case <-s.stopped:
		s.mu.Unlock()
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Allocation failed"})
		return
	default:
	}
	behavior := s.behaviorForLocked(number)
	if behavior.Kind != KindAllocationFailure && s.failShare > 0 && s.rng.Float64() < s.failShare {
		behavior = Behavior{Kind: KindTrunk503, RingAfter: behavior.RingAfter}
	}
	if req.ChannelID == "" {
		s.idSeq++
		req.ChannelID = fmt.Sprintf("%d.%d", now.Unix(), s.idSeq)
	}
	record := &Origination{
		ChannelID: req.ChannelID, Endpoint: req.Endpoint, Number: number,
		CallerID: req.CallerID, App: req.App, AppArgs: req.AppArgs,
		Timeout: timeout, Kind: behavior.Kind, Time: now,
	}
	s.originations = append(s.originations, record)
	if behavior.Kind == KindAllocationFailure || !knownTechs[tech] {
		record.HTTPStatus = http.StatusInternalServerError
		record.Ended = true
		s.mu.Unlock()
		s.logger.Info("pbxsim: originate failed: allocation failure", "channel_id", req.ChannelID)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Allocation failed"})
		return
	}
	record.HTTPStatus = http.StatusOK
	s.nameSeq++
	ch := &channel{
		id:         req.ChannelID,
		name:       channelName(tech, resource, s.nameSeq),
		endpoint:   req.Endpoint,
		dialstring: resource,
		app:        req.App,
		appArgs:    req.AppArgs,
		caller:     parseCallerID(req.CallerID),
		protocolID: newProtocolID(tech),
		created:    now,
		ssrc:       s.rng.Uint32(),
		behavior:   behavior,
		timeout:    s.scale(timeout),
		record:     record,
		hangup:     make(chan int, 1),
		state:      stateDown,
	}
	s.channels[ch.id] = ch
	snap := ch.snapshotLocked()
	stopped := s.stopped
	s.calls.Add(1)
	s.mu.Unlock()

	s.logger.Info("pbxsim: channel originated", "channel_id", ch.id, "kind", behavior.Kind)
	go s.runCall(ch, stopped)
	writeJSON(w, http.StatusOK, snap)
}

// channelName builds an Asterisk-style channel name: "SIP/trunk-a-00000001"
// for SIP/trunk-a/15551234567, "PJSIP/trunk-00000001" for
// PJSIP/+15551234567@trunk, "Local/answer@test-00000001;1" for Local.
func channelName(tech, resource string, seq uint32) string {
	peer := resource
	switch tech {
	case "SIP", "IAX2":
		peer, _, _ = strings.Cut(resource, "/")
	case "PJSIP":
		if _, after, ok := strings.Cut(resource, "@"); ok {
			peer = after
		} else {
			peer, _, _ = strings.Cut(resource, "/")
		}
	}
	name := fmt.Sprintf("%s/%s-%08x", tech, peer, seq)
	if tech == "Local" {
		name += ";1"
	}
	return name
}

// newProtocolID returns a SIP Call-ID for SIP channels and "" otherwise.
func newProtocolID(tech string) string {
	if tech != "SIP" && tech != "PJSIP" {
		return ""
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + "@127.0.0.1:15060"
}
