package raftfsm

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// namedObject is the part of a stored object that the name check reads.
type namedObject struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
}

// nameScope says where a kind's names must be unique.
type nameScope int

const (
	// scopeHub: unique across the hub (organizations, agents, admin tokens).
	scopeHub nameScope = iota
	// scopeOrg: unique within the object's organization.
	scopeOrg
)

// requireUniqueName rejects a Put that would give an object a name that
// another object of the same kind already has, in the same organization for
// scopeOrg. Names compare exactly, byte for byte and case-sensitively, as
// `ringhook apply` matches them. An empty name is not checked.
//
// The check runs only when the Put creates the object or changes its name.
// A replace that keeps the name therefore succeeds even where the state
// already holds duplicates from before names were unique, so such state
// keeps loading and can still be edited.
func (a *applier) requireUniqueName(bucket []byte, kind string, scope nameScope, obj namedObject, found bool, oldName string) error {
	if obj.Name == "" || (found && obj.Name == oldName) {
		return nil
	}
	otherID, err := a.findName(bucket, scope, obj)
	if err != nil {
		return err
	}
	if otherID == "" {
		return nil
	}
	where := ""
	if scope == scopeOrg {
		where = fmt.Sprintf(" in organization %q", obj.OrgID)
	}
	return reject(CodeConflict, "%s name %q is already used by %s %q%s; choose another name or update %s %q",
		kind, obj.Name, kind, otherID, where, kind, otherID)
}

// findName returns the id of another object of the bucket with obj's name
// (and organization for scopeOrg), or "" when there is none. Members are
// found through members_by_org; other kinds scan their bucket, which holds
// configuration and stays small.
func (a *applier) findName(bucket []byte, scope nameScope, obj namedObject) (string, error) {
	b := a.tx.Bucket(bucket)
	check := func(k, raw []byte) (bool, error) {
		if string(k) == obj.ID || !bytes.Contains(raw, []byte(`"name"`)) {
			return false, nil
		}
		var other namedObject
		if err := json.Unmarshal(raw, &other); err != nil {
			return false, fmt.Errorf("decode %s/%s: %w", bucket, k, err)
		}
		if other.Name != obj.Name {
			return false, nil
		}
		return scope == scopeHub || other.OrgID == obj.OrgID, nil
	}

	if bytes.Equal(bucket, bucketMembers) {
		for _, id := range idsWithPrefix(a.tx, bucketMembersByOrg, obj.OrgID) {
			raw := b.Get([]byte(id))
			if raw == nil {
				continue
			}
			same, err := check([]byte(id), raw)
			if err != nil {
				return "", err
			}
			if same {
				return id, nil
			}
		}
		return "", nil
	}

	var otherID string
	c := b.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		same, err := check(k, raw)
		if err != nil {
			return "", err
		}
		if same {
			otherID = string(k)
			break
		}
	}
	return otherID, nil
}
