package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/phone"
)

func init() {
	var file string
	var dryRun bool
	registerCLI("apply", "create or update configuration from a YAML file; idempotent", cliCommand{
		usage: "-f FILE [--dry-run]",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&file, "f", "", "YAML `file` of organizations with their members, projects, schedules, scenarios and endpoints")
			fs.BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
		},
		maxArgs: 0,
		run: func(ctx context.Context, c *cliContext, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f FILE is required; see examples/ringhook.yaml")
			}
			cfg, err := loadApplyFile(file)
			if err != nil {
				return err
			}
			a := &applier{c: c, dryRun: dryRun}
			return a.apply(ctx, cfg)
		},
	})
}

// applyFile is the declarative configuration `ringhook apply` reads.
// Objects refer to each other by name within their organization.
type applyFile struct {
	Organizations []applyOrg `json:"organizations"`
}

type applyOrg struct {
	Name          string          `json:"name"`
	PrimaryMember string          `json:"primary_member,omitempty"`
	Brakes        model.Brakes    `json:"brakes,omitempty"`
	Projects      []applyProject  `json:"projects,omitempty"`
	Members       []applyMember   `json:"members,omitempty"`
	Schedules     []applySchedule `json:"schedules,omitempty"`
	Scenarios     []applyScenario `json:"scenarios,omitempty"`
	Endpoints     []applyEndpoint `json:"endpoints,omitempty"`
}

type applyProject struct {
	Name string `json:"name"`
}

type applyMember struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	// Region is the ISO 3166 region of a phone written without +.
	Region   string         `json:"region,omitempty"`
	Projects []string       `json:"projects,omitempty"`
	Consent  *model.Consent `json:"consent,omitempty"`
}

type applySchedule struct {
	Name      string          `json:"name"`
	TimeZone  string          `json:"time_zone"`
	Rotations []applyRotation `json:"rotations"`
	Overrides []applyOverride `json:"overrides,omitempty"`
}

type applyRotation struct {
	Name        string    `json:"name,omitempty"`
	Start       time.Time `json:"start"`
	ShiftLength int       `json:"shift_length"`
	ShiftUnit   string    `json:"shift_unit"`
	Members     []string  `json:"members"`
}

type applyOverride struct {
	Member string    `json:"member"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

type applyScenario struct {
	Name       string      `json:"name"`
	Rules      []applyRule `json:"rules,omitempty"`
	Default    applyAction `json:"default,omitempty"`
	OnResolved string      `json:"on_resolved,omitempty"`
}

type applyRule struct {
	Name       string            `json:"name,omitempty"`
	Conditions []model.Condition `json:"conditions"`
	Action     applyAction       `json:"action"`
}

// applyAction names its target by name: schedule, project or member.
type applyAction struct {
	Type     string `json:"type,omitempty"`
	Schedule string `json:"schedule,omitempty"`
	Project  string `json:"project,omitempty"`
	Member   string `json:"member,omitempty"`
}

type applyEndpoint struct {
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	// GenerateAlertKey makes a new endpoint require an X-Alert-Key, which
	// is printed once.
	GenerateAlertKey bool `json:"generate_alert_key,omitempty"`
}

// loadApplyFile reads and strictly decodes the YAML file: an unknown key is
// an error naming it, so a typo never goes unnoticed. It also rejects a
// missing or repeated name, because apply finds objects by name.
func loadApplyFile(path string) (*applyFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var cfg applyFile
	if err := model.UnmarshalYAMLStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w; see examples/ringhook.yaml", path, err)
	}
	if len(cfg.Organizations) == 0 {
		return nil, fmt.Errorf("%s defines no organizations; see examples/ringhook.yaml", path)
	}
	if err := checkNames(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &cfg, nil
}

// checkNames returns an error for an object without a name, and for two
// organizations, or two objects of one kind in one organization, with the
// same name.
func checkNames(cfg *applyFile) error {
	orgNames := make([]string, len(cfg.Organizations))
	for i, org := range cfg.Organizations {
		if org.Name == "" {
			return fmt.Errorf("organization %d has no name", i+1)
		}
		orgNames[i] = org.Name
	}
	if err := checkUnique("organization", orgNames); err != nil {
		return err
	}
	for _, org := range cfg.Organizations {
		kinds := []struct {
			kind  string
			names []string
		}{
			{"project", names(org.Projects, func(p applyProject) string { return p.Name })},
			{"member", names(org.Members, func(m applyMember) string { return m.Name })},
			{"schedule", names(org.Schedules, func(s applySchedule) string { return s.Name })},
			{"scenario", names(org.Scenarios, func(s applyScenario) string { return s.Name })},
			{"endpoint", names(org.Endpoints, func(e applyEndpoint) string { return e.Name })},
		}
		for _, k := range kinds {
			if err := checkUnique(k.kind, k.names); err != nil {
				return fmt.Errorf("organization %q: %w", org.Name, err)
			}
		}
	}
	return nil
}

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = name(item)
	}
	return out
}

// checkUnique returns an error for an empty or repeated name.
func checkUnique(kind string, names []string) error {
	seen := map[string]int{}
	for i, name := range names {
		if name == "" {
			return fmt.Errorf("%s %d has no name", kind, i+1)
		}
		if first, dup := seen[name]; dup {
			return fmt.Errorf("%s name %q is used twice (%s %d and %d): apply finds objects by name, so give each its own", kind, name, kind, first+1, i+1)
		}
		seen[name] = i
	}
	return nil
}

// applier brings the hub's objects in line with an applyFile.
type applier struct {
	c      *cliContext
	dryRun bool
	// counter numbers placeholder ids of objects a dry run would create.
	counter int
}

// orgIDs maps names to ids within one organization, per kind.
type orgIDs struct {
	projects, members, schedules, scenarios map[string]string
}

func (a *applier) apply(ctx context.Context, cfg *applyFile) error {
	var orgs []model.Organization
	if err := a.c.client.List(ctx, "/api/v1/organizations", nil, &orgs); err != nil {
		return err
	}
	problems, err := a.check(ctx, cfg, orgs)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			a.c.errorf("  %s\n", p)
		}
		return fmt.Errorf("the file has %d problem(s), listed above, and nothing was changed: fix them and run apply again", len(problems))
	}
	for _, desired := range cfg.Organizations {
		if err := a.applyOrg(ctx, desired, orgs); err != nil {
			return fmt.Errorf("organization %q: %w", desired.Name, err)
		}
	}
	if a.dryRun {
		fmt.Fprintln(a.c.stdout, "dry run: nothing was changed")
	}
	return nil
}

func (a *applier) applyOrg(ctx context.Context, desired applyOrg, existingOrgs []model.Organization) error {
	var org model.Organization
	found := false
	for _, o := range existingOrgs {
		if o.Name == desired.Name {
			org, found = o, true
			break
		}
	}
	if !found {
		org = model.Organization{Name: desired.Name, Brakes: desired.Brakes}
		if err := a.create(ctx, "organization", desired.Name, "organizations", org, &org); err != nil {
			return err
		}
	}

	ids := orgIDs{projects: map[string]string{}, members: map[string]string{}, schedules: map[string]string{}, scenarios: map[string]string{}}
	if err := a.applyProjects(ctx, org.ID, desired.Projects, ids.projects); err != nil {
		return err
	}
	if err := a.applyMembers(ctx, org.ID, desired.Members, ids); err != nil {
		return err
	}

	updated := org
	updated.Brakes = desired.Brakes
	updated.PrimaryMemberID = ""
	if desired.PrimaryMember != "" {
		id, err := resolve(ids.members, "member", desired.PrimaryMember)
		if err != nil {
			return fmt.Errorf("primary_member: %w", err)
		}
		updated.PrimaryMemberID = id
	}
	if err := a.update(ctx, "organization", org.Name, "organizations", org, updated, found || !a.dryRun); err != nil {
		return err
	}

	if err := a.applySchedules(ctx, org.ID, desired.Schedules, ids); err != nil {
		return err
	}
	if err := a.applyScenarios(ctx, org.ID, desired.Scenarios, ids); err != nil {
		return err
	}
	return a.applyEndpoints(ctx, org.ID, desired.Endpoints, ids)
}

func (a *applier) applyProjects(ctx context.Context, orgID string, desired []applyProject, ids map[string]string) error {
	var existing []model.Project
	if err := a.list(ctx, "projects", orgID, &existing); err != nil {
		return err
	}
	byName := map[string]model.Project{}
	for _, p := range existing {
		byName[p.Name] = p
		ids[p.Name] = p.ID
	}
	for _, d := range desired {
		if _, ok := byName[d.Name]; ok {
			a.report("unchanged", "project", d.Name)
			continue
		}
		created := model.Project{OrgID: orgID, Name: d.Name}
		if err := a.create(ctx, "project", d.Name, "projects", created, &created); err != nil {
			return err
		}
		ids[d.Name] = created.ID
	}
	return nil
}

func (a *applier) applyMembers(ctx context.Context, orgID string, desired []applyMember, ids orgIDs) error {
	var existing []model.Member
	if err := a.list(ctx, "members", orgID, &existing); err != nil {
		return err
	}
	byName := map[string]model.Member{}
	for _, m := range existing {
		byName[m.Name] = m
		ids.members[m.Name] = m.ID
	}
	for _, d := range desired {
		want, err := buildMember(orgID, d, ids)
		if err != nil {
			return err
		}
		if current, ok := byName[d.Name]; ok {
			if err := a.update(ctx, "member", d.Name, "members", current, want, true); err != nil {
				return err
			}
			continue
		}
		if err := a.create(ctx, "member", d.Name, "members", want, &want); err != nil {
			return err
		}
		ids.members[d.Name] = want.ID
	}
	return nil
}

func (a *applier) applySchedules(ctx context.Context, orgID string, desired []applySchedule, ids orgIDs) error {
	var existing []model.Schedule
	if err := a.list(ctx, "schedules", orgID, &existing); err != nil {
		return err
	}
	byName := map[string]model.Schedule{}
	for _, s := range existing {
		byName[s.Name] = s
		ids.schedules[s.Name] = s.ID
	}
	for _, d := range desired {
		want, err := buildSchedule(orgID, d, ids)
		if err != nil {
			return err
		}
		if current, ok := byName[d.Name]; ok {
			if err := a.update(ctx, "schedule", d.Name, "schedules", current, want, true); err != nil {
				return err
			}
			continue
		}
		if err := a.create(ctx, "schedule", d.Name, "schedules", want, &want); err != nil {
			return err
		}
		ids.schedules[d.Name] = want.ID
	}
	return nil
}

func (a *applier) applyScenarios(ctx context.Context, orgID string, desired []applyScenario, ids orgIDs) error {
	var existing []model.Scenario
	if err := a.list(ctx, "scenarios", orgID, &existing); err != nil {
		return err
	}
	byName := map[string]model.Scenario{}
	for _, s := range existing {
		byName[s.Name] = s
		ids.scenarios[s.Name] = s.ID
	}
	for _, d := range desired {
		want, err := buildScenario(orgID, d, ids)
		if err != nil {
			return err
		}
		if current, ok := byName[d.Name]; ok {
			if err := a.update(ctx, "scenario", d.Name, "scenarios", current, want, true); err != nil {
				return err
			}
			continue
		}
		if err := a.create(ctx, "scenario", d.Name, "scenarios", want, &want); err != nil {
			return err
		}
		ids.scenarios[d.Name] = want.ID
	}
	return nil
}

func (a *applier) applyEndpoints(ctx context.Context, orgID string, desired []applyEndpoint, ids orgIDs) error {
	var existing []model.Endpoint
	if err := a.list(ctx, "endpoints", orgID, &existing); err != nil {
		return err
	}
	byName := map[string]model.Endpoint{}
	for _, e := range existing {
		byName[e.Name] = e
	}
	for _, d := range desired {
		scenarioID, err := resolveEndpointScenario(d, ids)
		if err != nil {
			return err
		}
		want := model.Endpoint{OrgID: orgID, Name: d.Name, ScenarioID: scenarioID}
		if current, ok := byName[d.Name]; ok {
			if err := a.update(ctx, "endpoint", d.Name, "endpoints", current, want, true); err != nil {
				return err
			}
			continue
		}
		if a.dryRun {
			a.report("would create", "endpoint", d.Name)
			continue
		}
		body := map[string]any{"org_id": orgID, "name": d.Name, "scenario_id": scenarioID, "generate_alert_key": d.GenerateAlertKey}
		var created struct {
			model.Endpoint
			WebhookURL string `json:"webhook_url"`
			AlertKey   string `json:"alert_key"`
		}
		if err := a.c.client.Do(ctx, "POST", "/api/v1/endpoints", nil, body, &created); err != nil {
			return fmt.Errorf("create endpoint %q: %w", d.Name, err)
		}
		a.report("created", "endpoint", d.Name)
		a.c.printf("  webhook URL: %s\n", created.WebhookURL)
		if created.AlertKey != "" {
			a.c.printf("  X-Alert-Key (shown once): %s\n", created.AlertKey)
		}
	}
	return nil
}

// buildMember returns the member that d describes, with its phone in
// E.164 form and its projects resolved to ids.
func buildMember(orgID string, d applyMember, ids orgIDs) (model.Member, error) {
	number, err := phone.Normalize(d.Phone, d.Region)
	if err != nil {
		return model.Member{}, fmt.Errorf("member %q: phone %q: %w", d.Name, d.Phone, err)
	}
	want := model.Member{OrgID: orgID, Name: d.Name, Phone: number, Consent: d.Consent}
	for _, p := range d.Projects {
		id, err := resolve(ids.projects, "project", p)
		if err != nil {
			return model.Member{}, fmt.Errorf("member %q: %w", d.Name, err)
		}
		want.ProjectIDs = append(want.ProjectIDs, id)
	}
	return want, nil
}

// buildSchedule returns the schedule that d describes, with its members
// resolved to ids.
func buildSchedule(orgID string, d applySchedule, ids orgIDs) (model.Schedule, error) {
	want := model.Schedule{OrgID: orgID, Name: d.Name, TimeZone: d.TimeZone}
	for _, r := range d.Rotations {
		rot := model.Rotation{Name: r.Name, Start: r.Start, ShiftLength: r.ShiftLength, ShiftUnit: r.ShiftUnit}
		for _, m := range r.Members {
			id, err := resolve(ids.members, "member", m)
			if err != nil {
				return model.Schedule{}, fmt.Errorf("schedule %q: %w", d.Name, err)
			}
			rot.MemberIDs = append(rot.MemberIDs, id)
		}
		want.Rotations = append(want.Rotations, rot)
	}
	for _, o := range d.Overrides {
		id, err := resolve(ids.members, "member", o.Member)
		if err != nil {
			return model.Schedule{}, fmt.Errorf("schedule %q override: %w", d.Name, err)
		}
		want.Overrides = append(want.Overrides, model.Override{MemberID: id, Start: o.Start, End: o.End})
	}
	return want, nil
}

// buildScenario returns the scenario that d describes, with the targets of
// its actions resolved to ids.
func buildScenario(orgID string, d applyScenario, ids orgIDs) (model.Scenario, error) {
	want := model.Scenario{OrgID: orgID, Name: d.Name, OnResolved: d.OnResolved, Rules: []model.Rule{}}
	for i, r := range d.Rules {
		action, err := resolveAction(r.Action, ids)
		if err != nil {
			return model.Scenario{}, fmt.Errorf("scenario %q rule %d (%s): %w", d.Name, i, r.Name, err)
		}
		want.Rules = append(want.Rules, model.Rule{Name: r.Name, Conditions: r.Conditions, Action: action})
	}
	def, err := resolveAction(d.Default, ids)
	if err != nil {
		return model.Scenario{}, fmt.Errorf("scenario %q default: %w", d.Name, err)
	}
	want.Default = def
	return want, nil
}

func resolveEndpointScenario(d applyEndpoint, ids orgIDs) (string, error) {
	if d.Scenario == "" {
		return "", fmt.Errorf("endpoint %q has no scenario: set scenario to the name of one", d.Name)
	}
	id, err := resolve(ids.scenarios, "scenario", d.Scenario)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", d.Name, err)
	}
	return id, nil
}

func (a *applier) list(ctx context.Context, path, orgID string, out any) error {
	if a.dryRun && isPlaceholder(orgID) {
		return nil
	}
	return a.c.client.List(ctx, "/api/v1/"+path, url.Values{"org_id": {orgID}}, out)
}

// create posts obj and decodes the stored object into out; a dry run only
// reports it and gives out a placeholder id.
func (a *applier) create(ctx context.Context, kind, name, path string, obj, out any) error {
	if a.dryRun {
		a.report("would create", kind, name)
		a.counter++
		return setID(out, fmt.Sprintf("(new %s %d)", kind, a.counter))
	}
	if err := a.c.client.Do(ctx, "POST", "/api/v1/"+path, nil, obj, out); err != nil {
		return fmt.Errorf("create %s %q: %w", kind, name, err)
	}
	a.report("created", kind, name)
	return nil
}

// update replaces current with want when they differ in anything but ids
// and timestamps. exists is false for an object a dry run would create.
func (a *applier) update(ctx context.Context, kind, name, path string, current, want any, exists bool) error {
	id, currentMap, err := comparable(current)
	if err != nil {
		return err
	}
	_, wantMap, err := comparable(want)
	if err != nil {
		return err
	}
	if !exists || jsonEqual(currentMap, wantMap) {
		if exists {
			a.report("unchanged", kind, name)
		}
		return nil
	}
	if a.dryRun {
		a.report("would update", kind, name)
		return nil
	}
	wantMap["id"] = id
	if err := a.c.client.Do(ctx, "PUT", "/api/v1/"+path+"/"+url.PathEscape(id), nil, wantMap, nil); err != nil {
		return fmt.Errorf("update %s %q: %w", kind, name, err)
	}
	a.report("updated", kind, name)
	return nil
}

func (a *applier) report(verb, kind, name string) {
	fmt.Fprintf(a.c.stdout, "%s %s %q\n", verb, kind, name) // %q escapes control characters
}

// comparable returns an object's id and its JSON fields without the ones
// the hub sets (id, timestamps) or never serves.
func comparable(obj any) (string, map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return "", nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, err
	}
	id, _ := m["id"].(string)
	for _, key := range []string{"id", "created_at", "updated_at", "webhook_url", "alert_key_required", "alert_key_hash"} {
		delete(m, key)
	}
	return id, m, nil
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func setID(out any, id string) error {
	data, _ := json.Marshal(map[string]string{"id": id})
	return json.Unmarshal(data, out)
}

func isPlaceholder(id string) bool { return len(id) > 0 && id[0] == '(' }

func resolve(ids map[string]string, kind, name string) (string, error) {
	id, ok := ids[name]
	if !ok {
		return "", fmt.Errorf("no %s named %q in this organization; define it in the file or create it first", kind, name)
	}
	return id, nil
}

func resolveAction(a applyAction, ids orgIDs) (model.Action, error) {
	out := model.Action{Type: a.Type}
	var err error
	if a.Schedule != "" {
		if out.ScheduleID, err = resolve(ids.schedules, "schedule", a.Schedule); err != nil {
			return out, err
		}
	}
	if a.Project != "" {
		if out.ProjectID, err = resolve(ids.projects, "project", a.Project); err != nil {
			return out, err
		}
	}
	if a.Member != "" {
		if out.MemberID, err = resolve(ids.members, "member", a.Member); err != nil {
			return out, err
		}
	}
	return out, nil
}
