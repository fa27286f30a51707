package pbxsim

import (
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// connectNative connects the ari/v5 native client, which the agent uses,
// with a deadline, because its Connect can block for ever.
func connectNative(t *testing.T, s *Server, appName string) ari.Client {
	t.Helper()
	type result struct {
		cl  ari.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := native.Connect(&native.Options{
			Application:  appName,
			URL:          s.URL() + "/ari",
			WebsocketURL: "ws" + s.URL()[len("http"):] + "/ari/events",
			Username:     testUser,
			Password:     testPass,
		})
		done <- result{cl, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("native.Connect: %v", r.err)
		}
		// NOTE: the client is never closed. Close in v5.3.1 writes a flag
		// that its reconnect goroutine writes too, which the race detector
		// reports. That goroutine keeps redialing the stopped simulator,
		// so each test uses an app name no other test uses.
		return r.cl
	case <-time.After(20 * time.Second):
		t.Fatal("native.Connect did not return within 20 s")
		return nil
	}
}

func TestNativeClientAnsweredCall(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindAnswer, AnswerAfter: time.Second}})
	cl := connectNative(t, s, "native-answered")

	h, err := cl.Channel().StageOriginate(nil, ari.OriginateRequest{
		Endpoint:  "PJSIP/+15551234567@trunk",
		App:       cl.ApplicationName(),
		AppArgs:   "alert,42,1",
		CallerID:  `"Alert" <+15550000000>`,
		Timeout:   30,
		ChannelID: "alert-42-1",
	})
	if err != nil {
		t.Fatalf("stage originate: %v", err)
	}
	sub := h.Subscribe(ari.Events.Dial, ari.Events.ChannelStateChange, ari.Events.StasisStart,
		ari.Events.ChannelHangupRequest, ari.Events.ChannelDestroyed)
	defer sub.Cancel()
	if err := h.Exec(); err != nil {
		t.Fatalf("originate: %v", err)
	}

	var seen []string
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-sub.Events():
			seen = append(seen, e.GetType())
			switch v := e.(type) {
			case *ari.StasisStart:
				if len(v.Args) != 3 || v.Args[1] != "42" {
					t.Errorf("StasisStart args = %v", v.Args)
				}
				if err := h.Hangup(); err != nil {
					t.Errorf("hang up: %v", err)
				}
			case *ari.ChannelDestroyed:
				if v.Cause != 16 || v.CauseTxt != "Normal Clearing" {
					t.Errorf("ChannelDestroyed = %d %q", v.Cause, v.CauseTxt)
				}
				want := "Dial ChannelStateChange Dial ChannelStateChange Dial StasisStart ChannelHangupRequest ChannelDestroyed"
				if got := joinTypes(seen); got != want {
					t.Errorf("events = %s\nwant     %s", got, want)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no ChannelDestroyed within 20 s; saw %v", seen)
		}
	}
}

func TestNativeClientErrorCodes(t *testing.T) {
	s := startSim(t, Config{Default: Behavior{Kind: KindNoAnswer}})
	s.SetBehavior("+15550000999", Behavior{Kind: KindAllocationFailure})
	cl := connectNative(t, s, "native-errors")

	_, err := cl.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint: "PJSIP/+15550000999@trunk", App: "native-errors", ChannelID: "c-alloc",
	})
	if code := native.CodeFromError(err); code != 500 {
		t.Errorf("allocation failure code = %d (%v), want 500", code, err)
	}

	req := ari.OriginateRequest{Endpoint: "PJSIP/+15551@trunk", App: "native-errors", ChannelID: "c-dup", Timeout: 3000}
	if _, err := cl.Channel().Originate(nil, req); err != nil {
		t.Fatalf("first originate: %v", err)
	}
	_, err = cl.Channel().Originate(nil, req)
	if code := native.CodeFromError(err); code != 409 {
		t.Errorf("duplicate id code = %d (%v), want 409", code, err)
	}
	list, err := cl.Channel().List(nil)
	if err != nil || len(list) != 1 || list[0].ID != "c-dup" {
		t.Errorf("channel list = %v, %v", list, err)
	}
}

func joinTypes(types []string) string {
	out := ""
	for i, typ := range types {
		if i > 0 {
			out += " "
		}
		out += typ
	}
	return out
}
