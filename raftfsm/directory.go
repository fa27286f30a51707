package raftfsm

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/routing"
)

// txView implements routing.Directory and routing.Counters over one bbolt
// transaction, so that Decide sees the writes of earlier commands of the
// same batch. The routing interfaces cannot return errors, so the first
// error is kept in err and checked after Decide.
type txView struct {
	tx  *bolt.Tx
	err error
}

var (
	_ routing.Directory = (*txView)(nil)
	_ routing.Counters  = (*txView)(nil)
)

func (v *txView) get(bucket []byte, id string, out any) bool {
	if v.err != nil || id == "" {
		return false
	}
	found, err := getJSON(v.tx, bucket, id, out)
	if err != nil {
		v.err = err
		return false
	}
	return found
}

func (v *txView) Organization(id string) (model.Organization, bool) {
	var o model.Organization
	ok := v.get(bucketOrganizations, id, &o)
	return o, ok
}

func (v *txView) Member(id string) (model.Member, bool) {
	var m model.Member
	ok := v.get(bucketMembers, id, &m)
	return m, ok
}

func (v *txView) members(index []byte, key string) []model.Member {
	var out []model.Member
	for _, id := range idsWithPrefix(v.tx, index, key) {
		if m, ok := v.Member(id); ok {
			out = append(out, m)
		}
	}
	return out
}

// MembersOfOrg returns the organization's members ordered by id.
func (v *txView) MembersOfOrg(orgID string) []model.Member {
	return v.members(bucketMembersByOrg, orgID)
}

// MembersOfProject returns the project's members ordered by id.
func (v *txView) MembersOfProject(projectID string) []model.Member {
	return v.members(bucketMembersByProject, projectID)
}

func (v *txView) Schedule(id string) (model.Schedule, bool) {
	var s model.Schedule
	ok := v.get(bucketSchedules, id, &s)
	return s, ok
}

func (v *txView) CallsOnDay(orgID, day string) int {
	return int(decodeUint(v.tx.Bucket(bucketCallsPerDay).Get(pairKey(orgID, day))))
}

func (v *txView) LastCallAt(phone string) (time.Time, bool) {
	raw := v.tx.Bucket(bucketLastCall).Get([]byte(phone))
	if raw == nil {
		return time.Time{}, false
	}
	return decodeTime(raw), true
}

func (v *txView) SuppressedUntil(endpointID string) (time.Time, bool) {
	raw := v.tx.Bucket(bucketSuppressedUntil).Get([]byte(endpointID))
	if raw == nil {
		return time.Time{}, false
	}
	return decodeTime(raw), true
}

// dayKey is the UTC day of t in the form Counters.CallsOnDay takes.
func dayKey(t time.Time) string { return t.UTC().Format(time.DateOnly) }
