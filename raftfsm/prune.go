package raftfsm

import (
	"bytes"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
)

// Retention limits of Prune.
const (
	// DefaultRetention is how long requests and finished calls are kept
	// unless configured otherwise.
	DefaultRetention = 30 * 24 * time.Hour
	// ProposalRetention is how long a proposal id is remembered. Retries of
	// one proposal happen within seconds, and a day of ids at 50 webhooks a
	// second is about four million small keys.
	ProposalRetention = 24 * time.Hour
	// CounterRetention is how long brake counters are kept: a cooldown or
	// suppression longer than this is not enforced beyond it.
	CounterRetention = 7 * 24 * time.Hour
	// PruneLimit is the maximum number of requests, calls and proposal ids
	// of each kind that one Prune deletes, so one write transaction stays
	// small. PruneResult.More is then set, and the leader proposes again.
	PruneLimit = 20000
)

// PruneResult is the Object of a Prune response.
type PruneResult struct {
	Requests  int `json:"requests"`
	Calls     int `json:"calls"`
	Proposals int `json:"proposals"`
	Counters  int `json:"counters"`
	// More is set when a limit was reached; propose Prune again.
	More bool `json:"more,omitempty"`
}

// prune deletes requests received before Before, finished and cancelled
// calls that were queued and finished before it, proposal ids older than
// the later of Before and ProposalRetention, and brake counters older than
// CounterRetention. Queued and assigned calls are never pruned.
func (a *applier) prune(c *Prune) (*Response, error) {
	var res PruneResult
	var err error
	var more bool

	if res.Requests, more, err = a.pruneRequests(c.Before); err != nil {
		return nil, err
	}
	res.More = res.More || more
	if res.Calls, more, err = a.pruneCalls(c.Before); err != nil {
		return nil, err
	}
	res.More = res.More || more

	proposalsBefore := a.now.Add(-ProposalRetention)
	if c.Before.After(proposalsBefore) {
		proposalsBefore = c.Before
	}
	if res.Proposals, more, err = a.pruneProposals(proposalsBefore); err != nil {
		return nil, err
	}
	res.More = res.More || more
	if res.Counters, err = a.pruneCounters(a.now.Add(-CounterRetention)); err != nil {
		return nil, err
	}

	raw, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	a.logger.Info("pruned state", "before", c.Before, "requests", res.Requests, "calls", res.Calls,
		"proposals", res.Proposals, "counters", res.Counters, "more", res.More)
	return &Response{Object: raw}, nil
}

// keysBefore collects up to limit keys of a time index bucket (field "")
// whose time is before t, with their values; more reports a cut.
func keysBefore(tx *bolt.Tx, bucket []byte, t time.Time, limit int) (keys, values [][]byte, more bool) {
	end := indexKey("", t, "")
	c := tx.Bucket(bucket).Cursor()
	for k, v := c.First(); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		if len(keys) == limit {
			return keys, values, true
		}
		keys = append(keys, bytes.Clone(k))
		values = append(values, bytes.Clone(v))
	}
	return keys, values, false
}

func (a *applier) pruneRequests(before time.Time) (int, bool, error) {
	keys, values, more := keysBefore(a.tx, bucketRequestsByTime, before, PruneLimit)
	for i, k := range keys {
		id := idFromIndexKey(k, 1)
		received := decodeTime(k[1:9])
		endpointID, orgID, _ := bytes.Cut(values[i], []byte{0})
		if err := a.tx.Bucket(bucketRequests).Delete([]byte(id)); err != nil {
			return 0, false, err
		}
		if err := a.tx.Bucket(bucketRequestsByEndpoint).Delete(indexKey(string(endpointID), received, id)); err != nil {
			return 0, false, err
		}
		if err := a.tx.Bucket(bucketRequestsByOrg).Delete(indexKey(string(orgID), received, id)); err != nil {
			return 0, false, err
		}
		if err := a.tx.Bucket(bucketRequestsByTime).Delete(k); err != nil {
			return 0, false, err
		}
	}
	return len(keys), more, nil
}

func (a *applier) pruneCalls(before time.Time) (int, bool, error) {
	var doomed []model.Call
	end := indexKey("", before, "")
	cur := a.tx.Bucket(bucketCallsByTime).Cursor()
	more := false
	for k, _ := cur.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = cur.Next() {
		if len(doomed) == PruneLimit {
			more = true
			break
		}
		var call model.Call
		found, err := getJSON(a.tx, bucketCalls, idFromIndexKey(k, 1), &call)
		if err != nil {
			return 0, false, err
		}
		done := call.Status == model.CallFinished || call.Status == model.CallCancelled
		if found && done && call.FinishedAt.Before(before) {
			doomed = append(doomed, call)
		}
	}
	for _, call := range doomed {
		id := []byte(call.ID)
		for _, d := range []struct {
			bucket []byte
			key    []byte
		}{
			{bucketCalls, id},
			{bucketCallsByTime, indexKey("", call.QueuedAt, call.ID)},
			{bucketCallsByStatus, indexKey(call.Status, call.QueuedAt, call.ID)},
			{bucketCallsByEndpoint, indexKey(call.EndpointID, call.QueuedAt, call.ID)},
			{bucketCallsByPhone, indexKey(call.Phone, call.QueuedAt, call.ID)},
		} {
			if err := a.tx.Bucket(d.bucket).Delete(d.key); err != nil {
				return 0, false, err
			}
		}
	}
	return len(doomed), more, nil
}

func (a *applier) pruneProposals(before time.Time) (int, bool, error) {
	keys, _, more := keysBefore(a.tx, bucketProposalsByTime, before, PruneLimit)
	for _, k := range keys {
		if err := a.tx.Bucket(bucketProposals).Delete([]byte(idFromIndexKey(k, 1))); err != nil {
			return 0, false, err
		}
		if err := a.tx.Bucket(bucketProposalsByTime).Delete(k); err != nil {
			return 0, false, err
		}
	}
	return len(keys), more, nil
}

// pruneCounters drops daily counts of days before the cutoff's day, last
// call times before the cutoff, and suppressions that have ended.
func (a *applier) pruneCounters(cutoff time.Time) (int, error) {
	cutoffDay := dayKey(cutoff)
	n := 0
	drop := func(bucket []byte, old func(k, v []byte) bool) error {
		var keys [][]byte
		err := a.tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if old(k, v) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := a.tx.Bucket(bucket).Delete(k); err != nil {
				return err
			}
		}
		n += len(keys)
		return nil
	}
	err := drop(bucketCallsPerDay, func(k, _ []byte) bool {
		_, day, _ := bytes.Cut(k, []byte{0})
		return string(day) < cutoffDay
	})
	if err != nil {
		return 0, err
	}
	if err := drop(bucketLastCall, func(_, v []byte) bool { return decodeTime(v).Before(cutoff) }); err != nil {
		return 0, err
	}
	if err := drop(bucketSuppressedUntil, func(_, v []byte) bool { return decodeTime(v).Before(a.now) }); err != nil {
		return 0, err
	}
	return n, nil
}
