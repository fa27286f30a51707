package raftfsm

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/routing"
)

// intakePlan is the effect of an Intake, computed before anything is written.
type intakePlan struct {
	request model.Request
	calls   []model.Call
	// cancel lists the endpoint's queued calls a resolved notification
	// withdraws, oldest first.
	cancel []string
}

// planIntake routes an Intake at time now and applies the brakes, reading
// only. Apply stores the plan; Preview returns it.
func planIntake(tx *bolt.Tx, c *Intake, now time.Time) (*intakePlan, error) {
	if c.RequestID == "" {
		return nil, reject(CodeInvalid, "intake has no request id")
	}
	var ep model.Endpoint
	found, err := getJSON(tx, bucketEndpoints, c.EndpointID, &ep)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, reject(CodeNotFound, "endpoint %q not found", c.EndpointID)
	}
	var org model.Organization
	found, err = getJSON(tx, bucketOrganizations, ep.OrgID, &org)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, reject(CodeNotFound, "organization %q of endpoint %q not found", ep.OrgID, ep.ID)
	}
	// An endpoint without a scenario routes with an empty one: no rules,
	// and the default action, call_primary.
	scenario := model.Scenario{OrgID: ep.OrgID}
	if ep.ScenarioID != "" {
		found, err = getJSON(tx, bucketScenarios, ep.ScenarioID, &scenario)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, reject(CodeNotFound, "scenario %q of endpoint %q not found", ep.ScenarioID, ep.ID)
		}
	}

	view := &txView{tx: tx}
	dec := routing.Decide(view, view, routing.Input{Endpoint: ep, Scenario: scenario, Alert: c.Alert, Now: now})
	if view.err != nil {
		return nil, fmt.Errorf("route request %s: %w", c.RequestID, view.err)
	}

	body, truncated := capBody(c.Body)
	req := model.Request{
		ID:             c.RequestID,
		EndpointID:     ep.ID,
		OrgID:          ep.OrgID,
		ReceivedAt:     now,
		NodeID:         c.NodeID,
		Method:         c.Method,
		ContentType:    c.ContentType,
		Query:          c.Query,
		Body:           body,
		BodyTruncated:  c.BodyTruncated || truncated,
		BodySize:       c.BodySize,
		Tool:           c.Alert.Tool,
		State:          c.Alert.State,
		Severity:       c.Alert.Severity,
		SeveritySource: c.Alert.SeveritySource,
		SeverityRaw:    c.Alert.SeverityRaw,
		Message:        c.Alert.Message,
		Outcome:        dec.Outcome,
		RuleIndex:      dec.RuleIndex,
		RuleName:       dec.RuleName,
		Action:         dec.Action,
		Phones:         make([]model.PhoneDecision, 0, len(dec.Phones)),
	}
	plan := &intakePlan{}
	for _, p := range dec.Phones {
		if p.Queued {
			p.CallID = c.RequestID + "-" + strconv.Itoa(len(plan.calls)+1)
			plan.calls = append(plan.calls, model.Call{
				ID:         p.CallID,
				RequestID:  req.ID,
				EndpointID: ep.ID,
				OrgID:      ep.OrgID,
				Phone:      p.Phone,
				MemberID:   p.MemberID,
				Status:     model.CallQueued,
				QueuedAt:   now,
			})
		} else {
			p.CallID = ""
		}
		req.Phones = append(req.Phones, p)
	}
	if dec.CancelQueued {
		plan.cancel, err = queuedCallsOfEndpoint(tx, ep.ID)
		if err != nil {
			return nil, err
		}
		req.CancelledCallIDs = plan.cancel
	}
	plan.request = req
	return plan, nil
}

// capBody cuts a body to model.MaxStoredBody bytes at a character boundary.
func capBody(body string) (string, bool) {
	if len(body) <= model.MaxStoredBody {
		return body, false
	}
	cut := model.MaxStoredBody
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut], true
}

// queuedCallsOfEndpoint returns the ids of an endpoint's queued calls,
// oldest first.
func queuedCallsOfEndpoint(tx *bolt.Tx, endpointID string) ([]string, error) {
	var ids []string
	err := scanRange(tx, bucketCallsByStatus, model.CallQueued, time.Time{}, time.Time{}, false, func(id string) (bool, error) {
		var c model.Call
		found, err := getJSON(tx, bucketCalls, id, &c)
		if err != nil {
			return false, err
		}
		if found && c.EndpointID == endpointID {
			ids = append(ids, id)
		}
		return true, nil
	})
	return ids, err
}

func step(c *bolt.Cursor, back bool) []byte {
	var k []byte
	if back {
		k, _ = c.Prev()
	} else {
		k, _ = c.Next()
	}
	return k
}

// seekLast positions the cursor on the last key with the prefix, or on a
// key outside it when there is none.
func seekLast(c *bolt.Cursor, prefix []byte) []byte {
	end := prefixEnd(prefix)
	var k []byte
	if end == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(end); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	return k
}

// prefixEnd returns the smallest key greater than every key with the
// prefix, or nil when there is none.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func (a *applier) intake(c *Intake) (*Response, error) {
	if a.tx.Bucket(bucketRequests).Get([]byte(c.RequestID)) != nil {
		return nil, reject(CodeConflict, "request %q already exists", c.RequestID)
	}
	plan, err := planIntake(a.tx, c, a.now)
	if err != nil {
		return nil, err
	}

	for _, id := range plan.cancel {
		call, err := a.loadCall(id)
		if err != nil {
			return nil, err
		}
		old := call
		call.Status = model.CallCancelled
		call.Reason = "resolved by request " + c.RequestID
		call.FinishedAt = a.now
		if err := a.storeCall(&old, call); err != nil {
			return nil, err
		}
	}

	if err := a.storeRequest(plan.request); err != nil {
		return nil, err
	}
	day := dayKey(a.now)
	for _, call := range plan.calls {
		if err := a.storeCall(nil, call); err != nil {
			return nil, err
		}
		if err := a.countCall(call.OrgID, day, call.Phone); err != nil {
			return nil, err
		}
	}
	if len(plan.calls) > 0 || len(plan.cancel) > 0 {
		a.touchedCalls = true
	}
	return &Response{Request: &plan.request, Calls: plan.calls}, nil
}

func (a *applier) storeRequest(r model.Request) error {
	if _, err := putJSON(a.tx, bucketRequests, r.ID, r); err != nil {
		return err
	}
	// The time index carries the endpoint and organization so that Prune
	// can drop the other index keys without reading the request.
	if err := a.tx.Bucket(bucketRequestsByTime).Put(indexKey("", r.ReceivedAt, r.ID), pairKey(r.EndpointID, r.OrgID)); err != nil {
		return err
	}
	if err := a.tx.Bucket(bucketRequestsByEndpoint).Put(indexKey(r.EndpointID, r.ReceivedAt, r.ID), nil); err != nil {
		return err
	}
	return a.tx.Bucket(bucketRequestsByOrg).Put(indexKey(r.OrgID, r.ReceivedAt, r.ID), nil)
}

// countCall feeds the brakes: the organization's count for the day and the
// phone's last call.
func (a *applier) countCall(orgID, day, phone string) error {
	b := a.tx.Bucket(bucketCallsPerDay)
	key := pairKey(orgID, day)
	n := decodeUint(b.Get(key))
	if err := b.Put(key, encodeUint(n+1)); err != nil {
		return err
	}
	return a.tx.Bucket(bucketLastCall).Put([]byte(phone), encodeTime(a.now))
}
