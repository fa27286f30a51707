package main

import (
	"os"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/adminclient"
)

// exampleWith writes a copy of the example file with each old string
// replaced by its new one, and text appended.
func exampleWith(t *testing.T, replacements [][2]string, appended string) string {
	t.Helper()
	data, err := os.ReadFile(examplePath(t))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	content := string(data)
	for _, r := range replacements {
		if !strings.Contains(content, r[0]) {
			t.Fatalf("example file no longer contains %q", r[0])
		}
		content = strings.Replace(content, r[0], r[1], 1)
	}
	return writeFile(t, "ringhook.yaml", content+appended)
}

func TestApplyChecksWholeFileFirst(t *testing.T) {
	server := startTestHub(t)
	client := adminclient.New(server.URL, testAdminToken)
	blockedPhone := [2]string{`phone: "(202) 555-0102"`, `phone: "911"`}
	tests := []struct {
		name         string
		replacements [][2]string
		appended     string
		want         []string
	}{
		{name: "blocked phone", replacements: [][2]string{blockedPhone},
			want: []string{`member "Bob"`, "blocked", "nothing was changed"}},
		{name: "unknown schedule", replacements: [][2]string{{"schedule: primary on-call}", "schedule: night shift}"}},
			want: []string{`no schedule named "night shift"`}},
		{name: "invalid schedule", replacements: [][2]string{{"shift_unit: weeks", "shift_unit: fortnights"}},
			want: []string{`schedule "primary on-call"`, `"fortnights"`}},
		{name: "invalid scenario", replacements: [][2]string{{"op: in, value: [info]", "op: sounds_like, value: [info]"}},
			want: []string{`scenario "production"`, `"sounds_like"`}},
		{name: "unknown primary member", replacements: [][2]string{{"primary_member: Alice", "primary_member: Carol"}},
			want: []string{`primary_member: no member named "Carol"`}},
		{name: "two problems", replacements: [][2]string{blockedPhone, {"schedule: primary on-call}", "schedule: night shift}"}},
			want: []string{`member "Bob"`, `no schedule named "night shift"`, "2 problem(s)"}},
		{name: "duplicate member", replacements: [][2]string{{"      - name: Bob\n", "      - name: Alice\n"}},
			want: []string{`member name "Alice" is used twice`}},
		{name: "duplicate endpoint", replacements: [][2]string{{"      - name: grafana\n", "      - name: alertmanager\n"}},
			want: []string{`endpoint name "alertmanager" is used twice`}},
		{name: "duplicate organization", appended: "  - name: Acme\n",
			want: []string{`organization name "Acme" is used twice`}},
		{name: "two documents", appended: "---\norganizations:\n  - name: Beta\n",
			want: []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := exampleWith(t, tt.replacements, tt.appended)
			code, stdout, stderr := runCommand(t, "", "apply", "-f", file)
			if code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if strings.Contains(stdout, "created ") {
				t.Errorf("apply created objects before failing:\n%s", stdout)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
			if counts := objectCounts(t, client); counts["organizations"] != 0 {
				t.Errorf("rejected apply changed the hub: %v", counts)
			}
		})
	}
}

func TestApplyChecksExistingOrganization(t *testing.T) {
	server := startTestHub(t)
	client := adminclient.New(server.URL, testAdminToken)
	mustRun(t, "", "apply", "-f", examplePath(t))
	before := objectCounts(t, client)

	file := exampleWith(t, [][2]string{
		{"      - name: platform\n", "      - name: platform\n      - name: billing\n"},
		{`phone: "(202) 555-0102"`, `phone: "911"`},
	}, "")
	code, stdout, stderr := runCommand(t, "", "apply", "-f", file)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stderr, `member "Bob"`) {
		t.Errorf("stderr %q does not name the member with the blocked phone", stderr)
	}
	if strings.Contains(stdout, "created ") {
		t.Errorf("apply created objects before failing:\n%s", stdout)
	}
	if after := objectCounts(t, client); !equalCounts(after, before) {
		t.Errorf("rejected apply changed the hub: %v, before %v", after, before)
	}

	// A file that refers to an object that only the hub has is valid.
	file = exampleWith(t, [][2]string{{"      - name: platform\n", ""}}, "")
	out := mustRun(t, "", "apply", "-f", file)
	if strings.Contains(out, "created ") || strings.Contains(out, "updated ") {
		t.Errorf("apply of a file without the project platform changed something:\n%s", out)
	}
}
