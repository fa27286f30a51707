// Package agent is the edge agent: it keeps a websocket to the hub's
// leader, receives call assignments, places each call through the local
// Asterisk over ARI, classifies the outcome and reports it until the hub
// acknowledges the report.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config configures an Agent.
type Config struct {
	// HubURLs are the base URLs of the hub nodes, e.g. https://hub1:8443.
	HubURLs []string
	// Token is the agent token, rha_<agent id>_<secret>.
	Token string

	ARIURL      string
	ARIUser     string
	ARIPassword string
	// Application is the ARI application name; it must be unique per agent
	// on one Asterisk. Empty derives ringhook-<agent id>.
	Application string

	// DialTemplate builds the ARI endpoint: {number} is the E.164 number,
	// {number_digits} the same without the plus sign.
	DialTemplate string
	// CallerID is sent as the originate callerId, e.g. "Alert" <+15550000000>.
	CallerID string
	// RingTimeout is how long a call may ring (default 30 s).
	RingTimeout time.Duration
	// HangupDelay is how long an answered call stays up before the agent
	// hangs it up (default 2 s).
	HangupDelay time.Duration
	// MaxCalls is the maximum number of concurrent calls (default 10).
	MaxCalls int
	// StateFile, when set, stores reports the hub has not acknowledged yet,
	// so that they survive a restart.
	StateFile string

	Logger *slog.Logger

	// WatchdogMargin is added to the ring timeout before the agent asks
	// Asterisk whether a silent call still exists (default 15 s).
	WatchdogMargin time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between hub
	// connection attempts (defaults 1 s and 30 s).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// ARIPingInterval is how often Asterisk is checked (default 5 s).
	ARIPingInterval time.Duration
	// DrainTimeout bounds how long a stopping agent lets its calls in
	// progress run before it hangs them up (default RingTimeout +
	// HangupDelay + WatchdogMargin).
	DrainTimeout time.Duration
}

var tokenPattern = regexp.MustCompile(`^rha_([A-Za-z0-9-]+)_([A-Za-z0-9_-]+)$`)

// AgentIDFromToken returns the agent id inside a token rha_<id>_<secret>.
func AgentIDFromToken(token string) (string, error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return "", errors.New("invalid agent token: expected rha_<agent id>_<secret>, as printed when the agent was created")
	}
	return m[1], nil
}

// withDefaults returns the configuration with defaults filled in.
func (c Config) withDefaults() Config {
	if c.RingTimeout <= 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.HangupDelay <= 0 {
		c.HangupDelay = 2 * time.Second
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 10
	}
	if c.WatchdogMargin <= 0 {
		c.WatchdogMargin = 15 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 30 * time.Second
	}
	if c.ARIPingInterval <= 0 {
		c.ARIPingInterval = 5 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = c.RingTimeout + c.HangupDelay + c.WatchdogMargin
	}
	if c.Application == "" {
		if id, err := AgentIDFromToken(c.Token); err == nil {
			c.Application = "ringhook-" + id
		} else if host, err := os.Hostname(); err == nil {
			c.Application = "ringhook-" + host
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration and names the first bad setting.
func (c Config) Validate() error {
	if len(c.HubURLs) == 0 {
		return errors.New("hub URLs are missing: set at least one hub base URL, e.g. https://hub1:8443")
	}
	for _, raw := range c.HubURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid hub URL %q: use http(s)://host:port", raw)
		}
	}
	if _, err := AgentIDFromToken(c.Token); err != nil {
		return err
	}
	u, err := url.Parse(c.ARIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid ARI URL %q: use http(s)://host:port, e.g. http://127.0.0.1:8088", c.ARIURL)
	}
	if c.ARIUser == "" {
		return errors.New("ARI user is missing")
	}
	if c.ARIPassword == "" {
		return errors.New("ARI password is missing")
	}
	if !strings.Contains(c.DialTemplate, "{number}") && !strings.Contains(c.DialTemplate, "{number_digits}") {
		return fmt.Errorf("invalid dial template %q: it must contain {number} or {number_digits}, e.g. PJSIP/{number}@trunk", c.DialTemplate)
	}
	if tech, _, ok := strings.Cut(c.DialTemplate, "/"); !ok || tech == "" {
		return fmt.Errorf("invalid dial template %q: it must start with a channel technology, e.g. PJSIP/{number}@trunk", c.DialTemplate)
	}
	if c.RingTimeout < 0 || (c.RingTimeout > 0 && c.RingTimeout < time.Second) {
		return fmt.Errorf("invalid ring timeout %s: use at least 1s", c.RingTimeout)
	}
	if c.HangupDelay < 0 {
		return fmt.Errorf("invalid hang-up delay %s: it must not be negative", c.HangupDelay)
	}
	if c.DrainTimeout < 0 {
		return fmt.Errorf("invalid drain timeout %s: it must not be negative", c.DrainTimeout)
	}
	if c.MaxCalls < 0 {
		return fmt.Errorf("invalid maximum concurrent calls %d: it must not be negative", c.MaxCalls)
	}
	if c.Application != "" && strings.ContainsAny(c.Application, "/?#, ") {
		return fmt.Errorf("invalid ARI application name %q: use letters, digits, dashes and underscores", c.Application)
	}
	return nil
}

// DialString fills the dial template for an E.164 number.
func (c Config) DialString(e164 string) string {
	s := strings.ReplaceAll(c.DialTemplate, "{number_digits}", strings.TrimPrefix(e164, "+"))
	return strings.ReplaceAll(s, "{number}", e164)
}

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
