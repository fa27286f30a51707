package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
)

// How the test handler serves POST /internal/v1/apply.
const (
	applyNormally = iota
	// applySilently applies the entry on the leader and never sends a
	// response, as a leader that commits and then stalls or loses its
	// connection.
	applySilently
	// rejectNotLeader responds with not_leader without applying.
	rejectNotLeader
)

// newOutcomeCluster starts three nodes whose internal apply route behaves
// as mode selects, with short timeouts so that Apply gives up within
// seconds.
func newOutcomeCluster(t *testing.T, mode *atomic.Int32) *clustertest.Cluster {
	// release ends the silent handlers before the cluster shuts down.
	release := make(chan struct{})
	c := clustertest.New(t, 3, clustertest.Options{
		Configure: func(i int, cfg *cluster.Config) {
			cfg.LeaderWait = 3 * time.Second
			cfg.ApplyTimeout = time.Second
		},
		Handler: func(i int, n *cluster.Node) http.Handler {
			internal := n.InternalHandler()
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/internal/v1/apply" {
					internal.ServeHTTP(w, r)
					return
				}
				switch mode.Load() {
				case applySilently:
					internal.ServeHTTP(httptest.NewRecorder(), r)
					select {
					case <-r.Context().Done():
					case <-release:
					}
				case rejectNotLeader:
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusMisdirectedRequest)
					fmt.Fprint(w, `{"error":{"code":"not_leader","message":"test handler rejects every apply"}}`)
				default:
					internal.ServeHTTP(w, r)
				}
			})
		},
	})
	t.Cleanup(func() { close(release) })
	return c
}

func TestApplyForwardWithoutAnswer(t *testing.T) {
	t.Parallel()
	var mode atomic.Int32
	c := newOutcomeCluster(t, &mode)
	follower := c.Followers()[0]
	mode.Store(applySilently)

	cmd := newOrg("unanswered")
	_, err := follower.Apply(applyCtx(t), cmd)
	if !errors.Is(err, cluster.ErrOutcomeUnknown) {
		t.Fatalf("apply with an unanswered forward: err = %v, want ErrOutcomeUnknown", err)
	}
	if errors.Is(err, cluster.ErrNoLeader) {
		t.Errorf("apply with an unanswered forward: err = %v also matches ErrNoLeader", err)
	}

	// The leader did commit it, and every retry carried the same proposal
	// id, so the organization exists once.
	leader := c.Leader()
	waitForOrg(t, c, leader, cmd.Organization.ID)
	orgs, err := leader.FSM().ListOrganizations()
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Errorf("organizations = %d, want 1", len(orgs))
	}
}

func TestApplyContextEndsDuringForward(t *testing.T) {
	t.Parallel()
	var mode atomic.Int32
	c := newOutcomeCluster(t, &mode)
	follower := c.Followers()[0]
	mode.Store(applySilently)

	// The context ends before the forward's own timeout (ApplyTimeout).
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := follower.Apply(ctx, newOrg("cut short"))
	if !errors.Is(err, cluster.ErrOutcomeUnknown) {
		t.Errorf("apply whose context ended during the forward: err = %v, want ErrOutcomeUnknown", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("apply whose context ended during the forward: err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestApplyRejectedByEveryLeader(t *testing.T) {
	t.Parallel()
	var mode atomic.Int32
	c := newOutcomeCluster(t, &mode)
	follower := c.Followers()[0]
	mode.Store(rejectNotLeader)

	cmd := newOrg("rejected")
	_, err := follower.Apply(applyCtx(t), cmd)
	if !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("apply rejected with not_leader: err = %v, want ErrNoLeader", err)
	}
	if errors.Is(err, cluster.ErrOutcomeUnknown) {
		t.Errorf("apply rejected with not_leader: err = %v also matches ErrOutcomeUnknown", err)
	}
	if _, err := c.Leader().FSM().GetOrganization(cmd.Organization.ID); err == nil {
		t.Error("a command that every leader rejected was applied")
	}
}
