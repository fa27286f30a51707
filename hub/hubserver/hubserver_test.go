package hubserver_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/adminclient"
	"github.com/ringhook/ringhook/hub/cluster"
	"github.com/ringhook/ringhook/hub/cluster/clustertest"
	"github.com/ringhook/ringhook/hub/hubserver"
	"github.com/ringhook/ringhook/hub/model"
)

const adminToken = "test-admin-token-0123456789"

// nodeConfig is a single-node hub configuration on free loopback ports.
func nodeConfig(t *testing.T, dataDir string) hubserver.Config {
	return hubserver.Config{
		Cluster: cluster.Config{
			NodeID:          "hub1",
			DataDir:         dataDir,
			RaftBind:        clustertest.FreeAddr(t, false),
			GossipBind:      clustertest.FreeAddr(t, true),
			BootstrapExpect: 1,
			GossipLocal:     true,
		},
		HTTPAddr:       "127.0.0.1:0",
		BootstrapToken: adminToken,
		Retention:      24 * time.Hour,
		NoAgentWait:    time.Minute,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func startNode(t *testing.T, cfg hubserver.Config) *hubserver.Server {
	t.Helper()
	server, err := hubserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start hub node: %v", err)
	}
	return server
}

func shutdown(t *testing.T, server *hubserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(ctx, false); err != nil {
		t.Errorf("shut down hub node: %v", err)
	}
}

// waitStatus polls url until it returns status.
func waitStatus(t *testing.T, url string, status int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := 0
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			last = resp.StatusCode
			if last == status {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: last status %d, want %d within 20 s", url, last, status)
}

func TestSingleNodeServesAndResumes(t *testing.T) {
	dataDir := t.TempDir()
	cfg := nodeConfig(t, dataDir)
	server := startNode(t, cfg)

	waitStatus(t, server.URL+"/healthz", http.StatusOK)
	waitStatus(t, server.URL+"/readyz", http.StatusOK)

	ctx := context.Background()
	client := adminclient.New(server.URL, adminToken)
	var org model.Organization
	if err := client.Do(ctx, "POST", "/api/v1/organizations", nil, model.Organization{Name: "Acme"}, &org); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	if org.ID == "" {
		t.Fatal("created organization has no id")
	}
	var scenario model.Scenario
	if err := client.Do(ctx, "POST", "/api/v1/scenarios", nil, model.Scenario{OrgID: org.ID, Name: "default"}, &scenario); err != nil {
		t.Fatalf("create scenario: %v", err)
	}
	var endpoint model.Endpoint
	if err := client.Do(ctx, "POST", "/api/v1/endpoints", nil, model.Endpoint{OrgID: org.ID, Name: "alertmanager", ScenarioID: scenario.ID}, &endpoint); err != nil {
		t.Fatalf("create endpoint: %v", err)
	}

	resp, err := http.Post(server.URL+"/api/wh/"+endpoint.ID, "application/json", bytes.NewReader([]byte(`{"status":"firing","severity":"critical","message":"disk full"}`)))
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook status = %d, want 202", resp.StatusCode)
	}
	var requests []model.Request
	if err := client.List(ctx, "/api/v1/requests", nil, &requests); err != nil {
		t.Fatalf("list requests: %v", err)
	}
	if len(requests) != 1 {
		t.Fatalf("stored %d requests, want 1", len(requests))
	}

	shutdown(t, server)
	if _, err := http.Get(server.URL + "/healthz"); err == nil {
		t.Error("the HTTP listener still accepts requests after Shutdown")
	}

	// A new node on the same data folder resumes the stored state.
	again := nodeConfig(t, dataDir)
	again.Cluster.RaftBind = cfg.Cluster.RaftBind
	server = startNode(t, again)
	defer shutdown(t, server)
	waitStatus(t, server.URL+"/readyz", http.StatusOK)

	client = adminclient.New(server.URL, adminToken)
	var resumed model.Organization
	if err := client.Do(ctx, "GET", "/api/v1/organizations/"+org.ID, nil, nil, &resumed); err != nil {
		t.Fatalf("get organization after restart: %v", err)
	}
	if resumed.Name != "Acme" {
		t.Errorf("organization name after restart = %q, want Acme", resumed.Name)
	}
	requests = nil
	if err := client.List(ctx, "/api/v1/requests", nil, &requests); err != nil {
		t.Fatalf("list requests after restart: %v", err)
	}
	if len(requests) != 1 {
		t.Errorf("after restart: %d requests, want 1", len(requests))
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer busy.Close()
	cfg := nodeConfig(t, t.TempDir())
	cfg.HTTPAddr = busy.Addr().String()

	server, err := hubserver.Start(context.Background(), cfg)
	if err == nil {
		shutdown(t, server)
		t.Fatal("Start on a busy HTTP port succeeded")
	}
}

func TestShutdownTwiceIsSafe(t *testing.T) {
	server := startNode(t, nodeConfig(t, t.TempDir()))
	waitStatus(t, server.URL+"/healthz", http.StatusOK)
	shutdown(t, server)
	shutdown(t, server)
}
