package raftfsm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

func (a *applier) loadCall(id string) (model.Call, error) {
	var c model.Call
	found, err := getJSON(a.tx, bucketCalls, id, &c)
	if err != nil {
		return c, err
	}
	if !found {
		return c, reject(CodeNotFound, "call %q not found", id)
	}
	return c, nil
}

// storeCall writes a call and its index keys; old is the stored version,
// or nil for a new call. Only the status index changes after creation.
func (a *applier) storeCall(old *model.Call, c model.Call) error {
	if _, err := putJSON(a.tx, bucketCalls, c.ID, c); err != nil {
		return err
	}
	byStatus := a.tx.Bucket(bucketCallsByStatus)
	if old != nil && old.Status != c.Status {
		if err := byStatus.Delete(indexKey(old.Status, old.QueuedAt, c.ID)); err != nil {
			return err
		}
	}
	if old == nil || old.Status != c.Status {
		if err := byStatus.Put(indexKey(c.Status, c.QueuedAt, c.ID), nil); err != nil {
			return err
		}
	}
	a.touchedCalls = true
	if old != nil {
		return nil
	}
	if err := a.tx.Bucket(bucketCallsByTime).Put(indexKey("", c.QueuedAt, c.ID), nil); err != nil {
		return err
	}
	if err := a.tx.Bucket(bucketCallsByEndpoint).Put(indexKey(c.EndpointID, c.QueuedAt, c.ID), nil); err != nil {
		return err
	}
	return a.tx.Bucket(bucketCallsByPhone).Put(indexKey(c.Phone, c.QueuedAt, c.ID), nil)
}

func (a *applier) assignAttempt(c *AssignAttempt) (*Response, error) {
	call, err := a.loadCall(c.CallID)
	if err != nil {
		return nil, err
	}
	if call.Status != model.CallQueued {
		return nil, reject(CodeConflict, "call %q is %s, not queued", c.CallID, call.Status)
	}
	if c.Attempt != len(call.Attempts)+1 {
		return nil, reject(CodeConflict, "call %q has %d attempts; the next one is %d, not %d", c.CallID, len(call.Attempts), len(call.Attempts)+1, c.Attempt)
	}
	if c.Attempt > model.MaxAttempts {
		return nil, reject(CodeConflict, "call %q has had the maximum of %d attempts", c.CallID, model.MaxAttempts)
	}
	if c.AgentID == "" {
		return nil, reject(CodeInvalid, "attempt %d of call %q has no agent id", c.Attempt, c.CallID)
	}
	if a.tx.Bucket(bucketAgents).Get([]byte(c.AgentID)) == nil {
		return nil, reject(CodeNotFound, "agent %q not found", c.AgentID)
	}

	old := call
	call.Attempts = append(call.Attempts[:len(call.Attempts):len(call.Attempts)], model.Attempt{
		Number:     c.Attempt,
		AgentID:    c.AgentID,
		Trunk:      c.Trunk,
		AssignedAt: a.now,
	})
	call.Status = model.CallAssigned
	if err := a.storeCall(&old, call); err != nil {
		return nil, err
	}
	return &Response{Call: &call}, nil
}

// Attempt progress values.
var progressValues = map[string]bool{"dialing": true, "ringing": true, "answered": true}

// loadAttempt returns a call and the index of one of its attempts.
func (a *applier) loadAttempt(callID string, number int) (model.Call, int, error) {
	call, err := a.loadCall(callID)
	if err != nil {
		return call, 0, err
	}
	if number < 1 || number > len(call.Attempts) {
		return call, 0, reject(CodeNotFound, "call %q has no attempt %d", callID, number)
	}
	return call, number - 1, nil
}

func (a *applier) attemptProgress(c *AttemptProgress) (*Response, error) {
	if !progressValues[c.Progress] {
		return nil, reject(CodeInvalid, "attempt progress %q is invalid; use dialing, ringing or answered", c.Progress)
	}
	call, i, err := a.loadAttempt(c.CallID, c.Attempt)
	if err != nil {
		return nil, err
	}
	// A late progress report after the attempt finished changes nothing.
	if !call.Attempts[i].FinishedAt.IsZero() {
		return &Response{Call: &call}, nil
	}
	call.Attempts[i].Progress = c.Progress
	if _, err := putJSON(a.tx, bucketCalls, call.ID, call); err != nil {
		return nil, err
	}
	return &Response{Call: &call}, nil
}

func (a *applier) attemptFinished(c *AttemptFinished) (*Response, error) {
	if c.Disposition == "" {
		return nil, reject(CodeInvalid, "attempt %d of call %q has no disposition", c.Attempt, c.CallID)
	}
	call, i, err := a.loadAttempt(c.CallID, c.Attempt)
	if err != nil {
		return nil, err
	}
	if !call.Attempts[i].FinishedAt.IsZero() {
		return &Response{Duplicate: true, Call: &call}, nil
	}

	at := a.reportedTime(c.At)
	old := call
	call.Attempts = append([]model.Attempt(nil), call.Attempts...)
	att := &call.Attempts[i]
	att.FinishedAt = at
	att.Disposition = c.Disposition
	att.Retryable = c.Retryable
	att.Cause = c.Cause
	att.CauseText = c.CauseText
	att.SIPCode = c.SIPCode
	att.Error = c.Error
	att.Raw = capRaw(c.Raw)
	if c.Disposition == model.DispositionAnswered && att.Progress == "" {
		att.Progress = "answered"
	}

	// Only the current attempt of an assigned call moves the call; a report
	// for a call that FailCall already finished is recorded and no more.
	if call.Status == model.CallAssigned && i == len(call.Attempts)-1 {
		if err := a.finishAttempt(&call, c, at); err != nil {
			return nil, err
		}
	}
	if err := a.storeCall(&old, call); err != nil {
		return nil, err
	}
	return &Response{Call: &call}, nil
}

// finishAttempt moves the call on after its current attempt ended.
func (a *applier) finishAttempt(call *model.Call, c *AttemptFinished, at time.Time) error {
	switch {
	case c.Cancelled:
		call.Status = model.CallCancelled
		call.Disposition = c.Disposition
		call.Reason = "cancelled during attempt " + fmt.Sprint(c.Attempt)
		call.FinishedAt = at
	case c.Disposition == model.DispositionAnswered:
		call.Status = model.CallFinished
		call.Disposition = model.DispositionAnswered
		call.FinishedAt = at
		return a.suppressEndpoint(call, at)
	case c.Retryable && len(call.Attempts) < model.MaxAttempts:
		call.Status = model.CallQueued
	case c.Retryable:
		call.Status = model.CallFinished
		call.Disposition = model.DispositionFailed
		call.Reason = "all " + fmt.Sprint(len(call.Attempts)) + " attempts failed: " + describeAttempts(call.Attempts)
		call.FinishedAt = at
	default:
		call.Status = model.CallFinished
		call.Disposition = c.Disposition
		call.Reason = attemptReason(call.Attempts[len(call.Attempts)-1])
		call.FinishedAt = at
	}
	return nil
}

// suppressEndpoint starts the endpoint's suppression after an answered
// call; an earlier, longer suppression is kept.
func (a *applier) suppressEndpoint(call *model.Call, at time.Time) error {
	var org model.Organization
	if _, err := getJSON(a.tx, bucketOrganizations, call.OrgID, &org); err != nil {
		return err
	}
	until := at.Add(org.Brakes.Effective().EndpointSuppression.Std())
	b := a.tx.Bucket(bucketSuppressedUntil)
	if raw := b.Get([]byte(call.EndpointID)); raw != nil && decodeTime(raw).After(until) {
		return nil
	}
	return b.Put([]byte(call.EndpointID), encodeTime(until))
}

// reportedTime is a time an agent reported, kept within the effective
// time so that a fast agent clock cannot move state into the future.
func (a *applier) reportedTime(t time.Time) time.Time {
	if t.IsZero() || t.After(a.now) {
		return a.now
	}
	return t.UTC()
}

// maxRaw is the largest raw ARI record stored with an attempt.
const maxRaw = model.MaxStoredBody

// capRaw replaces a raw record over maxRaw bytes with a note of its size,
// because cutting JSON would leave it invalid.
func capRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxRaw {
		return raw
	}
	return json.RawMessage(fmt.Sprintf(`{"truncated":true,"size":%d}`, len(raw)))
}

func describeAttempts(atts []model.Attempt) string {
	parts := make([]string, 0, len(atts))
	for _, att := range atts {
		parts = append(parts, fmt.Sprintf("attempt %d on agent %s (trunk %s): %s", att.Number, att.AgentID, att.Trunk, attemptReason(att)))
	}
	return strings.Join(parts, "; ")
}

// attemptReason describes how an attempt ended.
func attemptReason(att model.Attempt) string {
	s := att.Disposition
	if att.Cause != 0 {
		s += fmt.Sprintf(", cause %d", att.Cause)
		if att.CauseText != "" {
			s += " (" + att.CauseText + ")"
		}
	}
	if att.SIPCode != 0 {
		s += fmt.Sprintf(", SIP %d", att.SIPCode)
	}
	if att.Error != "" {
		s += ": " + att.Error
	}
	return s
}

func (a *applier) failCall(c *FailCall) (*Response, error) {
	call, err := a.loadCall(c.CallID)
	if err != nil {
		return nil, err
	}
	if call.Status != model.CallQueued && call.Status != model.CallAssigned {
		return nil, reject(CodeConflict, "call %q is already %s", c.CallID, call.Status)
	}
	old := call
	call.Status = model.CallFinished
	call.Disposition = model.DispositionFailed
	call.Reason = c.Reason
	call.FinishedAt = a.now
	if err := a.storeCall(&old, call); err != nil {
		return nil, err
	}
	return &Response{Call: &call}, nil
}

// cancelCalls cancels the listed calls that are still queued; calls in
// any other state, and unknown ids, are left as they are.
func (a *applier) cancelCalls(c *CancelCalls) (*Response, error) {
	resp := &Response{}
	for _, id := range c.CallIDs {
		var call model.Call
		found, err := getJSON(a.tx, bucketCalls, id, &call)
		if err != nil {
			return nil, err
		}
		if !found || call.Status != model.CallQueued {
			continue
		}
		old := call
		call.Status = model.CallCancelled
		call.Reason = c.Reason
		call.FinishedAt = a.now
		if err := a.storeCall(&old, call); err != nil {
			return nil, err
		}
		resp.Calls = append(resp.Calls, call)
	}
	return resp, nil
}
