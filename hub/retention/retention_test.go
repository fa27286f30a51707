package retention_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/retention"
	"github.com/ringhook/ringhook/raftfsm"
	"github.com/ringhook/ringhook/raftfsm/fsmtest"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a test clock that the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storeRequest applies the commands for one endpoint and one resolved
// webhook, which stores a request and queues no call.
func storeRequest(t *testing.T, app *fsmtest.Applier, requestID string) {
	t.Helper()
	ctx := context.Background()
	cmds := []raftfsm.Command{
		&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: "org-1", Name: "Acme"}},
		&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "endpoint-1", OrgID: "org-1", Name: "alertmanager"}},
	}
	if _, err := app.FSM.(*raftfsm.FSM).GetEndpoint("endpoint-1"); err == nil {
		cmds = nil
	}
	cmds = append(cmds, &raftfsm.Intake{
		RequestID: requestID, EndpointID: "endpoint-1", Method: "POST", ContentType: "application/json",
		Body: `{"status":"resolved"}`, BodySize: 21,
		Alert: model.Alert{Format: model.FormatJSON, AlertCount: 1, State: model.StateResolved, Message: "disk full"},
	})
	for _, cmd := range cmds {
		if _, err := app.Apply(ctx, cmd); err != nil {
			t.Fatalf("apply %T: %v", cmd, err)
		}
	}
}

func TestPruneOnceDeletesOldRequests(t *testing.T) {
	fsm, err := raftfsm.New(t.TempDir(), quietLogger)
	if err != nil {
		t.Fatalf("open state machine: %v", err)
	}
	t.Cleanup(func() { fsm.Close() })
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	app := &fsmtest.Applier{FSM: fsm, NodeID: "hub1", Now: clk.Now}

	storeRequest(t, app, "req-old")
	clk.Advance(48 * time.Hour)
	storeRequest(t, app, "req-new")
	clk.Advance(time.Hour)

	pruner := &retention.Pruner{Node: leaderApplier{app}, MaxAge: 24 * time.Hour, Logger: quietLogger, Now: clk.Now}
	if err := pruner.PruneOnce(context.Background()); err != nil {
		t.Fatalf("PruneOnce: %v", err)
	}

	if _, err := fsm.GetRequest("req-old"); !errors.Is(err, raftfsm.ErrNotFound) {
		t.Errorf("request older than MaxAge: got error %v, want ErrNotFound", err)
	}
	if _, err := fsm.GetRequest("req-new"); err != nil {
		t.Errorf("request younger than MaxAge was pruned: %v", err)
	}
}

// leaderApplier is an fsmtest.Applier on a node that is always leader.
type leaderApplier struct{ *fsmtest.Applier }

func (leaderApplier) IsLeader() bool { return true }

// scriptedNode responds to Prune commands with a scripted More flag and
// records what was proposed.
type scriptedNode struct {
	mu           sync.Mutex
	leader       bool
	more         []bool
	proposed     []time.Time
	leaderChecks atomic.Int64
}

func (n *scriptedNode) IsLeader() bool {
	n.leaderChecks.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

func (n *scriptedNode) setLeader(v bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leader = v
}

func (n *scriptedNode) proposals() []time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]time.Time(nil), n.proposed...)
}

func (n *scriptedNode) Apply(_ context.Context, cmd raftfsm.Command) (*raftfsm.Response, error) {
	prune, ok := cmd.(*raftfsm.Prune)
	if !ok {
		return nil, errors.New("unexpected command")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.proposed = append(n.proposed, prune.Before)
	more := false
	if len(n.more) > 0 {
		more, n.more = n.more[0], n.more[1:]
	}
	raw, _ := json.Marshal(raftfsm.PruneResult{Requests: 1, More: more})
	return &raftfsm.Response{Object: raw}, nil
}

func TestPruneOnceRepeatsWhileMore(t *testing.T) {
	node := &scriptedNode{leader: true, more: []bool{true, true, false}}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pruner := &retention.Pruner{Node: node, MaxAge: time.Hour, Logger: quietLogger, Now: func() time.Time { return now }}

	if err := pruner.PruneOnce(context.Background()); err != nil {
		t.Fatalf("PruneOnce: %v", err)
	}
	got := node.proposals()
	if len(got) != 3 {
		t.Fatalf("proposed %d Prune commands, want 3 (two responses set More)", len(got))
	}
	for i, before := range got {
		if want := now.Add(-time.Hour); !before.Equal(want) {
			t.Errorf("Prune %d: Before = %v, want %v", i+1, before, want)
		}
	}
}

func TestPruneOnceReturnsApplyError(t *testing.T) {
	fail := errors.New("no leader")
	pruner := &retention.Pruner{Node: failingNode{fail}, Logger: quietLogger}
	if err := pruner.PruneOnce(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("PruneOnce error = %v, want %v", err, fail)
	}
}

type failingNode struct{ err error }

func (f failingNode) Apply(context.Context, raftfsm.Command) (*raftfsm.Response, error) {
	return nil, f.err
}
func (failingNode) IsLeader() bool { return true }

func TestRunProposesOnlyWhileLeader(t *testing.T) {
	node := &scriptedNode{}
	pruner := &retention.Pruner{Node: node, MaxAge: time.Hour, Interval: 5 * time.Millisecond, Logger: quietLogger}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pruner.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, "three ticks as follower", func() bool { return node.leaderChecks.Load() >= 3 })
	if n := len(node.proposals()); n != 0 {
		t.Fatalf("follower proposed %d Prune commands, want 0", n)
	}

	node.setLeader(true)
	waitFor(t, "a Prune proposal as leader", func() bool { return len(node.proposals()) >= 1 })

	node.setLeader(false)
	settled := len(node.proposals())
	asked := node.leaderChecks.Load()
	waitFor(t, "three more ticks as follower", func() bool { return node.leaderChecks.Load() >= asked+3 })
	// One tick may have read IsLeader before the switch and proposed after it.
	if n := len(node.proposals()); n > settled+1 {
		t.Fatalf("after losing leadership: %d proposals, want at most %d", n, settled+1)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	pruner := &retention.Pruner{Node: &scriptedNode{}, Interval: time.Hour, Logger: quietLogger}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pruner.Run(ctx)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
