package agent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/integration/pbxsim"
	"github.com/ringhook/ringhook/protocol"
)

func originationsOf(sim *pbxsim.Server, channelID string) []pbxsim.Origination {
	var out []pbxsim.Origination
	for _, o := range sim.Originations() {
		if o.ChannelID == channelID {
			out = append(out, o)
		}
	}
	return out
}

func TestAgentCancelBeforeDial(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	startAgent(t, hub, sim, nil)
	phone := "+4930999020"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer}); err != nil {
		t.Fatal(err)
	}

	// Every ARI response now takes 4 s, so the attempt waits in the event
	// filter request that precedes each originate. The driver's request
	// timeout is 5 s.
	sim.SetSlow(4 * time.Second)
	defer sim.SetSlow(0)
	m := assign("call-cancel", phone)
	hub.send(protocol.TypeAssign, m)
	hub.next(protocol.TypeAssignAccepted)
	hub.send(protocol.TypeCancel, protocol.Cancel{CallRef: m.CallRef, Reason: "resolved"})

	f := finishedFor(t, hub, 1)["call-cancel"]
	if !f.Cancelled {
		t.Errorf("finished = %s cause=%d (%s), want Cancelled", f.Disposition, f.Cause, f.Error)
	}
	if n := len(originationsOf(sim, m.ChannelID)); n != 0 {
		t.Errorf("channel %s originated %d times, want 0", m.ChannelID, n)
	}
}

func TestAgentCancelAfterDialRuns(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a := startAgent(t, hub, sim, func(c *Config) { c.RingTimeout = 60 * time.Second })
	phone := "+4930999021"
	// An unreachable trunk keeps the channel up until the originate
	// timeout: 60 s simulated, 3 s real.
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindUnreachable}); err != nil {
		t.Fatal(err)
	}

	m := assign("call-late-cancel", phone)
	hub.send(protocol.TypeAssign, m)
	eventually(t, "the call is dialed", func() bool {
		if len(originationsOf(sim, m.ChannelID)) == 0 {
			return false
		}
		a.mu.Lock()
		at := a.attempts[m.ChannelID]
		a.mu.Unlock()
		if at == nil {
			t.Fatal("the attempt ended before the cancel")
		}
		at.mu.Lock()
		defer at.mu.Unlock()
		return at.dialed
	})
	hub.send(protocol.TypeCancel, protocol.Cancel{CallRef: m.CallRef, Reason: "resolved"})

	f := finishedFor(t, hub, 1)["call-late-cancel"]
	if f.Cancelled {
		t.Error("finished is Cancelled, want the dialed call to run to its end")
	}
	if f.Disposition != "failed" || !f.Retryable || f.Cause != 19 {
		t.Errorf("finished = %s retryable=%v cause=%d, want failed, retryable, cause 19", f.Disposition, f.Retryable, f.Cause)
	}
	if n := len(originationsOf(sim, m.ChannelID)); n != 1 {
		t.Errorf("channel %s originated %d times, want 1", m.ChannelID, n)
	}
}

// A call answered while the ARI websocket is down is hung up by Asterisk,
// because its Stasis application has no websocket, and the agent sees none
// of its events. The check after the reconnect must still end the attempt.
func TestAgentAnsweredDuringWebsocketGap(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	a := startAgent(t, hub, sim, func(c *Config) { c.RingTimeout = 120 * time.Second })
	phone := "+4930999022"
	// Simulated times: answered after 60 s (3 s real), before the 120 s
	// ring timeout (6 s real).
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindAnswer, AnswerAfter: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}

	m := assign("call-gap", phone)
	hub.send(protocol.TypeAssign, m)
	var p protocol.Progress
	if err := protocol.DecodePayload(hub.next(protocol.TypeProgress), &p); err != nil {
		t.Fatal(err)
	}
	if p.Progress != protocol.ProgressRinging {
		t.Fatalf("first progress = %q, want %q", p.Progress, protocol.ProgressRinging)
	}
	if err := sim.RefuseConnections(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the simulator ends the answered call", func() bool {
		o := originationsOf(sim, m.ChannelID)
		return len(o) == 1 && o[0].Ended
	})
	if o := originationsOf(sim, m.ChannelID)[0]; o.Cause != 16 {
		t.Fatalf("simulated call ended with cause %d, want 16 (answered, then hung up)", o.Cause)
	}
	if err := sim.RefuseConnections(false); err != nil {
		t.Fatal(err)
	}

	f := finishedFor(t, hub, 1)["call-gap"]
	if f.Disposition != "failed" || !f.Retryable {
		t.Errorf("finished = %s retryable=%v (%s), want failed and retryable", f.Disposition, f.Retryable, f.Error)
	}
	var raw rawReport
	if err := json.Unmarshal(f.Raw, &raw); err != nil {
		t.Fatalf("raw report %s: %v", f.Raw, err)
	}
	if !raw.EventsLost {
		t.Errorf("raw report %s: events_lost is not set", f.Raw)
	}
	eventually(t, "ARI websocket back up", func() bool { return a.Health().ARIWebsocketUp })
}

// The agent masks phone numbers in its logs exactly as the hub does, so one
// number reads the same in both logs.
func TestAgentLogsPhoneMaskedLikeHub(t *testing.T) {
	sim := startSim(t)
	hub := newFakeHub(t, true)
	logs := &logBuffer{}
	startAgent(t, hub, sim, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	number := "+12025550101"

	assertBusyCall(t, hub, sim, "call-mask", number)
	recs := logs.records("assignment accepted")
	if len(recs) != 1 {
		t.Fatalf("got %d \"assignment accepted\" log records, want 1", len(recs))
	}
	if got, want := recs[0]["phone"], phone.Mask(number); got != want {
		t.Errorf("logged phone = %v, want %q as the hub masks it", got, want)
	}
	if got := fmt.Sprint(recs[0]["phone"]); strings.Contains(got, "5550101") {
		t.Errorf("logged phone %q shows the subscriber number", got)
	}
}
