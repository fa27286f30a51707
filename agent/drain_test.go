package agent

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/integration/pbxsim"
	"github.com/ringhook/ringhook/protocol"
)

// stopInBackground starts stop and returns a channel that is closed when
// it has returned.
func stopInBackground(stop func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop()
	}()
	return done
}

func waitStopped(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// startAgentWithStop is startAgent that also returns the stop function of
// the agent's Run.
func startAgentWithStop(t *testing.T, hub *fakeHub, sim *pbxsim.Server, mutate func(*Config)) (*Agent, func()) {
	t.Helper()
	var stop func()
	a := startAgentWith(t, hub, sim, mutate, func(a *Agent) { stop = runAgent(t, a) })
	return a, stop
}

func TestAgentStopLetsRingingCallEnd(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	// The simulator rings for 60 s simulated, 3 s real.
	a, stop := startAgentWithStop(t, hub, sim, func(c *Config) { c.RingTimeout = 60 * time.Second })
	phone := "+4930999030"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer}); err != nil {
		t.Fatal(err)
	}
	m := assign("call-drain", phone)
	hub.send(protocol.TypeAssign, m)
	hub.next(protocol.TypeProgress)

	stopped := stopInBackground(stop)
	eventually(t, "the agent drains", func() bool { return a.Health().ShuttingDown })
	var hb protocol.Heartbeat
	eventually(t, "a heartbeat reports the shutdown", func() bool {
		_ = protocol.DecodePayload(hub.next(protocol.TypeHeartbeat), &hb)
		return hb.Health.ShuttingDown
	})
	if hb.Health.ARIWebsocketUp {
		t.Error("heartbeat while shutting down reports the ARI websocket up, so a hub would pick this agent")
	}

	hub.send(protocol.TypeAssign, assign("call-late", "+4930999031"))
	var r protocol.AssignRefused
	if err := protocol.DecodePayload(hub.next(protocol.TypeAssignRefused), &r); err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.CodeShuttingDown {
		t.Errorf("refusal code = %q, want %q", r.Code, protocol.CodeShuttingDown)
	}

	f := finishedFor(t, hub, 1)["call-drain"]
	if f.Disposition != "no-answer" || f.Cause != 19 {
		t.Errorf("finished = %s cause=%d (%s), want no-answer with cause 19", f.Disposition, f.Cause, f.Error)
	}
	waitStopped(t, stopped)
	if n := len(originationsOf(sim, assign("call-late", "").ChannelID)); n != 0 {
		t.Errorf("the refused call was originated %d times", n)
	}
	if o := originationsOf(sim, m.ChannelID); len(o) != 1 || !o[0].Ended {
		t.Errorf("originations of %s = %+v, want one that ended", m.ChannelID, o)
	}
}

// assertStoppedReport checks a report of a ringing call that the agent hung
// up because it stopped.
func assertStoppedReport(t *testing.T, f protocol.Finished) {
	t.Helper()
	if f.Disposition != "failed" || !f.Retryable {
		t.Errorf("finished = %s retryable=%v, want failed and retryable", f.Disposition, f.Retryable)
	}
	if !strings.Contains(f.Error, "agent stopped") {
		t.Errorf("finished error %q does not say that the agent stopped", f.Error)
	}
	if strings.Contains(f.Error, "lost") {
		t.Errorf("finished error %q claims lost events", f.Error)
	}
	var raw rawReport
	if err := json.Unmarshal(f.Raw, &raw); err != nil {
		t.Fatalf("raw report %s: %v", f.Raw, err)
	}
	if raw.EventsLost {
		t.Errorf("raw report %s: events_lost is set", f.Raw)
	}
}

// assertHungUpByAgent checks that the simulator ended the channel through
// the agent's DELETE (cause 16), not through its own ring timeout (19).
func assertHungUpByAgent(t *testing.T, sim *pbxsim.Server, channelID string) {
	t.Helper()
	eventually(t, "the channel ended", func() bool {
		o := originationsOf(sim, channelID)
		return len(o) == 1 && o[0].Ended
	})
	if o := originationsOf(sim, channelID)[0]; o.Cause != 16 {
		t.Errorf("channel %s ended with cause %d, want 16 (hung up by the agent)", channelID, o.Cause)
	}
}

func TestAgentStopHangsUpAfterDrainTimeout(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, false)
	state := t.TempDir() + "/state.json"
	// The simulator would ring for 600 s simulated, 30 s real.
	_, stop := startAgentWithStop(t, hub, sim, func(c *Config) {
		c.RingTimeout = 600 * time.Second
		c.DrainTimeout = 200 * time.Millisecond
		c.StateFile = state
	})
	phone := "+4930999032"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer}); err != nil {
		t.Fatal(err)
	}
	m := assign("call-drain-timeout", phone)
	hub.send(protocol.TypeAssign, m)
	hub.next(protocol.TypeProgress)

	stopped := stopInBackground(stop)
	f := finishedFor(t, hub, 1)["call-drain-timeout"]
	assertStoppedReport(t, f)
	assertHungUpByAgent(t, sim, m.ChannelID)
	waitStopped(t, stopped)

	// The hub never acknowledged, so the report stays in the state file.
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var reports []report
	if err := json.Unmarshal(data, &reports); err != nil {
		t.Fatalf("state file %s: %v", data, err)
	}
	found := false
	for _, r := range reports {
		found = found || r.ID == f.ReportID
	}
	if !found {
		t.Errorf("state file %s lacks report %s", data, f.ReportID)
	}
}

func TestAgentAbortHangsUpAtOnce(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a, stop := startAgentWithStop(t, hub, sim, func(c *Config) { c.RingTimeout = 600 * time.Second })
	phone := "+4930999033"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindNoAnswer}); err != nil {
		t.Fatal(err)
	}
	m := assign("call-abort", phone)
	hub.send(protocol.TypeAssign, m)
	hub.next(protocol.TypeProgress)

	stopped := stopInBackground(stop)
	eventually(t, "the agent drains", func() bool { return a.Health().ShuttingDown })
	a.Abort()

	assertStoppedReport(t, finishedFor(t, hub, 1)["call-abort"])
	assertHungUpByAgent(t, sim, m.ChannelID)
	waitStopped(t, stopped)
}
