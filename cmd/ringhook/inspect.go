package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/ringhook/ringhook/hub/intake"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/routing"
)

func init() {
	register("inspect", "show how the hub reads a webhook body (and routes it with --scenario)", runInspect)
}

// maxInspectBody caps the body inspect reads from stdin.
const maxInspectBody = 16 << 20

// inspectOutput is the JSON object that inspect prints. Severity is null
// when the payload states no level.
type inspectOutput struct {
	Format         string         `json:"format"`
	Tool           string         `json:"tool,omitempty"`
	State          string         `json:"state"`
	StateSource    string         `json:"state_source,omitempty"`
	Severity       *string        `json:"severity"`
	SeveritySource string         `json:"severity_source,omitempty"`
	SeverityRaw    string         `json:"severity_raw,omitempty"`
	Message        string         `json:"message"`
	AlertCount     int            `json:"alert_count"`
	Fields         map[string]any `json:"fields"`
	MatchedRule    *matchedRule   `json:"matched_rule,omitempty"`
	Action         *model.Action  `json:"action,omitempty"`
}

// matchedRule names the scenario rule that matched, or the default action
// (index -1, Default true) when none did.
type matchedRule struct {
	Index   int    `json:"index"`
	Name    string `json:"name,omitempty"`
	Default bool   `json:"default,omitempty"`
}

func runInspect(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ringhook inspect [flags] < body")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Reads a webhook body from stdin and prints, as JSON, how the hub reads it:")
		fmt.Fprintln(stderr, "state, severity, message, fields and the sending tool. With --scenario it")
		fmt.Fprintln(stderr, "also prints the rule that matches and its action.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	method := fs.String("method", "POST", "HTTP `method` the tool sends")
	contentType := fs.String("content-type", "", "Content-Type `header` the tool sends (empty when it sends none)")
	query := fs.String("query", "", "raw query `string` the tool appends to the URL, without \"?\"")
	scenarioPath := fs.String("scenario", "", "scenario `file` (YAML or JSON) to route the alert with")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ringhook inspect:", err)
		return 2
	}

	var scenario *model.Scenario
	if *scenarioPath != "" {
		s, err := readScenario(*scenarioPath)
		if err != nil {
			fmt.Fprintln(stderr, "ringhook inspect:", err)
			return 1
		}
		scenario = &s
	}

	body, err := io.ReadAll(io.LimitReader(stdin, maxInspectBody+1))
	if err != nil {
		fmt.Fprintln(stderr, "ringhook inspect: read body from stdin:", err)
		return 1
	}
	if len(body) > maxInspectBody {
		fmt.Fprintf(stderr, "ringhook inspect: body on stdin is larger than %d bytes; trim it first\n", maxInspectBody)
		return 1
	}

	alert := intake.Parse(intake.Request{Method: *method, ContentType: *contentType, Query: *query, Body: body})
	out := newInspectOutput(alert)
	if scenario != nil {
		index, name, action := routing.Match(*scenario, alert)
		out.MatchedRule = &matchedRule{Index: index, Name: name, Default: index < 0}
		out.Action = &action
	}

	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "ringhook inspect: write result:", err)
		return 1
	}
	return 0
}

func newInspectOutput(a model.Alert) inspectOutput {
	out := inspectOutput{
		Format:         a.Format,
		Tool:           a.Tool,
		State:          a.State,
		StateSource:    a.StateSource,
		SeveritySource: a.SeveritySource,
		SeverityRaw:    a.SeverityRaw,
		Message:        a.Message,
		AlertCount:     a.AlertCount,
		Fields:         a.Fields,
	}
	if a.Severity != "" {
		severity := a.Severity
		out.Severity = &severity
	}
	return out
}

// readScenario reads and validates a scenario file. An empty scenario
// (no rules, no default) is valid, as in the API: it calls the primary
// member for every alert.
func readScenario(path string) (model.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return model.Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	var s model.Scenario
	if err := model.UnmarshalYAMLStrict(data, &s); err != nil {
		if looksLikeApplyFile(data) {
			return model.Scenario{}, fmt.Errorf("scenario file %s: %w; it looks like an apply file (it has organizations:), but --scenario takes one scenario: its name, rules, default and on_resolved at the top level", path, err)
		}
		return model.Scenario{}, fmt.Errorf("scenario file %s: %w; a scenario file has name, rules, default and on_resolved at the top level", path, err)
	}
	if err := routing.ValidateScenario(s); err != nil {
		return model.Scenario{}, fmt.Errorf("scenario file %s: %w; fix the rule and run again", path, err)
	}
	return s, nil
}

// looksLikeApplyFile reports whether data is a YAML mapping with an
// organizations key, the top level of a `ringhook apply` file.
func looksLikeApplyFile(data []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	_, ok := top["organizations"]
	return ok
}
