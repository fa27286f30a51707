package raftfsm

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/oncall"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/hub/routing"
)

// loadForPut reads the stored object for a Put: a create requires the id
// to be free, a replace requires the object to exist.
func loadForPut(tx *bolt.Tx, bucket []byte, kind, id string, create bool, old any) (bool, error) {
	if id == "" {
		return false, reject(CodeInvalid, "%s id is missing", kind)
	}
	found, err := getJSON(tx, bucket, id, old)
	if err != nil {
		return false, err
	}
	if create && found {
		return false, reject(CodeConflict, "%s %q already exists; update it instead of creating it", kind, id)
	}
	if !create && !found {
		return false, reject(CodeNotFound, "%s %q not found; create it first", kind, id)
	}
	return found, nil
}

// timestamps returns CreatedAt and UpdatedAt of a stored object: a replace
// keeps the first CreatedAt.
func (a *applier) timestamps(found bool, oldCreated time.Time) (time.Time, time.Time) {
	if found {
		return oldCreated, a.now
	}
	return a.now, a.now
}

// orgOf reads the org_id of a stored object, or reports it missing.
func orgOf(tx *bolt.Tx, bucket []byte, kind, id string) (string, error) {
	var v struct {
		OrgID string `json:"org_id"`
	}
	found, err := getJSON(tx, bucket, id, &v)
	if err != nil {
		return "", err
	}
	if !found {
		return "", reject(CodeNotFound, "%s %q not found", kind, id)
	}
	return v.OrgID, nil
}

// requireInOrg checks that an object exists and belongs to the organization.
func requireInOrg(tx *bolt.Tx, bucket []byte, kind, id, orgID string) error {
	got, err := orgOf(tx, bucket, kind, id)
	if err != nil {
		return err
	}
	if got != orgID {
		return reject(CodeInvalid, "%s %q belongs to another organization", kind, id)
	}
	return nil
}

// requireOrg checks that the organization of a new or replaced object
// exists and did not change.
func requireOrg(tx *bolt.Tx, kind, id, orgID string, found bool, oldOrgID string) error {
	if orgID == "" {
		return reject(CodeInvalid, "%s %q has no org_id", kind, id)
	}
	if found && oldOrgID != orgID {
		return reject(CodeInvalid, "%s %q cannot move from organization %q to %q; create a new one", kind, id, oldOrgID, orgID)
	}
	var org model.Organization
	ok, err := getJSON(tx, bucketOrganizations, orgID, &org)
	if err != nil {
		return err
	}
	if !ok {
		return reject(CodeNotFound, "organization %q of %s %q not found", orgID, kind, id)
	}
	return nil
}

func (a *applier) storeObject(bucket []byte, id string, v any) (*Response, error) {
	raw, err := putJSON(a.tx, bucket, id, v)
	if err != nil {
		return nil, err
	}
	return &Response{Object: json.RawMessage(raw)}, nil
}

func (a *applier) putOrganization(c *PutOrganization) (*Response, error) {
	o := c.Organization
	var old model.Organization
	found, err := loadForPut(a.tx, bucketOrganizations, "organization", o.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		return nil, reject(CodeInvalid, "organization %q has no name", o.ID)
	}
	if err := a.requireUniqueName(bucketOrganizations, "organization", scopeHub, namedObject{ID: o.ID, Name: o.Name}, found, old.Name); err != nil {
		return nil, err
	}
	if o.Brakes.DailyCallCap < 0 || o.Brakes.PhoneCooldown < 0 || o.Brakes.EndpointSuppression < 0 {
		return nil, reject(CodeInvalid, "organization %q has a negative brake value; use 0 for the default", o.ID)
	}
	if o.PrimaryMemberID != "" {
		if err := requireInOrg(a.tx, bucketMembers, "primary member", o.PrimaryMemberID, o.ID); err != nil {
			return nil, err
		}
	}
	o.CreatedAt, o.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketOrganizations, o.ID, o)
}

func (a *applier) putMember(c *PutMember) (*Response, error) {
	m := c.Member
	var old model.Member
	found, err := loadForPut(a.tx, bucketMembers, "member", m.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if err := requireOrg(a.tx, "member", m.ID, m.OrgID, found, old.OrgID); err != nil {
		return nil, err
	}
	if err := a.requireUniqueName(bucketMembers, "member", scopeOrg, namedObject{ID: m.ID, OrgID: m.OrgID, Name: m.Name}, found, old.Name); err != nil {
		return nil, err
	}
	if m.Phone == "" {
		return nil, reject(CodeInvalid, "member %q has no phone", m.ID)
	}
	if err := phone.Check(m.Phone); err != nil {
		return nil, reject(CodeInvalid, "member %q: phone %s cannot be called: %v", m.ID, phone.Mask(m.Phone), err)
	}
	m.ProjectIDs = uniqueStrings(m.ProjectIDs)
	for _, pid := range m.ProjectIDs {
		if err := requireInOrg(a.tx, bucketProjects, "project", pid, m.OrgID); err != nil {
			return nil, err
		}
	}
	m.CreatedAt, m.UpdatedAt = a.timestamps(found, old.CreatedAt)

	byProject := a.tx.Bucket(bucketMembersByProject)
	for _, pid := range old.ProjectIDs {
		if err := byProject.Delete(pairKey(pid, m.ID)); err != nil {
			return nil, err
		}
	}
	for _, pid := range m.ProjectIDs {
		if err := byProject.Put(pairKey(pid, m.ID), nil); err != nil {
			return nil, err
		}
	}
	if err := a.tx.Bucket(bucketMembersByOrg).Put(pairKey(m.OrgID, m.ID), nil); err != nil {
		return nil, err
	}
	return a.storeObject(bucketMembers, m.ID, m)
}

func (a *applier) putProject(c *PutProject) (*Response, error) {
	p := c.Project
	var old model.Project
	found, err := loadForPut(a.tx, bucketProjects, "project", p.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if err := requireOrg(a.tx, "project", p.ID, p.OrgID, found, old.OrgID); err != nil {
		return nil, err
	}
	if p.Name == "" {
		return nil, reject(CodeInvalid, "project %q has no name", p.ID)
	}
	if err := a.requireUniqueName(bucketProjects, "project", scopeOrg, namedObject{ID: p.ID, OrgID: p.OrgID, Name: p.Name}, found, old.Name); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketProjects, p.ID, p)
}

func (a *applier) putSchedule(c *PutSchedule) (*Response, error) {
	s := c.Schedule
	var old model.Schedule
	found, err := loadForPut(a.tx, bucketSchedules, "schedule", s.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if err := requireOrg(a.tx, "schedule", s.ID, s.OrgID, found, old.OrgID); err != nil {
		return nil, err
	}
	if err := oncall.ValidateSchedule(s); err != nil {
		return nil, reject(CodeInvalid, "schedule %q: %v", s.ID, err)
	}
	if err := a.requireUniqueName(bucketSchedules, "schedule", scopeOrg, namedObject{ID: s.ID, OrgID: s.OrgID, Name: s.Name}, found, old.Name); err != nil {
		return nil, err
	}
	for _, id := range scheduleMembers(s) {
		if err := requireInOrg(a.tx, bucketMembers, "member", id, s.OrgID); err != nil {
			return nil, err
		}
	}
	s.CreatedAt, s.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketSchedules, s.ID, s)
}

func (a *applier) putScenario(c *PutScenario) (*Response, error) {
	s := c.Scenario
	var old model.Scenario
	found, err := loadForPut(a.tx, bucketScenarios, "scenario", s.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if err := requireOrg(a.tx, "scenario", s.ID, s.OrgID, found, old.OrgID); err != nil {
		return nil, err
	}
	if err := routing.ValidateScenario(s); err != nil {
		return nil, reject(CodeInvalid, "scenario %q: %v", s.ID, err)
	}
	if err := a.requireUniqueName(bucketScenarios, "scenario", scopeOrg, namedObject{ID: s.ID, OrgID: s.OrgID, Name: s.Name}, found, old.Name); err != nil {
		return nil, err
	}
	for _, act := range scenarioActions(s) {
		if err := requireActionTargets(a.tx, act, s.OrgID); err != nil {
			return nil, err
		}
	}
	s.CreatedAt, s.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketScenarios, s.ID, s)
}

func requireActionTargets(tx *bolt.Tx, act model.Action, orgID string) error {
	if act.ScheduleID != "" {
		if err := requireInOrg(tx, bucketSchedules, "schedule", act.ScheduleID, orgID); err != nil {
			return err
		}
	}
	if act.ProjectID != "" {
		if err := requireInOrg(tx, bucketProjects, "project", act.ProjectID, orgID); err != nil {
			return err
		}
	}
	if act.MemberID != "" {
		if err := requireInOrg(tx, bucketMembers, "member", act.MemberID, orgID); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) putEndpoint(c *PutEndpoint) (*Response, error) {
	e := c.Endpoint
	var old model.Endpoint
	found, err := loadForPut(a.tx, bucketEndpoints, "endpoint", e.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if err := requireOrg(a.tx, "endpoint", e.ID, e.OrgID, found, old.OrgID); err != nil {
		return nil, err
	}
	if e.ScenarioID != "" {
		if err := requireInOrg(a.tx, bucketScenarios, "scenario", e.ScenarioID, e.OrgID); err != nil {
			return nil, err
		}
	}
	if err := a.requireUniqueName(bucketEndpoints, "endpoint", scopeOrg, namedObject{ID: e.ID, OrgID: e.OrgID, Name: e.Name}, found, old.Name); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketEndpoints, e.ID, e)
}

func (a *applier) putAgent(c *PutAgent) (*Response, error) {
	ag := c.Agent
	var old model.Agent
	found, err := loadForPut(a.tx, bucketAgents, "agent", ag.ID, c.Create, &old)
	if err != nil {
		return nil, err
	}
	if ag.Name == "" {
		return nil, reject(CodeInvalid, "agent %q has no name", ag.ID)
	}
	if err := a.requireUniqueName(bucketAgents, "agent", scopeHub, namedObject{ID: ag.ID, Name: ag.Name}, found, old.Name); err != nil {
		return nil, err
	}
	ag.CreatedAt, ag.UpdatedAt = a.timestamps(found, old.CreatedAt)
	return a.storeObject(bucketAgents, ag.ID, ag)
}

func (a *applier) putAdminToken(c *PutAdminToken) (*Response, error) {
	t := c.Token
	var old model.AdminToken
	if _, err := loadForPut(a.tx, bucketAdminTokens, "admin token", t.ID, true, &old); err != nil {
		return nil, err
	}
	if t.Hash == "" {
		return nil, reject(CodeInvalid, "admin token %q has no hash", t.ID)
	}
	if err := a.requireUniqueName(bucketAdminTokens, "admin token", scopeHub, namedObject{ID: t.ID, Name: t.Name}, false, ""); err != nil {
		return nil, err
	}
	t.CreatedAt = a.now
	return a.storeObject(bucketAdminTokens, t.ID, t)
}

// scheduleMembers returns every member id a schedule names.
func scheduleMembers(s model.Schedule) []string {
	var ids []string
	for _, r := range s.Rotations {
		ids = append(ids, r.MemberIDs...)
	}
	for _, o := range s.Overrides {
		ids = append(ids, o.MemberID)
	}
	return uniqueStrings(ids)
}

// scenarioActions returns the default action and every rule's action.
func scenarioActions(s model.Scenario) []model.Action {
	acts := []model.Action{s.Default}
	for _, r := range s.Rules {
		acts = append(acts, r.Action)
	}
	return acts
}

// uniqueStrings drops empty and repeated values, keeping the first order.
func uniqueStrings(in []string) []string {
	if len(in) == 0 {
		return in
	}
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
