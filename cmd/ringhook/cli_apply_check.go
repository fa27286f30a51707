package main

import (
	"context"
	"fmt"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/oncall"
	"github.com/ringhook/ringhook/hub/routing"
)

// check validates the whole file against the hub before apply writes
// anything: every name reference resolves, in the file or on the hub,
// every phone is valid and callable, and every schedule and scenario
// passes the checks the hub runs on write. Objects the file would create
// get placeholder ids. It returns one line per problem, and an error only
// when reading from the hub fails.
func (a *applier) check(ctx context.Context, cfg *applyFile, existingOrgs []model.Organization) ([]string, error) {
	var problems []string
	for _, desired := range cfg.Organizations {
		orgProblems, err := a.checkOrg(ctx, desired, existingOrgs)
		if err != nil {
			return nil, fmt.Errorf("organization %q: %w", desired.Name, err)
		}
		for _, p := range orgProblems {
			problems = append(problems, fmt.Sprintf("organization %q: %s", desired.Name, p))
		}
	}
	return problems, nil
}

func (a *applier) checkOrg(ctx context.Context, desired applyOrg, existingOrgs []model.Organization) ([]string, error) {
	orgID := placeholderID("organization", desired.Name)
	for _, o := range existingOrgs {
		if o.Name == desired.Name {
			orgID = o.ID
			break
		}
	}

	ids := orgIDs{projects: map[string]string{}, members: map[string]string{}, schedules: map[string]string{}, scenarios: map[string]string{}}
	if !isPlaceholder(orgID) {
		if err := a.readExistingIDs(ctx, orgID, ids); err != nil {
			return nil, err
		}
	}
	addPlaceholders(ids.projects, "project", names(desired.Projects, func(p applyProject) string { return p.Name }))
	addPlaceholders(ids.members, "member", names(desired.Members, func(m applyMember) string { return m.Name }))
	addPlaceholders(ids.schedules, "schedule", names(desired.Schedules, func(s applySchedule) string { return s.Name }))
	addPlaceholders(ids.scenarios, "scenario", names(desired.Scenarios, func(s applyScenario) string { return s.Name }))

	var problems []string
	for _, d := range desired.Members {
		if _, err := buildMember(orgID, d, ids); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if desired.PrimaryMember != "" {
		if _, err := resolve(ids.members, "member", desired.PrimaryMember); err != nil {
			problems = append(problems, "primary_member: "+err.Error())
		}
	}
	for _, d := range desired.Schedules {
		schedule, err := buildSchedule(orgID, d, ids)
		if err == nil {
			err = oncall.ValidateSchedule(schedule)
			if err != nil {
				err = fmt.Errorf("schedule %q: %w", d.Name, err)
			}
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, d := range desired.Scenarios {
		scenario, err := buildScenario(orgID, d, ids)
		if err == nil {
			err = routing.ValidateScenario(scenario)
			if err != nil {
				err = fmt.Errorf("scenario %q: %w", d.Name, err)
			}
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, d := range desired.Endpoints {
		if _, err := resolveEndpointScenario(d, ids); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems, nil
}

// readExistingIDs fills ids with the names and ids of the objects that an
// existing organization has on the hub.
func (a *applier) readExistingIDs(ctx context.Context, orgID string, ids orgIDs) error {
	lists := []struct {
		path string
		ids  map[string]string
	}{
		{"projects", ids.projects},
		{"members", ids.members},
		{"schedules", ids.schedules},
		{"scenarios", ids.scenarios},
	}
	for _, l := range lists {
		var objects []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := a.list(ctx, l.path, orgID, &objects); err != nil {
			return err
		}
		for _, o := range objects {
			l.ids[o.Name] = o.ID
		}
	}
	return nil
}

// addPlaceholders gives each name not yet in ids a placeholder id.
func addPlaceholders(ids map[string]string, kind string, names []string) {
	for _, name := range names {
		if _, ok := ids[name]; !ok {
			ids[name] = placeholderID(kind, name)
		}
	}
}

// placeholderID stands for the id of an object apply would create. It
// starts with "(" like the ids of a dry run, so isPlaceholder detects it.
func placeholderID(kind, name string) string {
	return fmt.Sprintf("(new %s %q)", kind, name)
}
