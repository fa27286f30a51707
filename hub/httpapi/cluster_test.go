package httpapi

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/gateway"
	"github.com/ringhook/ringhook/hub/model"
)

// Compile-time checks that the real cluster node and gateway fit.
var (
	_ Backend           = (*cluster.Node)(nil)
	_ AgentHealthSource = (*gateway.Gateway)(nil)
)

// TestRealCluster runs the API on a one-node Raft cluster with real
// transports and bbolt files: configuration, a webhook that queues a
// call, and the cluster and readiness routes.
func TestRealCluster(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Handler: apiHandler(t)})
	env := clusterEnv(t, c.URL(0))

	f := env.setup(nil)
	res := env.webhook(f.endpointID, alertmanagerFiring, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("webhook: status %d: %s", res.status, res.body)
	}
	body := res.json(t)
	if body["outcome"] != model.OutcomeQueued {
		t.Errorf("outcome = %v, want queued", body["outcome"])
	}

	status := env.mustAdmin(http.StatusOK, "GET", "/cluster", nil)
	if status["leader_id"] != "node-0" || status["state"] != "Leader" {
		t.Errorf("cluster status = %v", status)
	}
	if status["applied_index"] == float64(0) {
		t.Errorf("applied_index = 0 after writes: %v", status)
	}
	if res := env.send("GET", "/readyz", nil, nil); res.status != http.StatusOK {
		t.Errorf("readyz: status %d: %s", res.status, res.body)
	}
}

// TestRealClusterFollowerWrites sends configuration and a webhook to a
// follower of a three-node cluster: the writes are forwarded to the leader
// and the follower responds 202 with the routed request.
func TestRealClusterFollowerWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := clustertest.New(t, 3, clustertest.Options{Handler: apiHandler(t)})
	follower := -1
	for i, n := range c.Nodes {
		if !n.IsLeader() {
			follower = i
			break
		}
	}
	if follower < 0 {
		t.Fatal("no follower in a three-node cluster")
	}
	env := clusterEnv(t, c.URL(follower))

	f := env.setup(nil)
	res := env.webhook(f.endpointID, alertmanagerFiring, nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("webhook to a follower: status %d: %s", res.status, res.body)
	}
	body := res.json(t)
	if body["outcome"] != model.OutcomeQueued {
		t.Errorf("outcome = %v, want queued", body["outcome"])
	}

	status := env.mustAdmin(http.StatusOK, "GET", "/cluster", nil)
	if status["state"] != "Follower" || status["leader_id"] == "" {
		t.Errorf("follower's cluster status = %v", status)
	}
	if nodes, _ := status["nodes"].([]any); len(nodes) != 3 {
		t.Errorf("nodes = %v, want three", status["nodes"])
	}
}

// apiHandler builds the API of each test cluster node, with the bootstrap
// token of the tests.
func apiHandler(t *testing.T) func(i int, n *cluster.Node) http.Handler {
	return func(i int, n *cluster.Node) http.Handler {
		srv, err := New(Config{
			Backend:         n,
			InternalHandler: n.InternalHandler(),
			Registry:        prometheus.NewRegistry(),
			Logger:          slog.New(slog.DiscardHandler),
			BootstrapToken:  testBootstrapToken,
		})
		if err != nil {
			t.Errorf("New for node %d: %v", i, err)
			return http.NotFoundHandler()
		}
		return srv.Handler()
	}
}

func clusterEnv(t *testing.T, baseURL string) *testEnv {
	return &testEnv{t: t, baseURL: baseURL, client: &http.Client{Timeout: 30 * time.Second}, token: testBootstrapToken}
}
