package pbxsim

import (
	"net/http"
	"slices"
	"testing"
)

// An app is registered by the time its client sees the websocket open, so
// an originate sent right after the upgrade delivers every event.
func TestAppRegisteredBeforeUpgradeCompletes(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindBusy}})
	for i := 0; i < 20; i++ {
		app := "early-" + string(rune('a'+i))
		events := dialEvents(t, s, app)
		if !slices.Contains(s.ConnectedApps(), app) {
			t.Fatalf("app %s not registered when the client saw the websocket open", app)
		}

		channelID := "early-call-" + string(rune('a'+i))
		res := ariRequest(t, s, "POST", originateQuery("SIP/trunk-a/15551234567", app, channelID, 10), testUser, testPass, "")
		if res.status != http.StatusOK {
			t.Fatalf("originate status %d: %s", res.status, res.body)
		}
		if first := events.next(); first["type"] != "Dial" {
			t.Fatalf("first event = %v, want the Dial the recordings start with", first["type"])
		}
	}
}

func TestPlainGETToEventsKeepsRegistration(t *testing.T) {
	s := startSim(t, Config{})
	dialEvents(t, s, "kept")

	res := ariRequest(t, s, "GET", "/ari/events?app=kept", testUser, testPass, "")
	if res.status != http.StatusUpgradeRequired {
		t.Errorf("plain GET status = %d, want 426 as Asterisk answers", res.status)
	}
	if !slices.Contains(s.ConnectedApps(), "kept") {
		t.Errorf("a plain GET to /ari/events unregistered the live websocket's app")
	}
}
