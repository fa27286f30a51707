package pbxsim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadBehaviorFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	data := "default:\n  kind: answer\n  answer_after: 3s\nrules:\n" +
		"  - match: \"+15551234567\"\n    kind: busy\n" +
		"  - match: \"+4930*\"\n    kind: no-answer\n    ring_for: 20s\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadBehaviorFile(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if f.Default == nil || f.Default.Kind != KindAnswer || f.Default.AnswerAfter != 3*time.Second {
		t.Errorf("default = %+v", f.Default)
	}
	if len(f.Rules) != 2 || f.Rules[0].Match != "+15551234567" || f.Rules[0].Behavior.Kind != KindBusy {
		t.Fatalf("rules = %+v", f.Rules)
	}
	if f.Rules[1].Behavior.RingFor != 20*time.Second {
		t.Errorf("rule 2 ring_for = %v", f.Rules[1].Behavior.RingFor)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("rules:\n  - match: \"+1\"\n    kind: ringing\n"), 0o600)
	if _, err := LoadBehaviorFile(bad); err == nil || !strings.Contains(err.Error(), "unknown behavior kind") {
		t.Errorf("unknown kind error = %v", err)
	}
}
