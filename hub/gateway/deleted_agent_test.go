package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/protocol"
	"github.com/ringhook/ringhook/raftfsm"
)

func (h *harness) deleteAgent(id string) {
	h.t.Helper()
	h.apply(&raftfsm.Delete{Kind: raftfsm.CmdDeleteAgent, ID: id})
}

func TestDeletedAgentSessionClosed(t *testing.T) {
	h := newHarness(t)
	id, token := h.addAgent("pbx-a", "trunk-a")
	cfg := testConfig()
	cfg.NoAgentWait = 1500 * time.Millisecond
	url, _ := h.start(cfg)

	a := connectHealthy(t, url, id, token)
	waitHealthy(t, h, 1)
	h.deleteAgent(id)

	ce := a.waitClose()
	if ce.Code != protocol.CloseUnauthorized {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseUnauthorized)
	}
	if !strings.Contains(ce.Reason, "deleted") {
		t.Errorf("close reason %q does not say that the agent was deleted", ce.Reason)
	}

	callID := h.queueCall()
	c := h.waitCall(callID, "finished", func(c model.Call) bool { return c.Status == model.CallFinished })
	if c.Disposition != model.DispositionFailed {
		t.Errorf("disposition = %q, want failed", c.Disposition)
	}
	if !strings.Contains(c.Reason, "no healthy agent") {
		t.Errorf("reason %q does not say that no agent was healthy", c.Reason)
	}
	if len(c.Attempts) != 0 {
		t.Errorf("attempts = %d, want 0", len(c.Attempts))
	}
}

// A dispatch whose candidates are older than a deletion gets not_found from
// the state machine. It must close that session and pick another agent for
// the same call. The test runs dispatch by hand, without Run, because the
// check at the start of each pass would otherwise close the session first.
func TestAssignToDeletedAgentPicksAnother(t *testing.T) {
	h := newHarness(t)
	idA, tokA := h.addAgent("pbx-a", "trunk-a")
	idB, tokB := h.addAgent("pbx-b", "trunk-b")
	// Round-robin from an empty cursor picks the lowest id first, so the
	// agent with the lowest id is the deleted one.
	if idB < idA {
		idA, idB, tokA, tokB = idB, idA, tokB, tokA
	}

	cfg := testConfig()
	cfg.Node = h.node
	cfg.Logger = testLogger(t)
	cfg.Registerer = prometheus.NewRegistry()
	g := New(cfg)
	h.gateway = g
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + ConnectPath

	a := connectHealthy(t, url, idA, tokA)
	b := connectHealthy(t, url, idB, tokB)
	waitHealthy(t, h, 2)

	h.deleteAgent(idA)
	callID := h.queueCall()
	queued, err := h.node.fsm.ListCallsByStatus(model.CallQueued)
	if err != nil {
		t.Fatalf("list queued calls: %v", err)
	}
	d := &dispatcher{g: g, leaderSince: time.Now().Add(-time.Hour), orphanSince: map[protocol.CallRef]time.Time{}, resolvedAt: map[string]time.Time{}}
	d.dispatch(context.Background(), time.Now(), queued)

	c := h.call(callID)
	if len(c.Attempts) != 1 {
		t.Fatalf("attempts = %d, want 1 after one dispatch", len(c.Attempts))
	}
	if c.Attempts[0].AgentID != idB {
		t.Errorf("attempt went to agent %s, want the remaining agent %s", c.Attempts[0].AgentID, idB)
	}
	b.waitAssign(callID, 1)

	ce := a.waitClose()
	if ce.Code != protocol.CloseUnauthorized {
		t.Errorf("close code = %d, want %d", ce.Code, protocol.CloseUnauthorized)
	}
	if !strings.Contains(ce.Reason, "deleted") {
		t.Errorf("close reason %q does not say that the agent was deleted", ce.Reason)
	}
}
