package pbxsim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringhook/ringhook/agent/classify"
	"github.com/ringhook/ringhook/integration/shareddata"
)

// recordedCall is one recording: the originate response and the events.
type recordedCall struct {
	status int
	body   map[string]any
	events []map[string]any
}

func loadRecording(t *testing.T, path string) recordedCall {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		t.Fatalf("recording %s is not a JSON array of objects: %v", path, err)
	}
	var rec recordedCall
	for _, item := range items {
		if raw, ok := item["originate_status"]; ok {
			_ = json.Unmarshal(raw, &rec.status)
			_ = json.Unmarshal(item["originate_body"], &rec.body)
			continue
		}
		if raw, ok := item["event"]; ok {
			var e map[string]any
			_ = json.Unmarshal(raw, &e)
			rec.events = append(rec.events, e)
		}
	}
	if rec.status == 0 {
		t.Fatalf("recording %s has no originate response", path)
	}
	return rec
}

// eventFacts returns what the agent may depend on in an event: type,
// channel state, dial status, causes, soft flag, variable name, args.
func eventFacts(e map[string]any) string {
	ch, _ := e["channel"].(map[string]any)
	if ch == nil {
		ch, _ = e["peer"].(map[string]any)
	}
	facts := []string{fmt.Sprint(e["type"]), "state=" + fmt.Sprint(ch["state"])}
	for _, key := range []string{"dialstatus", "dialstring", "cause", "cause_txt", "soft", "tech_cause", "variable", "args"} {
		if v, ok := e[key]; ok {
			facts = append(facts, fmt.Sprintf("%s=%v", key, v))
		}
	}
	if dp, ok := ch["dialplan"].(map[string]any); ok {
		facts = append(facts, "app_name="+fmt.Sprint(dp["app_name"]))
	}
	return strings.Join(facts, " ")
}

// shape returns the sorted key paths of a JSON value, so two objects with
// the same fields and different values compare equal.
func shape(prefix string, v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			out = append(out, prefix+"."+k)
			out = append(out, shape(prefix+"."+k, sub)...)
		}
	case []any:
		for _, sub := range x {
			out = append(out, shape(prefix+"[]", sub)...)
		}
	}
	sort.Strings(out)
	return out
}

func TestConformanceWithRecordings(t *testing.T) {
	dir := shareddata.Dir(t, "ari-traces")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s (%v)", dir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kind, ok := KindForRecording(file)
			if !ok {
				t.Fatalf("no behavior kind reproduces recording %s; add it to KindForRecording", name)
			}
			rec := loadRecording(t, file)
			timeout := 10
			if name == "ringing-no-answer" {
				timeout = 6
			}

			const scale = 0.02
			s := startSim(t, Config{Default: Behavior{Kind: kind}, TimeScale: scale})
			events := dialEvents(t, s, "trace")

			res := ariRequest(t, s, "POST", originateQuery("SIP/trunk-a/15551234567", "trace", "trace-call-1", timeout), testUser, testPass, "")
			if res.status != rec.status {
				t.Fatalf("originate status = %d, recording %d; body %s", res.status, rec.status, res.body)
			}
			var body map[string]any
			if err := json.Unmarshal(res.body, &body); err != nil {
				t.Fatalf("originate body is not a JSON object: %s", res.body)
			}
			if got, want := shape("", body), shape("", rec.body); !reflect.DeepEqual(got, want) {
				t.Errorf("originate body fields = %v, recording %v", got, want)
			}
			for _, key := range []string{"id", "state"} {
				if body[key] != rec.body[key] {
					t.Errorf("originate body %s = %v, recording %v", key, body[key], rec.body[key])
				}
			}
			if caller, want := fmt.Sprint(body["caller"]), fmt.Sprint(rec.body["caller"]); caller != want {
				t.Errorf("originate body caller = %s, recording %s", caller, want)
			}

			var got []map[string]any
			for {
				e := events.next()
				got = append(got, e)
				if e["type"] == "ChannelStateChange" && channelID(e) == "trace-call-1" {
					ch := e["channel"].(map[string]any)
					if ch["state"] == "Up" {
						// The recorder hung up 2 s after Up.
						time.AfterFunc(time.Duration(2*scale*float64(time.Second)), func() {
							ariRequest(t, s, "DELETE", "/ari/channels/trace-call-1", testUser, testPass, "")
						})
					}
				}
				if e["type"] == "ChannelDestroyed" && channelID(e) == "trace-call-1" {
					break
				}
			}

			if len(got) != len(rec.events) {
				t.Errorf("event types = %v\nrecording   = %v", types(got), types(rec.events))
			}
			for i := 0; i < len(got) && i < len(rec.events); i++ {
				if g, w := eventFacts(got[i]), eventFacts(rec.events[i]); g != w {
					t.Errorf("event %d = %s\nrecording = %s", i, g, w)
				}
				if g, w := shape("", got[i]), shape("", rec.events[i]); !reflect.DeepEqual(g, w) {
					t.Errorf("event %d (%v) fields = %v\nrecording fields = %v", i, got[i]["type"], g, w)
				}
				if got[i]["application"] != "trace" || got[i]["asterisk_id"] != rec.events[i]["asterisk_id"] {
					t.Errorf("event %d application/asterisk_id = %v/%v", i, got[i]["application"], got[i]["asterisk_id"])
				}
			}
			if t.Failed() {
				return
			}
			checkExpectation(t, kind, rec)
			checkSameClassification(t, file, res.status, got)

			if status := ariRequest(t, s, "GET", "/ari/channels/trace-call-1", testUser, testPass, "").status; status != 404 {
				t.Errorf("GET destroyed channel status = %d, want 404", status)
			}
			origs := s.Originations()
			if len(origs) != 1 || origs[0].Number != "15551234567" || origs[0].Kind != kind || !origs[0].Ended {
				t.Errorf("originations = %+v", origs)
			}
		})
	}
}

// checkSameClassification asserts that the agent's classifier reads the
// simulated call as it reads the recording: same disposition, retry
// decision and cause.
func checkSameClassification(t *testing.T, recordingPath string, originateStatus int, simulated []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(recordingPath)
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	recorded, err := classify.ParseRecording(data)
	if err != nil {
		t.Fatalf("parse recording: %v", err)
	}

	sim := classify.Input{ChannelID: "trace-call-1", OriginateStatus: originateStatus}
	for i, e := range simulated {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("encode simulated event %d: %v", i, err)
		}
		ev, err := classify.ParseEvent(raw)
		if err != nil {
			t.Fatalf("simulated event %d does not parse: %v", i, err)
		}
		sim.Events = append(sim.Events, ev)
	}

	want, got := classify.Classify(recorded), classify.Classify(sim)
	if got.Disposition != want.Disposition {
		t.Errorf("simulation classified %q, recording %q", got.Disposition, want.Disposition)
	}
	if got.Retryable != want.Retryable {
		t.Errorf("simulation retryable = %v, recording %v", got.Retryable, want.Retryable)
	}
	if got.Cause != want.Cause || got.CauseText != want.CauseText {
		t.Errorf("simulation cause %d %q, recording %d %q", got.Cause, got.CauseText, want.Cause, want.CauseText)
	}
}

func TestKindsCoverRecordings(t *testing.T) {
	kinds := map[string]bool{}
	for _, k := range Kinds() {
		kinds[k] = true
	}
	for _, name := range Recordings() {
		kind, ok := KindForRecording(name + ".json")
		if !ok || !kinds[kind] {
			t.Errorf("recording %s maps to %q (known %v)", name, kind, ok)
		}
	}
	if _, ok := KindForRecording("/x/unknown.json"); ok {
		t.Errorf("KindForRecording accepted an unknown file")
	}
}

// checkExpectation compares a recording with Expect(kind).
func checkExpectation(t *testing.T, kind string, rec recordedCall) {
	t.Helper()
	want, ok := Expect(kind)
	if !ok {
		t.Fatalf("Expect(%q) unknown", kind)
	}
	if got := types(rec.events); strings.Join(got, ",") != strings.Join(want.Events, ",") {
		t.Errorf("Expect(%s).Events = %v\nrecording       = %v", kind, want.Events, got)
	}
	var rang, answered bool
	lastDial := ""
	for _, e := range rec.events {
		switch e["type"] {
		case "Dial":
			lastDial, _ = e["dialstatus"].(string)
			rang = rang || lastDial == "RINGING"
		case "ChannelStateChange":
			rang = rang || e["channel"].(map[string]any)["state"] == "Ringing"
		case "StasisStart":
			answered = true
		}
	}
	last := rec.events[len(rec.events)-1]
	if want.Rang != rang || want.Answered != answered || want.LastDialStatus != lastDial {
		t.Errorf("Expect(%s) rang/answered/last dial = %v/%v/%q, recording %v/%v/%q",
			kind, want.Rang, want.Answered, want.LastDialStatus, rang, answered, lastDial)
	}
	if last["cause"] != float64(want.Cause) || last["cause_txt"] != want.CauseText || want.HTTPStatus != rec.status {
		t.Errorf("Expect(%s) = %d %q status %d, recording %v %v status %d",
			kind, want.Cause, want.CauseText, want.HTTPStatus, last["cause"], last["cause_txt"], rec.status)
	}
}
