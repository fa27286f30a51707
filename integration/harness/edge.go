package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/integration/pbxsim"
)

// PBX is one `ringhook pbxsim` process: a simulated Asterisk ARI server
// and its control API.
type PBX struct {
	Name       string
	ARIURL     string
	ControlURL string
	User       string
	Password   string
	Process    *Process
}

// StartPBX starts a PBX simulator whose numbers all answer by default, and
// waits for its control API.
func StartPBX(tb testing.TB, name string) *PBX {
	tb.Helper()
	p := &PBX{
		Name:       name,
		ARIURL:     "http://" + FreeAddr(tb),
		ControlURL: "http://" + FreeAddr(tb),
		User:       "ringhook",
		Password:   "e2e-ari-password-" + name,
	}
	args := []string{"pbxsim",
		"--listen", strings.TrimPrefix(p.ARIURL, "http://"),
		"--control-listen", strings.TrimPrefix(p.ControlURL, "http://"),
		"--username", p.User,
		"--default", pbxsim.KindAnswer,
	}
	p.Process = Start(tb, name, args, "RINGHOOK_PASSWORD="+p.Password)
	if err := WaitHTTP(context.Background(), p.ControlURL+"/sim/behaviors", http.StatusOK, 30*time.Second); err != nil {
		tb.Fatalf("PBX simulator %s: %v", name, err)
	}
	return p
}

// SetBehavior makes the simulator treat calls to match (a number, or a
// prefix followed by *) with b.
func (p *PBX) SetBehavior(tb testing.TB, match string, b pbxsim.Behavior) {
	tb.Helper()
	if err := p.control(http.MethodPut, "/sim/behaviors/"+url.PathEscape(match), b, nil); err != nil {
		tb.Fatalf("set behavior of %s on %s: %v", match, p.Name, err)
	}
}

// Originations returns every originate request the simulator received.
func (p *PBX) Originations(tb testing.TB) []pbxsim.Origination {
	tb.Helper()
	var out []pbxsim.Origination
	if err := p.control(http.MethodGet, "/sim/originations", nil, &out); err != nil {
		tb.Fatalf("list originations of %s: %v", p.Name, err)
	}
	return out
}

func (p *PBX) control(method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.ControlURL+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s returned %s: %s", method, path, resp.Status, truncate(string(data), 300))
	}
	if out != nil {
		return decodeJSON(data, out)
	}
	return nil
}

// AgentOptions configures one agent process.
type AgentOptions struct {
	// Name is the agent's name in the hub; it also names the ARI
	// application and the log file.
	Name string
	// Token is the agent token that POST /api/v1/agents returned.
	Token string
	// Trunk is the trunk label that the dial template dials out on.
	Trunk string
	// HubURLs are the base URLs of every hub node.
	HubURLs []string
	PBX     *PBX
	// RingTimeout is how long a call may ring; 30 s when zero.
	RingTimeout time.Duration
	// HangupDelay is how long an answered call stays up; 200 ms when zero.
	HangupDelay time.Duration
	// MaxCalls is how many calls the agent places at once; 20 when zero.
	MaxCalls int
}

// Agent is one `ringhook agent` process.
type Agent struct {
	ID      string
	Name    string
	Trunk   string
	PBX     *PBX
	Process *Process
}

// StartAgent starts an agent that connects to the hubs and to its PBX.
func StartAgent(tb testing.TB, id string, opts AgentOptions) *Agent {
	tb.Helper()
	if opts.RingTimeout == 0 {
		opts.RingTimeout = 30 * time.Second
	}
	if opts.HangupDelay == 0 {
		opts.HangupDelay = 200 * time.Millisecond
	}
	if opts.MaxCalls == 0 {
		opts.MaxCalls = 20
	}
	args := []string{"agent",
		"--hub-urls", strings.Join(opts.HubURLs, ","),
		"--ari-url", opts.PBX.ARIURL,
		"--ari-user", opts.PBX.User,
		"--ari-application", "ringhook-" + opts.Name,
		"--dial-template", "PJSIP/{number}@" + opts.Trunk,
		"--ring-timeout", opts.RingTimeout.String(),
		"--hangup-delay", opts.HangupDelay.String(),
		"--max-calls", fmt.Sprint(opts.MaxCalls),
	}
	// Secrets go through the environment so that they stay out of the
	// argument list the harness prints on failure.
	env := []string{"RINGHOOK_AGENT_TOKEN=" + opts.Token, "RINGHOOK_ARI_PASSWORD=" + opts.PBX.Password}
	return &Agent{
		ID:      id,
		Name:    opts.Name,
		Trunk:   opts.Trunk,
		PBX:     opts.PBX,
		Process: Start(tb, opts.Name, args, env...),
	}
}
