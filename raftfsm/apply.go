package raftfsm

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
)

// applier applies the commands of one batch inside one write transaction.
type applier struct {
	tx     *bolt.Tx
	logger *slog.Logger
	// lastTime is the effective time of the last command applied.
	lastTime time.Time
	// now is the effective time of the command being applied.
	now          time.Time
	touchedCalls bool
}

// proposalRecord remembers an applied proposal for deduplication.
type proposalRecord struct {
	Index uint64      `json:"index"`
	Time  time.Time   `json:"time"`
	Type  CommandType `json:"type"`
	// RequestID is set for an accepted Intake; its answer is rebuilt from
	// the stored request and calls instead of being copied here.
	RequestID string    `json:"request_id,omitempty"`
	Response  *Response `json:"response,omitempty"`
}

func reject(code, format string, args ...any) error {
	return &ApplyError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// applyEntry decodes and applies one command entry. A returned error is
// fatal for the node; rejections are in the Response.
func (a *applier) applyEntry(l *raft.Log) (*Response, error) {
	cmd, err := Decode(l.Data)
	if err != nil {
		typ := -1
		if len(l.Data) > 0 {
			typ = int(l.Data[0])
		}
		return nil, &decodeError{index: l.Index, typ: typ, err: err}
	}
	meta := cmd.CommandMeta()

	// Time never goes backwards: a new leader with a slower clock inherits
	// the last applied time.
	a.now = meta.Time.UTC()
	if a.now.Before(a.lastTime) {
		a.now = a.lastTime
	}
	a.lastTime = a.now

	if meta.ProposalID != "" {
		var rec proposalRecord
		found, err := getJSON(a.tx, bucketProposals, meta.ProposalID, &rec)
		if err != nil {
			return nil, err
		}
		if found {
			return a.duplicateResponse(rec)
		}
	}

	resp, err := a.dispatch(cmd)
	var ae *ApplyError
	switch {
	case errors.As(err, &ae):
		resp = &Response{Err: ae}
	case err != nil:
		return nil, fmt.Errorf("apply entry %d (type %d): %w", l.Index, cmd.Type(), err)
	}
	if resp.Err != nil {
		a.logger.Debug("command rejected", "index", l.Index, "type", int(cmd.Type()), "code", resp.Err.Code, "error", resp.Err.Message)
	}

	if meta.ProposalID != "" {
		if err := a.recordProposal(l.Index, meta.ProposalID, cmd, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (a *applier) dispatch(cmd Command) (*Response, error) {
	switch c := cmd.(type) {
	case *PutOrganization:
		return a.putOrganization(c)
	case *PutMember:
		return a.putMember(c)
	case *PutProject:
		return a.putProject(c)
	case *PutSchedule:
		return a.putSchedule(c)
	case *PutScenario:
		return a.putScenario(c)
	case *PutEndpoint:
		return a.putEndpoint(c)
	case *PutAgent:
		return a.putAgent(c)
	case *PutAdminToken:
		return a.putAdminToken(c)
	case *Delete:
		return a.delete(c)
	case *Intake:
		return a.intake(c)
	case *AssignAttempt:
		return a.assignAttempt(c)
	case *AttemptProgress:
		return a.attemptProgress(c)
	case *AttemptFinished:
		return a.attemptFinished(c)
	case *FailCall:
		return a.failCall(c)
	case *CancelCalls:
		return a.cancelCalls(c)
	case *Prune:
		return a.prune(c)
	}
	return nil, fmt.Errorf("no handler for command type %d", cmd.Type())
}

func (a *applier) recordProposal(index uint64, id string, cmd Command, resp *Response) error {
	rec := proposalRecord{Index: index, Time: a.now, Type: cmd.Type(), Response: resp}
	if resp.Err == nil && resp.Request != nil {
		rec.RequestID = resp.Request.ID
		rec.Response = nil
	}
	if _, err := putJSON(a.tx, bucketProposals, id, rec); err != nil {
		return err
	}
	return a.tx.Bucket(bucketProposalsByTime).Put(indexKey("", a.now, id), nil)
}

// duplicateResponse repeats the first result of a proposal. An Intake is
// answered with its request and calls as they are now; once pruned, only
// Duplicate is set.
func (a *applier) duplicateResponse(rec proposalRecord) (*Response, error) {
	if rec.RequestID == "" {
		resp := &Response{}
		if rec.Response != nil {
			*resp = *rec.Response
		}
		resp.Duplicate = true
		return resp, nil
	}

	resp := &Response{Duplicate: true}
	var req model.Request
	found, err := getJSON(a.tx, bucketRequests, rec.RequestID, &req)
	if err != nil || !found {
		return resp, err
	}
	resp.Request = &req
	calls, err := callsOfRequest(a.tx, req)
	if err != nil {
		return nil, err
	}
	resp.Calls = calls
	return resp, nil
}

// callsOfRequest returns the stored calls a request queued, in call order.
func callsOfRequest(tx *bolt.Tx, req model.Request) ([]model.Call, error) {
	var calls []model.Call
	for _, p := range req.Phones {
		if p.CallID == "" {
			continue
		}
		var c model.Call
		found, err := getJSON(tx, bucketCalls, p.CallID, &c)
		if err != nil {
			return nil, err
		}
		if found {
			calls = append(calls, c)
		}
	}
	return calls, nil
}

// writeMeta stores the applied index and time at the end of a batch.
func (a *applier) writeMeta(index uint64) error {
	b := a.tx.Bucket(bucketMeta)
	if err := b.Put(keyAppliedIndex, encodeUint(index)); err != nil {
		return fmt.Errorf("store applied index: %w", err)
	}
	if !a.lastTime.IsZero() {
		if err := b.Put(keyAppliedTime, encodeTime(a.lastTime)); err != nil {
			return fmt.Errorf("store applied time: %w", err)
		}
	}
	return nil
}
