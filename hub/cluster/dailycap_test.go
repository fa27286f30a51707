package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// setupCallAll creates an organization with the given daily cap and phone
// cooldown, members with consent, a call_all scenario and an endpoint, and
// returns the organization and endpoint ids.
func setupCallAll(t *testing.T, node *cluster.Node, members int, brakes model.Brakes) (orgID, endpointID string) {
	t.Helper()
	ctx := applyCtx(t)
	orgID = uuid.NewString()
	apply := func(cmd raftfsm.Command) {
		t.Helper()
		if _, err := node.Apply(ctx, cmd); err != nil {
			t.Fatalf("set up %T: %v", cmd, err)
		}
	}
	apply(&raftfsm.PutOrganization{Create: true, Organization: model.Organization{ID: orgID, Name: "capped", Brakes: brakes}})
	for i := range members {
		apply(&raftfsm.PutMember{Create: true, Member: model.Member{
			ID:      uuid.NewString(),
			OrgID:   orgID,
			Name:    fmt.Sprintf("member %d", i),
			Phone:   fmt.Sprintf("+49151123456%02d", i),
			Consent: &model.Consent{ConfirmedBy: "test", ConfirmedAt: time.Now().UTC()},
		}})
	}
	scenarioID := uuid.NewString()
	apply(&raftfsm.PutScenario{Create: true, Scenario: model.Scenario{
		ID: scenarioID, OrgID: orgID, Name: "everyone",
		Default: model.Action{Type: model.ActionCallAll},
	}})
	endpointID = uuid.NewString()
	apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{
		ID: endpointID, OrgID: orgID, Name: "alerts", ScenarioID: scenarioID,
	}})
	return orgID, endpointID
}

func newIntake(endpointID string) *raftfsm.Intake {
	return &raftfsm.Intake{
		RequestID:  uuid.NewString(),
		EndpointID: endpointID,
		Method:     "POST",
		BodySize:   2,
		Body:       "{}",
		Alert: model.Alert{
			Format: model.FormatJSON, Fields: map[string]any{}, AlertCount: 1,
			State: model.StateFiring, Severity: model.SeverityCritical,
		},
	}
}

// TestDailyCapAcrossLeaderChange sends intakes to all three nodes at once
// while the leader is killed, with five times more phones to call than the
// cap allows. The organization must end up with exactly the cap of queued
// calls, on every node.
func TestDailyCapAcrossLeaderChange(t *testing.T) {
	t.Parallel()
	const (
		dailyCap = 100
		members  = 5
		intakes  = 100 // 500 phones to call
		workers  = 6
	)
	c := clustertest.New(t, 3)
	// A 1 ns cooldown lets every intake call every member again; only the
	// daily cap holds calls back.
	orgID, endpointID := setupCallAll(t, c.Leader(), members, model.Brakes{
		DailyCallCap:  dailyCap,
		PhoneCooldown: model.Duration(time.Nanosecond),
	})
	day := time.Now().UTC().Format(time.DateOnly)

	var (
		next     atomic.Int64
		done     atomic.Int64
		mu       sync.Mutex
		failures []error
		killOnce sync.Once
		wg       sync.WaitGroup
	)
	oldLeader := c.Leader()
	for w := range workers {
		wg.Go(func() {
			for next.Add(1) <= intakes {
				cmd := newIntake(endpointID)
				var err error
				// Retry the same proposal on the next running node when the
				// chosen one shuts down, finds no leader or cannot tell
				// whether the proposal committed. A load balancer in front
				// of the hub would retry the first two; the third is safe
				// here because the retry keeps the proposal id.
				for try := 0; try < 6; try++ {
					nodes := c.Running()
					node := nodes[(w+try)%len(nodes)]
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err = node.Apply(ctx, cmd)
					cancel()
					if !errors.Is(err, cluster.ErrShuttingDown) && !errors.Is(err, cluster.ErrNoLeader) && !errors.Is(err, cluster.ErrOutcomeUnknown) {
						break
					}
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Errorf("intake %s: %w", cmd.RequestID, err))
					mu.Unlock()
				}
				if done.Add(1) == intakes/3 {
					killOnce.Do(func() { go c.Kill(c.Index(oldLeader)) })
				}
			}
		})
	}
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	leader := c.WaitForNewLeader(oldLeader)

	// Every running node must apply all that the leader committed, and agree.
	leaderCommit := leader.Status().Commit
	for _, node := range c.Running() {
		c.WaitFor("node "+node.ID()+" caught up", func() bool {
			return node.Status().Commit >= leaderCommit && node.Ready()
		})
		calls, err := node.FSM().ListCalls(raftfsm.CallQuery{OrgID: orgID, Limit: 10 * dailyCap})
		if err != nil {
			t.Fatalf("list calls on %s: %v", node.ID(), err)
		}
		perDay := map[string]int{}
		for _, call := range calls {
			perDay[call.QueuedAt.UTC().Format(time.DateOnly)]++
		}
		for d, n := range perDay {
			if n > dailyCap {
				t.Errorf("node %s: %d calls queued on %s, cap %d", node.ID(), n, d, dailyCap)
			}
		}
		// Near midnight UTC the intakes may straddle two days; then only
		// the per-day bound above applies.
		if len(perDay) == 1 && perDay[day] != dailyCap {
			t.Errorf("node %s: %d calls queued on %s, want exactly the cap %d", node.ID(), perDay[day], day, dailyCap)
		}

		requests, err := node.FSM().ListRequests(raftfsm.RequestQuery{OrgID: orgID, Limit: 10 * intakes})
		if err != nil {
			t.Fatalf("list requests on %s: %v", node.ID(), err)
		}
		if len(requests) != intakes {
			t.Errorf("node %s: %d requests stored, want %d (each applied once)", node.ID(), len(requests), intakes)
		}
		capped := 0
		for _, r := range requests {
			for _, p := range r.Phones {
				if p.Reason == model.ReasonDailyCap {
					capped++
				}
			}
		}
		if capped == 0 {
			t.Errorf("node %s: no phone held back by the daily cap", node.ID())
		}
	}
}
