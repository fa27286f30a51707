package raftfsm

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
)

// DefaultListLimit is the number of requests or calls a query returns when
// its Limit is 0.
const DefaultListLimit = 100

// RequestQuery filters ListRequests. Empty fields match everything; Since
// is inclusive and Until exclusive.
type RequestQuery struct {
	EndpointID string
	OrgID      string
	Outcome    string
	Since      time.Time
	Until      time.Time
	Limit      int
}

// CallQuery filters ListCalls. Empty fields match everything; Since and
// Until bound QueuedAt, Since inclusive and Until exclusive.
type CallQuery struct {
	EndpointID  string
	OrgID       string
	Phone       string
	Disposition string
	Status      string
	RequestID   string
	Since       time.Time
	Until       time.Time
	Limit       int
}

func getObject[T any](f *FSM, bucket []byte, kind, id string) (T, error) {
	var v T
	err := f.view(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucket, id, &v)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
		}
		return nil
	})
	return v, err
}

func listObjects[T any](f *FSM, bucket []byte, keep func(*T) bool) ([]T, error) {
	var out []T
	err := f.view(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON(tx, bucket, keep)
		return err
	})
	return out, err
}

// GetOrganization returns one organization or ErrNotFound.
func (f *FSM) GetOrganization(id string) (model.Organization, error) {
	return getObject[model.Organization](f, bucketOrganizations, "organization", id)
}

// ListOrganizations returns every organization ordered by id.
func (f *FSM) ListOrganizations() ([]model.Organization, error) {
	return listObjects[model.Organization](f, bucketOrganizations, nil)
}

// GetMember returns one member or ErrNotFound.
func (f *FSM) GetMember(id string) (model.Member, error) {
	return getObject[model.Member](f, bucketMembers, "member", id)
}

// ListMembers returns the members of an organization, or of all when orgID
// is empty, ordered by id.
func (f *FSM) ListMembers(orgID string) ([]model.Member, error) {
	return listObjects(f, bucketMembers, func(m *model.Member) bool { return orgID == "" || m.OrgID == orgID })
}

// GetProject returns one project or ErrNotFound.
func (f *FSM) GetProject(id string) (model.Project, error) {
	return getObject[model.Project](f, bucketProjects, "project", id)
}

// ListProjects returns the projects of an organization, or of all when
// orgID is empty, ordered by id.
func (f *FSM) ListProjects(orgID string) ([]model.Project, error) {
	return listObjects(f, bucketProjects, func(p *model.Project) bool { return orgID == "" || p.OrgID == orgID })
}

// GetSchedule returns one schedule or ErrNotFound.
func (f *FSM) GetSchedule(id string) (model.Schedule, error) {
	return getObject[model.Schedule](f, bucketSchedules, "schedule", id)
}

// ListSchedules returns the schedules of an organization, or of all when
// orgID is empty, ordered by id.
func (f *FSM) ListSchedules(orgID string) ([]model.Schedule, error) {
	return listObjects(f, bucketSchedules, func(s *model.Schedule) bool { return orgID == "" || s.OrgID == orgID })
}

// GetScenario returns one scenario or ErrNotFound.
func (f *FSM) GetScenario(id string) (model.Scenario, error) {
	return getObject[model.Scenario](f, bucketScenarios, "scenario", id)
}

// ListScenarios returns the scenarios of an organization, or of all when
// orgID is empty, ordered by id.
func (f *FSM) ListScenarios(orgID string) ([]model.Scenario, error) {
	return listObjects(f, bucketScenarios, func(s *model.Scenario) bool { return orgID == "" || s.OrgID == orgID })
}

// GetEndpoint returns one endpoint or ErrNotFound.
func (f *FSM) GetEndpoint(id string) (model.Endpoint, error) {
	return getObject[model.Endpoint](f, bucketEndpoints, "endpoint", id)
}

// ListEndpoints returns the endpoints of an organization, or of all when
// orgID is empty, ordered by id.
func (f *FSM) ListEndpoints(orgID string) ([]model.Endpoint, error) {
	return listObjects(f, bucketEndpoints, func(e *model.Endpoint) bool { return orgID == "" || e.OrgID == orgID })
}

// GetAgent returns one agent or ErrNotFound.
func (f *FSM) GetAgent(id string) (model.Agent, error) {
	return getObject[model.Agent](f, bucketAgents, "agent", id)
}

// ListAgents returns every agent ordered by id.
func (f *FSM) ListAgents() ([]model.Agent, error) {
	return listObjects[model.Agent](f, bucketAgents, nil)
}

// GetAdminToken returns one admin token or ErrNotFound.
func (f *FSM) GetAdminToken(id string) (model.AdminToken, error) {
	return getObject[model.AdminToken](f, bucketAdminTokens, "admin token", id)
}

// ListAdminTokens returns every admin token ordered by id.
func (f *FSM) ListAdminTokens() ([]model.AdminToken, error) {
	return listObjects[model.AdminToken](f, bucketAdminTokens, nil)
}

// GetRequest returns one request or ErrNotFound.
func (f *FSM) GetRequest(id string) (model.Request, error) {
	return getObject[model.Request](f, bucketRequests, "request", id)
}

// GetCall returns one call with its attempts or ErrNotFound.
func (f *FSM) GetCall(id string) (model.Call, error) {
	return getObject[model.Call](f, bucketCalls, "call", id)
}

func limitOf(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return n
}

// ListRequests returns matching requests, newest first.
func (f *FSM) ListRequests(q RequestQuery) ([]model.Request, error) {
	index, field := bucketRequestsByTime, ""
	switch {
	case q.EndpointID != "":
		index, field = bucketRequestsByEndpoint, q.EndpointID
	case q.OrgID != "":
		index, field = bucketRequestsByOrg, q.OrgID
	}
	limit := limitOf(q.Limit)
	var out []model.Request
	err := f.view(func(tx *bolt.Tx) error {
		return scanRange(tx, index, field, q.Since, q.Until, true, func(id string) (bool, error) {
			var r model.Request
			found, err := getJSON(tx, bucketRequests, id, &r)
			if err != nil || !found {
				return true, err
			}
			if (q.EndpointID == "" || r.EndpointID == q.EndpointID) &&
				(q.OrgID == "" || r.OrgID == q.OrgID) &&
				(q.Outcome == "" || r.Outcome == q.Outcome) {
				out = append(out, r)
			}
			return len(out) < limit, nil
		})
	})
	return out, err
}

// ListCalls returns matching calls, newest first by QueuedAt. With Status
// set, calls come oldest first, because the dispatcher serves the queue in
// that order. With RequestID set, they come in call number order.
func (f *FSM) ListCalls(q CallQuery) ([]model.Call, error) {
	limit := limitOf(q.Limit)
	match := func(c *model.Call) bool {
		return (q.EndpointID == "" || c.EndpointID == q.EndpointID) &&
			(q.OrgID == "" || c.OrgID == q.OrgID) &&
			(q.Phone == "" || c.Phone == q.Phone) &&
			(q.Disposition == "" || c.Disposition == q.Disposition) &&
			(q.Status == "" || c.Status == q.Status) &&
			(q.RequestID == "" || c.RequestID == q.RequestID) &&
			(q.Since.IsZero() || !c.QueuedAt.Before(q.Since)) &&
			(q.Until.IsZero() || c.QueuedAt.Before(q.Until))
	}
	var out []model.Call
	err := f.view(func(tx *bolt.Tx) error {
		if q.RequestID != "" {
			calls, err := callsWithRequestID(tx, q.RequestID)
			for _, c := range calls {
				if match(&c) && len(out) < limit {
					out = append(out, c)
				}
			}
			return err
		}

		index, field, newestFirst := bucketCallsByTime, "", true
		switch {
		case q.Status != "":
			index, field, newestFirst = bucketCallsByStatus, q.Status, false
		case q.EndpointID != "":
			index, field = bucketCallsByEndpoint, q.EndpointID
		case q.Phone != "":
			index, field = bucketCallsByPhone, q.Phone
		}
		return scanRange(tx, index, field, q.Since, q.Until, newestFirst, func(id string) (bool, error) {
			var c model.Call
			found, err := getJSON(tx, bucketCalls, id, &c)
			if err != nil || !found {
				return true, err
			}
			if match(&c) {
				out = append(out, c)
			}
			return len(out) < limit, nil
		})
	})
	return out, err
}

// ListCallsByStatus returns every call with the status, oldest first by
// QueuedAt, without a limit; the dispatcher reads the queue with it.
func (f *FSM) ListCallsByStatus(status string) ([]model.Call, error) {
	var out []model.Call
	err := f.view(func(tx *bolt.Tx) error {
		return scanRange(tx, bucketCallsByStatus, status, time.Time{}, time.Time{}, false, func(id string) (bool, error) {
			var c model.Call
			found, err := getJSON(tx, bucketCalls, id, &c)
			if err == nil && found {
				out = append(out, c)
			}
			return true, err
		})
	})
	return out, err
}

// callsWithRequestID returns the calls whose ids are "<requestID>-<n>", in
// order of n.
func callsWithRequestID(tx *bolt.Tx, requestID string) ([]model.Call, error) {
	prefix := []byte(requestID + "-")
	type numbered struct {
		n    int
		call model.Call
	}
	var found []numbered
	c := tx.Bucket(bucketCalls).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n, err := strconv.Atoi(string(k[len(prefix):]))
		if err != nil || strings.Contains(string(k[len(prefix):]), "-") {
			continue
		}
		var call model.Call
		if _, err := getJSON(tx, bucketCalls, string(k), &call); err != nil {
			return nil, err
		}
		found = append(found, numbered{n, call})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].n < found[j].n })
	out := make([]model.Call, len(found))
	for i, f := range found {
		out[i] = f.call
	}
	return out, nil
}

// scanRange walks the ids of one field value of an index bucket whose time
// is in [since, until), newest or oldest first, until fn returns false. A
// zero since or until leaves that end open.
func scanRange(tx *bolt.Tx, bucket []byte, field string, since, until time.Time, newestFirst bool, fn func(id string) (bool, error)) error {
	prefix := indexPrefix(field)
	lo := prefix
	if !since.IsZero() {
		lo = indexKey(field, since, "")
	}
	var hi []byte // exclusive; nil means the end of the prefix
	if !until.IsZero() {
		hi = indexKey(field, until, "")
	}
	inRange := func(k []byte) bool {
		return k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
	}

	c := tx.Bucket(bucket).Cursor()
	var k []byte
	switch {
	case !newestFirst:
		k, _ = c.Seek(lo)
	case hi == nil:
		k = seekLast(c, prefix)
	default:
		if k, _ = c.Seek(hi); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	for ; inRange(k); k = step(c, newestFirst) {
		more, err := fn(idFromIndexKey(k, len(prefix)))
		if err != nil || !more {
			return err
		}
	}
	return nil
}
