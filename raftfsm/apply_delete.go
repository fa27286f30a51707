package raftfsm

import (
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
)

// objectKinds maps each delete command type to its bucket and name.
var objectKinds = map[CommandType]struct {
	bucket []byte
	name   string
}{
	CmdDeleteOrganization: {bucketOrganizations, "organization"},
	CmdDeleteMember:       {bucketMembers, "member"},
	CmdDeleteProject:      {bucketProjects, "project"},
	CmdDeleteSchedule:     {bucketSchedules, "schedule"},
	CmdDeleteScenario:     {bucketScenarios, "scenario"},
	CmdDeleteEndpoint:     {bucketEndpoints, "endpoint"},
	CmdDeleteAgent:        {bucketAgents, "agent"},
	CmdDeleteAdminToken:   {bucketAdminTokens, "admin token"},
}

// delete removes one configuration object. An object that another object
// still names is kept and the command rejected with conflict, so that
// routing never meets a dangling id. Requests and calls are history and
// never block a delete. Deleting an endpoint cancels its queued calls,
// which the response lists.
func (a *applier) delete(c *Delete) (*Response, error) {
	kind, ok := objectKinds[c.Kind]
	if !ok {
		return nil, reject(CodeInvalid, "command type %d does not delete an object", c.Kind)
	}
	if c.ID == "" {
		return nil, reject(CodeInvalid, "%s id is missing", kind.name)
	}
	raw := a.tx.Bucket(kind.bucket).Get([]byte(c.ID))
	if raw == nil {
		return nil, reject(CodeNotFound, "%s %q not found", kind.name, c.ID)
	}

	resp := &Response{}
	var err error
	switch c.Kind {
	case CmdDeleteOrganization:
		err = a.checkOrganizationUnused(c.ID)
	case CmdDeleteMember:
		err = a.deleteMember(c.ID)
	case CmdDeleteProject:
		err = a.checkProjectUnused(c.ID)
	case CmdDeleteSchedule:
		err = a.checkScheduleUnused(c.ID)
	case CmdDeleteScenario:
		err = a.checkScenarioUnused(c.ID)
	case CmdDeleteEndpoint:
		resp.Calls, err = a.cancelEndpointCalls(c.ID)
	}
	if err != nil {
		return nil, err
	}
	if err := a.tx.Bucket(kind.bucket).Delete([]byte(c.ID)); err != nil {
		return nil, err
	}
	return resp, nil
}

// cancelEndpointCalls cancels the queued calls of an endpoint that is being
// deleted. Without it they would still be dialed, and a resolved
// notification could no longer cancel them, because the endpoint is gone.
// Assigned calls are already with an agent and run to their end.
func (a *applier) cancelEndpointCalls(endpointID string) ([]model.Call, error) {
	ids, err := queuedCallsOfEndpoint(a.tx, endpointID)
	if err != nil {
		return nil, err
	}
	var cancelled []model.Call
	for _, id := range ids {
		call, err := a.loadCall(id)
		if err != nil {
			return nil, err
		}
		old := call
		call.Status = model.CallCancelled
		call.Reason = "endpoint " + endpointID + " was deleted"
		call.FinishedAt = a.now
		if err := a.storeCall(&old, call); err != nil {
			return nil, err
		}
		cancelled = append(cancelled, call)
	}
	return cancelled, nil
}

func (a *applier) checkOrganizationUnused(id string) error {
	if ids := idsWithPrefix(a.tx, bucketMembersByOrg, id); len(ids) > 0 {
		return reject(CodeConflict, "organization %q still has %d members; delete them first", id, len(ids))
	}
	for _, k := range []struct {
		bucket []byte
		name   string
	}{
		{bucketProjects, "projects"},
		{bucketSchedules, "schedules"},
		{bucketScenarios, "scenarios"},
		{bucketEndpoints, "endpoints"},
	} {
		n, err := countInOrg(a.tx, k.bucket, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return reject(CodeConflict, "organization %q still has %d %s; delete them first", id, n, k.name)
		}
	}
	return nil
}

func countInOrg(tx *bolt.Tx, bucket []byte, orgID string) (int, error) {
	type orgOnly struct {
		OrgID string `json:"org_id"`
	}
	items, err := listJSON(tx, bucket, func(v *orgOnly) bool { return v.OrgID == orgID })
	return len(items), err
}

func (a *applier) deleteMember(id string) error {
	var m model.Member
	if _, err := getJSON(a.tx, bucketMembers, id, &m); err != nil {
		return err
	}
	var org model.Organization
	if _, err := getJSON(a.tx, bucketOrganizations, m.OrgID, &org); err != nil {
		return err
	}
	if org.PrimaryMemberID == id {
		return reject(CodeConflict, "member %q is the primary member of organization %q; choose another primary member first", id, org.ID)
	}
	schedules, err := listJSON(a.tx, bucketSchedules, func(s *model.Schedule) bool {
		return slices.Contains(scheduleMembers(*s), id)
	})
	if err != nil {
		return err
	}
	if len(schedules) > 0 {
		return reject(CodeConflict, "member %q is on schedule %q; remove the member from it first", id, schedules[0].ID)
	}
	scenarios, err := listJSON(a.tx, bucketScenarios, func(s *model.Scenario) bool {
		return slices.ContainsFunc(scenarioActions(*s), func(act model.Action) bool { return act.MemberID == id })
	})
	if err != nil {
		return err
	}
	if len(scenarios) > 0 {
		return reject(CodeConflict, "member %q is called by scenario %q; change the scenario first", id, scenarios[0].ID)
	}

	for _, pid := range m.ProjectIDs {
		if err := a.tx.Bucket(bucketMembersByProject).Delete(pairKey(pid, id)); err != nil {
			return err
		}
	}
	return a.tx.Bucket(bucketMembersByOrg).Delete(pairKey(m.OrgID, id))
}

func (a *applier) checkProjectUnused(id string) error {
	if ids := idsWithPrefix(a.tx, bucketMembersByProject, id); len(ids) > 0 {
		return reject(CodeConflict, "project %q still has %d members; remove them from it first", id, len(ids))
	}
	scenarios, err := listJSON(a.tx, bucketScenarios, func(s *model.Scenario) bool {
		return slices.ContainsFunc(scenarioActions(*s), func(act model.Action) bool { return act.ProjectID == id })
	})
	if err != nil {
		return err
	}
	if len(scenarios) > 0 {
		return reject(CodeConflict, "project %q is called by scenario %q; change the scenario first", id, scenarios[0].ID)
	}
	return nil
}

func (a *applier) checkScheduleUnused(id string) error {
	scenarios, err := listJSON(a.tx, bucketScenarios, func(s *model.Scenario) bool {
		return slices.ContainsFunc(scenarioActions(*s), func(act model.Action) bool { return act.ScheduleID == id })
	})
	if err != nil {
		return err
	}
	if len(scenarios) > 0 {
		return reject(CodeConflict, "schedule %q is used by scenario %q; change the scenario first", id, scenarios[0].ID)
	}
	return nil
}

func (a *applier) checkScenarioUnused(id string) error {
	endpoints, err := listJSON(a.tx, bucketEndpoints, func(e *model.Endpoint) bool { return e.ScenarioID == id })
	if err != nil {
		return err
	}
	if len(endpoints) > 0 {
		return reject(CodeConflict, "scenario %q is used by endpoint %q; give the endpoint another scenario first", id, endpoints[0].ID)
	}
	return nil
}
