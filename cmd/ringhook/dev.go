package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ringhook/ringhook/agent"
	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/hubserver"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/integration/pbxsim"
)

func init() {
	register("dev", "run a local demo: three hub nodes, three agents and simulated PBXs", runDev)
}

// devNodes is the number of hub nodes, agents and simulated PBXs.
const devNodes = 3

// devState is the content of dev.json: enough for scripts to use the demo,
// and for a later run with the same --data-dir to come back on the same
// addresses with the same objects.
type devState struct {
	WebhookURL string `json:"webhook_url"`
	AdminToken string `json:"admin_token"`
	// GossipKey is the base64 key of 32 bytes that the three nodes share;
	// it signs the writes they forward to each other.
	GossipKey  string     `json:"gossip_key"`
	HubURLs    []string   `json:"hub_urls"`
	EndpointID string     `json:"endpoint_id"`
	OrgID      string     `json:"org_id"`
	Curl       string     `json:"curl"`
	Nodes      []devNode  `json:"nodes"`
	Agents     []devAgent `json:"agents"`
	PBXs       []devPBX   `json:"pbxs"`
}

type devNode struct {
	ID         string `json:"id"`
	HTTPAddr   string `json:"http_addr"`
	RaftAddr   string `json:"raft_addr"`
	GossipAddr string `json:"gossip_addr"`
}

type devAgent struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Trunk string `json:"trunk"`
	// Token is kept so a later run can reconnect the same agents; dev.json
	// is written with mode 0600.
	Token string `json:"token"`
}

type devPBX struct {
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	FailShare float64 `json:"fail_share"`
}

const devARIUser, devARIPassword = "ringhook", "dev-ari-password"

func runDev(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringhook dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "`folder` that keeps the demo's state across runs (default: a new temporary folder)")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "`host:port` of the first hub node; the others take free ports")
	failShare := fs.Float64("fail-share", 0.3, "share of calls, 0 to 1, that the third PBX's trunk fails with 503, to show failover")
	answerAfter := fs.Duration("answer-after", 3*time.Second, "how long simulated phones ring before they answer")
	logLevel := fs.String("log-level", "info", "level of the component log written to DATA-DIR/dev.log")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ringhook dev:", err)
		return 2
	}
	if *failShare < 0 || *failShare > 1 {
		fmt.Fprintf(stderr, "ringhook dev: --fail-share %v must be between 0 and 1\n", *failShare)
		return 2
	}

	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ringhook-dev-")
		if err != nil {
			fmt.Fprintln(stderr, "ringhook dev: create temporary folder:", err)
			return 1
		}
		dir = tmp
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "ringhook dev: create data folder:", err)
		return 1
	}

	logFile, err := os.OpenFile(filepath.Join(dir, "dev.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(stderr, "ringhook dev: open log file:", err)
		return 1
	}
	defer logFile.Close()
	logger, err := newLogger(logFile, *logLevel, "text")
	if err != nil {
		fmt.Fprintln(stderr, "ringhook dev:", err)
		return 2
	}

	d := &devRun{
		dir:         dir,
		out:         stdout,
		logger:      logger,
		failShare:   *failShare,
		answerAfter: *answerAfter,
	}
	if err := d.run(ctx, *httpAddr); err != nil {
		fmt.Fprintln(stderr, "ringhook dev:", err)
		fmt.Fprintf(stderr, "ringhook dev: component log: %s\n", filepath.Join(dir, "dev.log"))
		d.stop()
		return 1
	}
	return 0
}

// devRun is one run of the local demo.
type devRun struct {
	dir         string
	out         io.Writer
	logger      *slog.Logger
	failShare   float64
	answerAfter time.Duration

	state  devState
	hubs   []*hubserver.Server
	sims   []*pbxsim.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (d *devRun) statePath() string { return filepath.Join(d.dir, "dev.json") }

func (d *devRun) run(ctx context.Context, httpAddr string) error {
	resumed, err := d.loadState()
	if err != nil {
		return err
	}
	if !resumed {
		if err := d.planAddresses(httpAddr); err != nil {
			return err
		}
	}

	fmt.Fprintf(d.out, "Starting %d hub nodes, %d simulated PBXs and %d agents (data in %s)...\n", devNodes, devNodes, devNodes, d.dir)
	if err := d.startHubs(ctx); err != nil {
		return err
	}
	if err := d.startPBXs(); err != nil {
		return err
	}
	client := adminclient.New(d.state.HubURLs[0], d.state.AdminToken)
	if err := d.waitReady(ctx, client); err != nil {
		return err
	}
	if !resumed {
		if err := d.createDemoConfig(ctx, client); err != nil {
			return err
		}
	}
	if err := d.saveState(); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	if err := d.startAgents(runCtx); err != nil {
		return err
	}
	d.printWelcome()

	d.followCalls(runCtx, client)
	fmt.Fprintln(d.out, "\nStopping...")
	d.stop()
	fmt.Fprintln(d.out, "Stopped. State is kept in", d.dir)
	return nil
}

func (d *devRun) loadState() (bool, error) {
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", d.statePath(), err)
	}
	if err := json.Unmarshal(data, &d.state); err != nil {
		return false, fmt.Errorf("%s is not valid JSON (%v); remove the folder to start over", d.statePath(), err)
	}
	if len(d.state.Nodes) != devNodes || len(d.state.Agents) != devNodes || d.state.AdminToken == "" {
		return false, fmt.Errorf("%s is incomplete; remove the folder to start over", d.statePath())
	}
	if d.state.GossipKey == "" {
		// dev.json written before the nodes shared a key: add one. The
		// data dir's Raft state does not depend on it.
		key, err := randomGossipKey()
		if err != nil {
			return false, err
		}
		d.state.GossipKey = key
	}
	return true, nil
}

func (d *devRun) saveState() error {
	data, err := json.MarshalIndent(d.state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.statePath(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", d.statePath(), err)
	}
	return nil
}

// planAddresses picks the nodes' addresses: the first HTTP address from
// the flag, every other port free on 127.0.0.1.
func (d *devRun) planAddresses(httpAddr string) error {
	token, err := randomToken()
	if err != nil {
		return err
	}
	d.state.AdminToken = token
	if d.state.GossipKey, err = randomGossipKey(); err != nil {
		return err
	}
	for i := 0; i < devNodes; i++ {
		node := devNode{ID: fmt.Sprintf("hub%d", i+1)}
		if i == 0 {
			node.HTTPAddr = httpAddr
		} else if node.HTTPAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		if node.RaftAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		if node.GossipAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		d.state.Nodes = append(d.state.Nodes, node)
	}
	return nil
}

func (d *devRun) startHubs(ctx context.Context) error {
	key, err := base64.StdEncoding.DecodeString(d.state.GossipKey)
	if err != nil {
		return fmt.Errorf("gossip_key in %s is not valid base64 (%v); remove the folder to start over", d.statePath(), err)
	}
	var gossip []string
	for _, n := range d.state.Nodes {
		gossip = append(gossip, n.GossipAddr)
	}
	d.state.HubURLs = nil
	for i, n := range d.state.Nodes {
		server, err := hubserver.Start(ctx, hubserver.Config{
			Cluster: cluster.Config{
				NodeID:          n.ID,
				DataDir:         filepath.Join(d.dir, n.ID),
				RaftBind:        n.RaftAddr,
				GossipBind:      n.GossipAddr,
				Join:            gossip,
				BootstrapExpect: devNodes,
				GossipKey:       key,
			},
			HTTPAddr:       n.HTTPAddr,
			BootstrapToken: d.state.AdminToken,
			Retention:      7 * 24 * time.Hour,
			NoAgentWait:    2 * time.Minute,
			Logger:         d.logger,
		})
		if err != nil {
			return fmt.Errorf("start hub node %s: %w (is %s already in use? pick another with --http-addr)", n.ID, err, n.HTTPAddr)
		}
		d.hubs = append(d.hubs, server)
		d.state.HubURLs = append(d.state.HubURLs, server.URL)
		// Keep the port the listener got, so that --http-addr with port 0
		// works and a later run comes back on the same webhook URL.
		d.state.Nodes[i].HTTPAddr = strings.TrimPrefix(server.URL, "http://")
	}
	return nil
}

func (d *devRun) startPBXs() error {
	d.state.PBXs = nil
	for i := 0; i < devNodes; i++ {
		share := 0.0
		if i == devNodes-1 {
			share = d.failShare
		}
		sim := pbxsim.New(pbxsim.Config{
			Username:  devARIUser,
			Password:  devARIPassword,
			Default:   pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: d.answerAfter, HangupAfter: 0},
			FailShare: share,
			Seed:      int64(i + 1),
			Logger:    d.logger.With("pbx", fmt.Sprintf("pbx%d", i+1)),
		})
		if err := sim.Start("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start simulated PBX %d: %w", i+1, err)
		}
		d.sims = append(d.sims, sim)
		d.state.PBXs = append(d.state.PBXs, devPBX{Name: fmt.Sprintf("pbx%d", i+1), URL: sim.URL(), FailShare: share})
	}
	// The demo's numbers are fictional. The third member's number is busy on
	// the first PBX, so a call to it shows a disposition other than answered.
	if err := d.sims[0].SetBehavior(devPhones[2], pbxsim.Behavior{Kind: pbxsim.KindBusy}); err != nil {
		return err
	}
	return nil
}

// waitReady waits until the cluster has a leader and accepts admin calls.
func (d *devRun) waitReady(ctx context.Context, client *adminclient.Client) error {
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		var status json.RawMessage
		lastErr = client.Do(ctx, "GET", "/api/v1/cluster", nil, nil, &status)
		if lastErr == nil && d.hubs[0].Node.Ready() {
			if id, _ := d.hubs[0].Node.Leader(); id != "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("the hub cluster elected no leader within 60 s (last error: %v)", lastErr)
}

// devPhones are fictional numbers from the North American 555-01XX range.
var devPhones = []string{"+12025550101", "+12025550102", "+12025550103"}

func (d *devRun) createDemoConfig(ctx context.Context, client *adminclient.Client) error {
	var org model.Organization
	if err := client.Do(ctx, "POST", "/api/v1/organizations", nil, model.Organization{Name: "Demo"}, &org); err != nil {
		return fmt.Errorf("create demo organization: %w", err)
	}
	d.state.OrgID = org.ID

	var project model.Project
	if err := client.Do(ctx, "POST", "/api/v1/projects", nil, model.Project{OrgID: org.ID, Name: "payments"}, &project); err != nil {
		return fmt.Errorf("create demo project: %w", err)
	}

	consent := &model.Consent{ConfirmedBy: "ringhook dev", ConfirmedAt: time.Now().UTC().Truncate(time.Second), Note: "demo member"}
	names := []string{"Alice", "Bob", "Carol"}
	var memberIDs []string
	for i, name := range names {
		m := model.Member{OrgID: org.ID, Name: name, Phone: devPhones[i], Consent: consent}
		if i < 2 {
			m.ProjectIDs = []string{project.ID}
		}
		var created model.Member
		if err := client.Do(ctx, "POST", "/api/v1/members", nil, m, &created); err != nil {
			return fmt.Errorf("create demo member %s: %w", name, err)
		}
		memberIDs = append(memberIDs, created.ID)
	}

	org.PrimaryMemberID = memberIDs[0]
	if err := client.Do(ctx, "PUT", "/api/v1/organizations/"+org.ID, nil, org, &org); err != nil {
		return fmt.Errorf("set the demo organization's primary member: %w", err)
	}

	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var schedule model.Schedule
	if err := client.Do(ctx, "POST", "/api/v1/schedules", nil, model.Schedule{
		OrgID: org.ID, Name: "primary on-call", TimeZone: "Europe/London",
		Rotations: []model.Rotation{{Name: "weekly", Start: start, ShiftLength: 1, ShiftUnit: model.ShiftWeeks, MemberIDs: memberIDs[:2]}},
	}, &schedule); err != nil {
		return fmt.Errorf("create demo schedule: %w", err)
	}

	var scenario model.Scenario
	if err := client.Do(ctx, "POST", "/api/v1/scenarios", nil, model.Scenario{
		OrgID: org.ID, Name: "default",
		Rules: []model.Rule{
			{Name: "critical wakes the on-call person", Conditions: []model.Condition{{Field: "severity", Op: "in", Value: []any{"critical"}}},
				Action: model.Action{Type: model.ActionCallOnSchedule, ScheduleID: schedule.ID}},
			{Name: "payments alerts call the project", Conditions: []model.Condition{{Field: "commonLabels.team", Op: "in", Value: []any{"payments"}}},
				Action: model.Action{Type: model.ActionCallProject, ProjectID: project.ID}},
			{Name: "info is recorded only", Conditions: []model.Condition{{Field: "severity", Op: "in", Value: []any{"info"}}},
				Action: model.Action{Type: model.ActionNone}},
		},
		Default: model.Action{Type: model.ActionCallPrimary},
	}, &scenario); err != nil {
		return fmt.Errorf("create demo scenario: %w", err)
	}

	var endpoint struct {
		model.Endpoint
		WebhookURL string `json:"webhook_url"`
	}
	if err := client.Do(ctx, "POST", "/api/v1/endpoints", nil, model.Endpoint{OrgID: org.ID, Name: "alertmanager", ScenarioID: scenario.ID}, &endpoint); err != nil {
		return fmt.Errorf("create demo endpoint: %w", err)
	}
	d.state.EndpointID = endpoint.ID
	d.state.WebhookURL = endpoint.WebhookURL

	d.state.Agents = nil
	for i := 0; i < devNodes; i++ {
		var created struct {
			model.Agent
			Token string `json:"token"`
		}
		a := model.Agent{Name: fmt.Sprintf("agent%d", i+1), Trunk: fmt.Sprintf("trunk-%c", 'a'+i)}
		if err := client.Do(ctx, "POST", "/api/v1/agents", nil, a, &created); err != nil {
			return fmt.Errorf("create demo agent %s: %w", a.Name, err)
		}
		d.state.Agents = append(d.state.Agents, devAgent{ID: created.ID, Name: created.Name, Trunk: created.Trunk, Token: created.Token})
	}

	payloadPath := filepath.Join(d.dir, "alertmanager.json")
	if err := os.WriteFile(payloadPath, []byte(devAlertmanagerPayload), 0o644); err != nil {
		return fmt.Errorf("write the example payload: %w", err)
	}
	d.state.Curl = fmt.Sprintf("curl -sS -X POST -H 'Content-Type: application/json' --data-binary @%s %s", payloadPath, d.state.WebhookURL)
	return nil
}

func (d *devRun) startAgents(ctx context.Context) error {
	for i, a := range d.state.Agents {
		ag, err := agent.New(agent.Config{
			HubURLs:      d.state.HubURLs,
			Token:        a.Token,
			ARIURL:       d.sims[i].URL(),
			ARIUser:      devARIUser,
			ARIPassword:  devARIPassword,
			Application:  "ringhook-" + a.Name,
			DialTemplate: "PJSIP/{number}@" + a.Trunk,
			CallerID:     `"ringhook" <+12025550100>`,
			RingTimeout:  20 * time.Second,
			HangupDelay:  2 * time.Second,
			MaxCalls:     10,
			Logger:       d.logger.With("agent", a.Name),
		})
		if err != nil {
			return fmt.Errorf("configure agent %s: %w", a.Name, err)
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := ag.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				d.logger.Error("agent stopped", "agent_id", a.ID, "error", err)
			}
		}()
	}
	return nil
}

func (d *devRun) printWelcome() {
	w := d.out
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ringhook is running.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  Hub nodes:   ", strings.Join(d.state.HubURLs, " "))
	fmt.Fprintln(w, "  Webhook URL: ", d.state.WebhookURL)
	fmt.Fprintln(w, "  Admin token: ", d.state.AdminToken)
	fmt.Fprintln(w, "  State file:  ", d.statePath())
	fmt.Fprintln(w, "  Component log:", filepath.Join(d.dir, "dev.log"))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Send a firing Alertmanager alert:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  "+d.state.Curl)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Look around: RINGHOOK_HUB=%s RINGHOOK_TOKEN=%s ringhook calls\n", d.state.HubURLs[0], d.state.AdminToken)
	fmt.Fprintf(w, "The third PBX fails %.0f%% of calls with 503, so some calls show a retry on another agent.\n", d.failShare*100)
	fmt.Fprintln(w, "Press Ctrl-C to stop. Finished calls:")
	fmt.Fprintln(w)
}

// followCalls prints one line per call as it finishes, until ctx ends.
func (d *devRun) followCalls(ctx context.Context, client *adminclient.Client) {
	agentNames := map[string]string{}
	for _, a := range d.state.Agents {
		agentNames[a.ID] = a.Name
	}
	printed := map[string]bool{}
	since := time.Now().UTC().Add(-time.Minute)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		var calls []model.Call
		query := url.Values{"since": {since.Format(time.RFC3339)}, "limit": {"500"}}
		if err := client.List(ctx, "/api/v1/calls", query, &calls); err != nil {
			if ctx.Err() == nil {
				d.logger.Warn("list calls failed", "error", err)
			}
			continue
		}
		sort.Slice(calls, func(i, j int) bool { return calls[i].QueuedAt.Before(calls[j].QueuedAt) })
		for _, c := range calls {
			if printed[c.ID] || (c.Status != model.CallFinished && c.Status != model.CallCancelled) {
				continue
			}
			printed[c.ID] = true
			fmt.Fprintln(d.out, formatCallLine(c, agentNames))
		}
	}
}

// formatCallLine renders a finished call as one line for people.
func formatCallLine(c model.Call, agentNames map[string]string) string {
	var tried []string
	for _, a := range c.Attempts {
		name := agentNames[a.AgentID]
		if name == "" {
			name = a.AgentID
		}
		tried = append(tried, name)
	}
	disposition := c.Disposition
	if c.Status == model.CallCancelled {
		disposition = "cancelled"
	}
	line := fmt.Sprintf("%s  call %s  %s  %-9s", time.Now().Format("15:04:05"), c.ID, phone.Mask(c.Phone), disposition)
	if len(tried) > 0 {
		line += "  agents " + strings.Join(tried, ",")
	}
	if n := len(c.Attempts); n > 0 {
		last := c.Attempts[n-1]
		if last.Cause != 0 || last.CauseText != "" {
			line += fmt.Sprintf("  cause %d (%s)", last.Cause, last.CauseText)
		}
	}
	if c.Reason != "" && c.Disposition != model.DispositionAnswered {
		line += "  " + c.Reason
	}
	return line
}

func (d *devRun) stop() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	for _, sim := range d.sims {
		sim.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, h := range d.hubs {
		if err := h.Shutdown(ctx, false); err != nil {
			d.logger.Warn("hub node did not stop cleanly", "error", err)
		}
	}
	d.hubs, d.sims = nil, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return "dev-" + base64.RawURLEncoding.EncodeToString(b), nil
}

// randomGossipKey returns a random 32-byte gossip key in base64.
func randomGossipKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes for the gossip key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// devAlertmanagerPayload is a firing alert as Alertmanager 0.27 posts it.
const devAlertmanagerPayload = `{
  "receiver": "ringhook",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "PaymentsAPIDown", "severity": "critical", "team": "payments", "instance": "api-1.example.com:9090"},
      "annotations": {"summary": "Payments API is down", "description": "api-1 has failed its health check for 5 minutes."},
      "startsAt": "2026-12-04T08:12:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.com/graph?g0.expr=up%3D%3D0",
      "fingerprint": "a1b2c3d4e5f60718"
    }
  ],
  "groupLabels": {"alertname": "PaymentsAPIDown"},
  "commonLabels": {"alertname": "PaymentsAPIDown", "severity": "critical", "team": "payments"},
  "commonAnnotations": {"summary": "Payments API is down"},
  "externalURL": "http://alertmanager.example.com",
  "version": "4",
  "groupKey": "{}:{alertname=\"PaymentsAPIDown\"}",
  "truncatedAlerts": 0
}
`
