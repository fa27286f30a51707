//go:build e2e

package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/integration/harness"
	"github.com/ringhook/ringhook/integration/pbxsim"
)

// testAgentKilledMidCall kills the agent of a ringing call with SIGKILL.
// The hub must give the attempt up after its reconnect grace and finish
// the call on another agent.
func testAgentKilledMidCall(t *testing.T, e *env) {
	admin := e.admin()
	o := createOrg(t, admin, "agent crash", brakesOff)
	m := o.addMember(t, admin, "on-call", "+14155550161")
	// Long enough to catch the call ringing, short of the ring timeout.
	e.setBehavior(t, m.Phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: ringTimeout - time.Second})
	scenario := o.addScenario(t, admin, "call the on-call", nil, callMember(m))
	endpointID := o.addEndpoint(t, e, "agent crash", scenario.ID, "")

	d := harness.MustSendWebhook(t, e.cluster.AnyUp().URL, endpointID, harness.Webhook{
		ContentType: "application/json",
		Body:        []byte(`{"status":"firing","severity":"critical","message":"queue stuck"}`),
	})
	if len(d.Phones) != 1 || !d.Phones[0].Queued {
		t.Fatalf("phones %+v, want one queued call", d.Phones)
	}
	callID := d.Phones[0].CallID

	var victim *harness.Agent
	harness.Eventually(t, 30*time.Second, func() error {
		c, err := harness.GetCall(context.Background(), admin, callID)
		if err != nil {
			return err
		}
		if len(c.Attempts) == 0 || c.Attempts[0].Progress != "ringing" {
			return fmt.Errorf("call %s is %s with attempts %+v, want attempt 1 ringing", callID, c.Status, c.Attempts)
		}
		victim = e.agentByID(c.Attempts[0].AgentID)
		return nil
	})
	if victim == nil {
		t.Fatalf("attempt 1 of call %s went to an unknown agent", callID)
	}
	victim.Process.Kill()

	call := harness.WaitForCall(t, admin, callID, callDeadline)
	if call.Status != model.CallFinished || call.Disposition != model.DispositionAnswered {
		t.Errorf("call %s ended %s/%s (%s), want finished/answered on another agent", call.ID, call.Status, call.Disposition, call.Reason)
	}
	if len(call.Attempts) < 2 {
		t.Fatalf("call %s has %d attempts, want the lost one and a retry: %+v", call.ID, len(call.Attempts), call.Attempts)
	}
	lost := call.Attempts[0]
	if lost.AgentID != victim.ID || lost.Disposition == "" || lost.FinishedAt.IsZero() {
		t.Errorf("attempt 1 %+v, want it on %s, finished with a disposition", lost, victim.Name)
	}
	last := call.Attempts[len(call.Attempts)-1]
	if last.AgentID == victim.ID || last.Disposition != model.DispositionAnswered {
		t.Errorf("last attempt on agent %s ended %q, want answered on another agent", last.AgentID, last.Disposition)
	}

	victim.Process.Restart()
	e.cluster.WaitForHealthyAgents(60*time.Second, e.agentIDs()...)
}

// testHubRestart kills a follower, writes while it is down, and restarts
// it from its data folder: it must rejoin and serve what it missed.
func testHubRestart(t *testing.T, e *env) {
	ctx := context.Background()
	leader := e.cluster.WaitForLeader(60 * time.Second)
	var follower *harness.Hub
	for _, h := range e.cluster.Hubs {
		if h != leader {
			follower = h
			break
		}
	}
	follower.Kill()

	admin := leader.Admin
	o := createOrg(t, admin, "written while a node was down", model.Brakes{})
	scenario := o.addScenario(t, admin, "record only", nil, model.Action{Type: model.ActionNone})
	endpointID := o.addEndpoint(t, e, "while down", scenario.ID, "")
	d := harness.MustSendWebhook(t, leader.URL, endpointID, harness.Webhook{
		ContentType: "application/json",
		Body:        []byte(`{"status":"firing","message":"sent while a node was down"}`),
	})

	follower.Restart()
	harness.Eventually(t, 60*time.Second, func() error {
		var got model.Organization
		if err := follower.Admin.Do(ctx, http.MethodGet, "/api/v1/organizations/"+o.ID, nil, nil, &got); err != nil {
			return fmt.Errorf("organization on restarted %s: %w", follower.ID, err)
		}
		if got.Name != o.Name {
			return fmt.Errorf("organization on restarted %s is named %q, want %q", follower.ID, got.Name, o.Name)
		}
		req, err := harness.GetRequest(ctx, follower.Admin, d.RequestID)
		if err != nil {
			return fmt.Errorf("request on restarted %s: %w", follower.ID, err)
		}
		if req.EndpointID != endpointID || req.Outcome != model.OutcomeActionNone {
			return fmt.Errorf("request on restarted %s: endpoint %s outcome %s, want %s and action_none", follower.ID, req.EndpointID, req.Outcome, endpointID)
		}
		return nil
	})
	e.cluster.WaitForLeader(60 * time.Second)
	st, err := follower.Status(ctx)
	if err != nil {
		t.Fatalf("status of restarted %s: %v", follower.ID, err)
	}
	voters := 0
	for _, n := range st.Nodes {
		if n.Suffrage == "voter" {
			voters++
		}
	}
	if voters != len(e.cluster.Hubs) || !st.Ready {
		t.Errorf("restarted %s sees %d voters (ready %v), want %d: %+v", follower.ID, voters, st.Ready, len(e.cluster.Hubs), st.Nodes)
	}
}

// testLeaderKilledDuringBurst sends 200 webhooks from many goroutines to
// all three nodes, retrying on 503 and on refused connections as a
// monitoring tool would, and kills the leader with SIGKILL partway. Every
// webhook that got a 202 must be stored with its call, and every call must
// end with a disposition.
func testLeaderKilledDuringBurst(t *testing.T, e *env) {
	const (
		total   = 200
		workers = 16
		killAt  = 40
	)
	admin := e.admin()
	o := createOrg(t, admin, "burst", brakesOff)
	// Each webhook rings its own phone: near-simultaneous calls to one
	// phone would be held back by the cooldown, however short, because
	// the nodes stamp webhooks in an order that Raft may not keep.
	rules := make([]model.Rule, total)
	for i := range rules {
		phone := fmt.Sprintf("+1617555%04d", 100+i)
		if i >= 100 {
			phone = fmt.Sprintf("+1508555%04d", i)
		}
		m := o.addMember(t, admin, fmt.Sprintf("responder %d", i), phone)
		rules[i] = model.Rule{
			Name:       fmt.Sprintf("target %d", i),
			Conditions: []model.Condition{{Field: "target", Op: "in", Value: []any{strconv.Itoa(i)}}},
			Action:     callMember(m),
		}
	}
	scenario := o.addScenario(t, admin, "one phone per target", rules, model.Action{Type: model.ActionNone})
	endpointID := o.addEndpoint(t, e, "burst", scenario.ID, "")

	leader := e.cluster.WaitForLeader(60 * time.Second)
	hubs := e.cluster.Hubs

	type result struct {
		decision harness.WebhookDecision
		hubID    string
	}
	var (
		mu       sync.Mutex
		accepted []result
		failures []string
		sentOK   atomic.Int64
		killOnce sync.Once
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf(`{"status":"firing","severity":"critical","target":"%d"}`, i)
				d, hubID, err := sendWithRetry(hubs, i, endpointID, body)
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("webhook %d: %v", i, err))
				} else {
					accepted = append(accepted, result{decision: d, hubID: hubID})
				}
				mu.Unlock()
				if err == nil && sentOK.Add(1) == killAt {
					killOnce.Do(leader.Kill)
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	killOnce.Do(leader.Kill)

	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d of %d webhooks accepted; leader %s killed after %d", len(accepted), total, leader.ID, killAt)

	newLeader := e.cluster.WaitForLeader(60 * time.Second)
	if newLeader == leader {
		t.Fatalf("killed node %s is still the leader", leader.ID)
	}
	ctx := context.Background()
	var callIDs []string
	for _, r := range accepted {
		d := r.decision
		if d.Outcome != model.OutcomeQueued || len(d.Phones) != 1 || !d.Phones[0].Queued {
			t.Errorf("request %s (via %s): outcome %q phones %+v, want one queued call", d.RequestID, r.hubID, d.Outcome, d.Phones)
			continue
		}
		stored, err := harness.GetRequest(ctx, newLeader.Admin, d.RequestID)
		if err != nil {
			t.Errorf("request %s accepted by %s is not stored: %v", d.RequestID, r.hubID, err)
			continue
		}
		if len(stored.Phones) != 1 || stored.Phones[0].CallID != d.Phones[0].CallID {
			t.Errorf("request %s: stored phones %+v, want call %s", d.RequestID, stored.Phones, d.Phones[0].CallID)
			continue
		}
		callIDs = append(callIDs, d.Phones[0].CallID)
	}

	// Every call ends: answered on a surviving agent, or failed for want of
	// one after the no-agent wait.
	pending := map[string]bool{}
	for _, id := range callIDs {
		pending[id] = true
	}
	finished := map[string]model.Call{}
	harness.Eventually(t, 3*time.Minute, func() error {
		admin, err := e.cluster.Leader(ctx)
		if err != nil {
			return err
		}
		for id := range pending {
			c, err := harness.GetCall(ctx, admin.Admin, id)
			if err != nil {
				return fmt.Errorf("call %s: %w", id, err)
			}
			if !harness.CallDone(c) {
				continue
			}
			finished[id] = c
			delete(pending, id)
		}
		if len(pending) > 0 {
			return fmt.Errorf("%d of %d calls still queued or assigned", len(pending), len(callIDs))
		}
		return nil
	})
	dispositions := map[string]int{}
	for _, c := range finished {
		dispositions[c.Disposition]++
		if c.Disposition == "" {
			t.Errorf("call %s ended %s without a disposition (%s)", c.ID, c.Status, c.Reason)
		}
	}
	t.Logf("dispositions: %v", dispositions)
	if dispositions[model.DispositionAnswered] == 0 {
		t.Errorf("no call of the burst was answered: %v", dispositions)
	}

	// The killed leader comes back from its data and serves the burst.
	leader.Restart()
	harness.Eventually(t, 60*time.Second, func() error {
		for _, r := range accepted {
			if _, err := harness.GetRequest(ctx, leader.Admin, r.decision.RequestID); err != nil {
				return fmt.Errorf("request %s on restarted %s: %w", r.decision.RequestID, leader.ID, err)
			}
		}
		return nil
	})
	e.cluster.WaitForLeader(60 * time.Second)
}

// sendWithRetry posts one webhook, starting at node i mod n. A 503 is
// retried after its Retry-After on the same node; a refused connection
// moves on to the next node. Any status other than 202 is an error.
func sendWithRetry(hubs []*harness.Hub, i int, endpointID, body string) (harness.WebhookDecision, string, error) {
	deadline := time.Now().Add(90 * time.Second)
	next := i % len(hubs)
	var last error
	for time.Now().Before(deadline) {
		hub := hubs[next]
		answer, err := harness.SendWebhook(context.Background(), hub.URL, endpointID, harness.Webhook{
			ContentType: "application/json",
			Body:        []byte(body),
		})
		switch {
		case err != nil:
			last = err
			next = (next + 1) % len(hubs)
			time.Sleep(100 * time.Millisecond)
		case answer.Status == http.StatusServiceUnavailable:
			wait := 500 * time.Millisecond
			if e, parseErr := answer.Error(); parseErr == nil {
				last = errors.New(e.Error.Message)
			}
			if s, err := strconv.Atoi(answer.Header.Get("Retry-After")); err == nil && s > 0 && s < 10 {
				wait = time.Duration(s) * time.Second
			}
			time.Sleep(wait)
		default:
			d, err := answer.Decision()
			return d, hub.ID, err
		}
	}
	return harness.WebhookDecision{}, "", fmt.Errorf("no 202 within 90 s: %v", last)
}
