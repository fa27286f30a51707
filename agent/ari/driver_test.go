package ari

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/integration/pbxsim"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startDriver runs a Driver against a new simulator until the test ends.
func startDriver(t *testing.T, app string) (*Driver, *pbxsim.Server) {
	t.Helper()
	sim := pbxsim.New(pbxsim.Config{Username: "ringhook", Password: "pw", TimeScale: 0.05})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	d, err := New(Config{URL: sim.URL(), Username: "ringhook", Password: "pw", Application: app, PingInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, "ARI event websocket up", func() bool { return d.Health().WebsocketUp })
	return d, sim
}

// clearEventFilter sets an empty allow-list, which lets every event type
// through, as in Asterisk.
func clearEventFilter(t *testing.T, sim *pbxsim.Server, app string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, sim.URL()+"/ari/applications/"+app+"/eventFilter", strings.NewReader(`{"allowed":[],"disallowed":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("ringhook", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clear the event filter: HTTP %d", resp.StatusCode)
	}
}

// ari/v5 v5.3.1 sends a nil event to its bus for a type it cannot decode,
// which panics. The relay must drop such events before the library reads
// them, and the driver must keep working.
func TestDriverDropsUnknownEventType(t *testing.T) {
	const app = "ringhook-unknown-event"
	d, sim := startDriver(t, app)
	clearEventFilter(t, sim, app)

	unknown := `{"type":"CallBroadcast","timestamp":"2026-01-01T00:00:00.000+0000",` +
		`"channel":{"id":"someone-else","state":"Ring"},"application":"` + app + `"}`
	if err := sim.EmitEvent(app, []byte(unknown)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relay drops the unknown event", func() bool { return d.relay.dropped.Load() == 1 })

	phone := "+4930999030"
	if err := sim.SetBehavior(phone, pbxsim.Behavior{Kind: pbxsim.KindBusy}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call, err := d.Originate(ctx, OriginateRequest{ChannelID: "after-unknown", Endpoint: "PJSIP/" + phone + "@trunk", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("originate after the unknown event: %v", err)
	}
	defer call.Close()

	var last Event
	for last.Type != "ChannelDestroyed" {
		select {
		case ev, ok := <-call.Events():
			if !ok {
				t.Fatalf("events closed before ChannelDestroyed; last %+v", last)
			}
			last = ev
		case <-ctx.Done():
			t.Fatalf("no ChannelDestroyed for the call after the unknown event; last %+v", last)
		}
	}
	if last.Cause != 17 {
		t.Errorf("ChannelDestroyed cause = %d, want 17 (busy)", last.Cause)
	}
	if h := d.Health(); !h.WebsocketUp {
		t.Errorf("health after the unknown event = %+v, want the websocket up", h)
	}
}
