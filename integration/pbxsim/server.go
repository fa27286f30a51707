package pbxsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"sync"
	"time"
)

// entityID is the asterisk_id of every event and the system entity id of
// /ari/asterisk/info, as in the recordings.
const entityID = "02:fc:00:00:00:01"

// Config configures a simulator.
type Config struct {
	// Username and Password are the ARI credentials the simulator accepts,
	// as HTTP Basic auth or as the api_key=user:password query parameter.
	Username string
	Password string
	// Default is the behavior for numbers that no rule matches. The zero
	// value answers at once.
	Default Behavior
	// Rules choose a behavior per dialed number (see Rule).
	Rules []Rule
	// FailShare is the share of originated calls, from 0 to 1, that fail
	// with trunk-503 whatever their rule chooses, drawn from a random source
	// seeded with Seed.
	FailShare float64
	Seed      int64
	// TimeScale multiplies every simulated far-end delay (Behavior's
	// RingAfter, AnswerAfter, HangupAfter, RingFor) and the originate
	// timeout. 1 is real time and 0 means 1; tests use e.g. 0.05. The
	// SetSlow delay is not scaled.
	TimeScale float64
	// TechCause adds tech_cause (the SIP code) to ChannelHangupRequest and
	// ChannelDestroyed, as Asterisk 20.17 and later do for PJSIP channels.
	// Off by default, as in the chan_sip recordings.
	TechCause bool
	Logger    *slog.Logger
}

// Origination is one originate request that reached the dial stage: a
// created channel, or an allocation failure (HTTPStatus 500). Requests
// rejected with 400, 401 or 409 are not recorded.
type Origination struct {
	ChannelID  string        `json:"channel_id"`
	Endpoint   string        `json:"endpoint"`
	Number     string        `json:"number"` // see NumberFromEndpoint
	CallerID   string        `json:"caller_id"`
	App        string        `json:"app"`
	AppArgs    string        `json:"app_args"`
	Timeout    time.Duration `json:"timeout"` // as requested, before TimeScale; 0 for no limit
	Kind       string        `json:"kind"`
	Time       time.Time     `json:"time"`
	HTTPStatus int           `json:"http_status"`
	// Ended is set when the channel is destroyed; Cause and CauseText are
	// those of its ChannelDestroyed event.
	Ended     bool   `json:"ended"`
	Cause     int    `json:"cause"`
	CauseText string `json:"cause_txt"`
}

// Server is a simulated Asterisk 20 ARI server. Its methods are safe for
// concurrent use.
type Server struct {
	logger    *slog.Logger
	timeScale float64
	techCause bool
	handler   http.Handler

	mu           sync.Mutex
	username     string
	password     string
	wrongCreds   bool
	slow         time.Duration
	defaultRule  Behavior
	rules        []Rule
	failShare    float64
	rng          *rand.Rand
	channels     map[string]*channel
	originations []*Origination
	apps         map[string]*app
	nameSeq      uint32
	idSeq        uint64
	startupTime  time.Time

	// Listener state, guarded by mu.
	addr     string // the address to listen on again after refusing or stopping
	httpSrv  *http.Server
	listener net.Listener
	refusing bool
	stopped  chan struct{} // closed by Stop; ends every call goroutine
	calls    sync.WaitGroup
}

// New returns a simulator; call Start to serve it, or mount Handler.
func New(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	scale := cfg.TimeScale
	if scale <= 0 {
		scale = 1
	}
	s := &Server{
		logger:      logger,
		timeScale:   scale,
		techCause:   cfg.TechCause,
		username:    cfg.Username,
		password:    cfg.Password,
		defaultRule: cfg.Default,
		rules:       append([]Rule(nil), cfg.Rules...),
		failShare:   cfg.FailShare,
		rng:         rand.New(rand.NewSource(cfg.Seed)),
		channels:    map[string]*channel{},
		apps:        map[string]*app{},
		startupTime: time.Now(),
		stopped:     make(chan struct{}),
	}
	if s.defaultRule.Kind == "" {
		s.defaultRule.Kind = KindAnswer
	}
	s.handler = s.routes()
	return s
}

// Handler returns the ARI HTTP handler (paths under /ari/).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and serves ARI. After Stop it
// may be called again, with the same address to simulate a restart.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return errors.New("pbxsim: already started; call Stop first")
	}
	select {
	case <-s.stopped:
		s.stopped = make(chan struct{})
		s.startupTime = time.Now()
	default:
	}
	s.refusing = false
	return s.listenLocked(addr)
}

func (s *Server) listenLocked(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pbxsim: listen on %s: %w", addr, err)
	}
	s.addr = ln.Addr().String()
	s.listener = ln
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.httpSrv = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("pbxsim: serve failed", "addr", ln.Addr().String(), "error", err)
		}
	}()
	s.logger.Info("pbxsim: listening", "addr", s.addr)
	return nil
}

// closeListenerLocked closes the listener, every HTTP connection and every
// event websocket.
func (s *Server) closeListenerLocked() {
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
		s.httpSrv = nil
		s.listener = nil
	}
	s.dropWebsocketsLocked()
}

// URL returns the base URL, such as http://127.0.0.1:8088, without /ari.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

// Addr returns the listen address (host:port).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop simulates Asterisk stopping: it closes the listener and every
// connection, and ends every channel without sending any event. The
// address is kept, so Start(s.Addr()) restarts on the same port.
// Behaviors, credentials and the origination log are kept.
func (s *Server) Stop() {
	s.mu.Lock()
	s.closeListenerLocked()
	s.refusing = false
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	s.apps = map[string]*app{}
	s.mu.Unlock()
	s.calls.Wait()
}

// RefuseConnections(true) closes the listener and every connection, so new
// connections are refused while channels keep dialing; false listens on
// the same address again.
func (s *Server) RefuseConnections(refuse bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if refuse == s.refusing {
		return nil
	}
	if refuse {
		if s.httpSrv == nil {
			return errors.New("pbxsim: not started")
		}
		s.refusing = true
		s.closeListenerLocked()
		s.logger.Info("pbxsim: refusing connections", "addr", s.addr)
		return nil
	}
	if s.addr == "" {
		return errors.New("pbxsim: not started, so there is no address to listen on again; call Start")
	}
	if err := s.listenLocked(s.addr); err != nil {
		return err
	}
	s.refusing = false
	return nil
}

// SetSlow delays every ARI HTTP response, the websocket upgrade included, by
// d (real time, not scaled). Zero turns it off.
func (s *Server) SetSlow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = d
}

// SetWrongCredentials(true) rejects every credential with 401, as if the
// ARI user had been changed under the client.
func (s *Server) SetWrongCredentials(wrong bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrongCreds = wrong
}

// SetCredentials changes the accepted ARI user and password.
func (s *Server) SetCredentials(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.username, s.password = username, password
}

// SetDefault sets the behavior for numbers that no rule matches.
func (s *Server) SetDefault(b Behavior) error {
	if err := b.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaultRule = b
	return nil
}

// SetBehavior adds the rule for match, or replaces the rule with the same
// match.
func (s *Server) SetBehavior(match string, b Behavior) error {
	rule := Rule{Match: match, Behavior: b}
	if err := rule.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		if s.rules[i].Match == match {
			s.rules[i] = rule
			return nil
		}
	}
	s.rules = append(s.rules, rule)
	return nil
}

// RemoveBehavior deletes the rule for match and reports whether it existed.
func (s *Server) RemoveBehavior(match string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		if s.rules[i].Match == match {
			s.rules = append(s.rules[:i], s.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Rules returns the rules and the default behavior.
func (s *Server) Rules() (rules []Rule, def Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule(nil), s.rules...), s.defaultRule
}

// SetFailShare sets the share of calls, from 0 to 1, that fail with
// trunk-503 whatever their rule chooses.
func (s *Server) SetFailShare(share float64) error {
	if share < 0 || share > 1 {
		return fmt.Errorf("fail share %v is outside 0..1", share)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failShare = share
	return nil
}

// BehaviorFor returns the behavior a call to number would get now,
// without drawing from the fail share.
func (s *Server) BehaviorFor(number string) Behavior {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behaviorForLocked(number)
}

func (s *Server) behaviorForLocked(number string) Behavior {
	best, bestRank := s.defaultRule, 0
	for _, r := range s.rules {
		if rank := r.matchRank(number); rank > bestRank {
			best, bestRank = r.Behavior, rank
		}
	}
	return best
}

// Originations returns every originate request that reached the dial
// stage, oldest first.
func (s *Server) Originations() []Origination {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Origination, len(s.originations))
	for i, o := range s.originations {
		out[i] = *o
	}
	return out
}

// scale converts a simulated delay to real time.
func (s *Server) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.timeScale)
}

// slowDown waits for the SetSlow delay, or until the request is cancelled.
func (s *Server) slowDown(ctx context.Context) {
	s.mu.Lock()
	d := s.slow
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// originationJSON is Origination with the timeout as a duration string.
type originationJSON struct {
	ChannelID  string    `json:"channel_id"`
	Endpoint   string    `json:"endpoint"`
	Number     string    `json:"number"`
	CallerID   string    `json:"caller_id"`
	App        string    `json:"app"`
	AppArgs    string    `json:"app_args"`
	Timeout    string    `json:"timeout"`
	Kind       string    `json:"kind"`
	Time       time.Time `json:"time"`
	HTTPStatus int       `json:"http_status"`
	Ended      bool      `json:"ended"`
	Cause      int       `json:"cause"`
	CauseText  string    `json:"cause_txt"`
}

// MarshalJSON writes Timeout as a Go duration string such as "30s"; "0s"
// means no limit.
func (o Origination) MarshalJSON() ([]byte, error) {
	return json.Marshal(originationJSON{
		ChannelID: o.ChannelID, Endpoint: o.Endpoint, Number: o.Number,
		CallerID: o.CallerID, App: o.App, AppArgs: o.AppArgs,
		Timeout: o.Timeout.String(), Kind: o.Kind, Time: o.Time,
		HTTPStatus: o.HTTPStatus, Ended: o.Ended, Cause: o.Cause, CauseText: o.CauseText,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Origination) UnmarshalJSON(data []byte) error {
	var raw originationJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	timeout, err := time.ParseDuration(raw.Timeout)
	if err != nil {
		return fmt.Errorf("origination timeout %q is not a duration: %w", raw.Timeout, err)
	}
	*o = Origination{
		ChannelID: raw.ChannelID, Endpoint: raw.Endpoint, Number: raw.Number,
		CallerID: raw.CallerID, App: raw.App, AppArgs: raw.AppArgs,
		Timeout: timeout, Kind: raw.Kind, Time: raw.Time,
		HTTPStatus: raw.HTTPStatus, Ended: raw.Ended, Cause: raw.Cause, CauseText: raw.CauseText,
	}
	return nil
}
