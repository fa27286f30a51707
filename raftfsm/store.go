package raftfsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Object buckets map an id to the object's JSON. Index
// bucket keys are "<field> 0x00 <8-byte time> <id>", so a prefix scan walks
// one field value in time order.
var (
	bucketMeta = []byte("meta")

	bucketOrganizations = []byte("organizations")
	bucketMembers       = []byte("members")
	bucketProjects      = []byte("projects")
	bucketSchedules     = []byte("schedules")
	bucketScenarios     = []byte("scenarios")
	bucketEndpoints     = []byte("endpoints")
	bucketAgents        = []byte("agents")
	bucketAdminTokens   = []byte("admin_tokens")

	// members_by_org and members_by_project: "<org or project id> 0x00 <member id>".
	bucketMembersByOrg     = []byte("members_by_org")
	bucketMembersByProject = []byte("members_by_project")

	bucketRequests           = []byte("requests")
	bucketRequestsByTime     = []byte("requests_by_time")
	bucketRequestsByEndpoint = []byte("requests_by_endpoint")
	bucketRequestsByOrg      = []byte("requests_by_org")

	bucketCalls           = []byte("calls")
	bucketCallsByTime     = []byte("calls_by_time")
	bucketCallsByStatus   = []byte("calls_by_status")
	bucketCallsByEndpoint = []byte("calls_by_endpoint")
	bucketCallsByPhone    = []byte("calls_by_phone")

	// Brake counters. calls_per_day: "<org id> 0x00 <YYYY-MM-DD>" to an
	// 8-byte count. last_call: phone to an 8-byte time. suppressed_until:
	// endpoint id to an 8-byte time.
	bucketCallsPerDay     = []byte("calls_per_day")
	bucketLastCall        = []byte("last_call")
	bucketSuppressedUntil = []byte("suppressed_until")
	bucketProposals       = []byte("proposals")
	bucketProposalsByTime = []byte("proposals_by_time")
)

// allBuckets lists every bucket; New creates them and Restore accepts
// only these names.
var allBuckets = [][]byte{
	bucketMeta,
	bucketOrganizations, bucketMembers, bucketProjects, bucketSchedules,
	bucketScenarios, bucketEndpoints, bucketAgents, bucketAdminTokens,
	bucketMembersByOrg, bucketMembersByProject,
	bucketRequests, bucketRequestsByTime, bucketRequestsByEndpoint, bucketRequestsByOrg,
	bucketCalls, bucketCallsByTime, bucketCallsByStatus, bucketCallsByEndpoint, bucketCallsByPhone,
	bucketCallsPerDay, bucketLastCall, bucketSuppressedUntil,
	bucketProposals, bucketProposalsByTime,
}

// Keys of the meta bucket.
var (
	keyAppliedIndex = []byte("applied_index")
	keyAppliedTime  = []byte("applied_time")
)

func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// encodeTime returns a time as 8 big-endian bytes that sort like the time.
// Times outside the range of UnixNano (years before 1678 or after 2262),
// including the zero time, clamp to the ends of the range.
func encodeTime(t time.Time) []byte {
	var n int64
	switch {
	case t.Year() < 1678:
		n = -1 << 63
	case t.Year() > 2261:
		n = 1<<63 - 1
	default:
		n = t.UnixNano()
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(n)^(1<<63))
	return b
}

func decodeTime(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	n := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(0, n).UTC()
}

func encodeUint(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func decodeUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// indexKey builds "<field> 0x00 <time> <id>"; field may be empty.
func indexKey(field string, t time.Time, id string) []byte {
	k := make([]byte, 0, len(field)+1+8+len(id))
	k = append(k, field...)
	k = append(k, 0)
	k = append(k, encodeTime(t)...)
	return append(k, id...)
}

// indexPrefix is the prefix shared by every index key of one field value.
func indexPrefix(field string) []byte {
	return append([]byte(field), 0)
}

// pairKey builds "<a> 0x00 <b>".
func pairKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// idFromIndexKey returns the id at the end of an index key with the given
// prefix length.
func idFromIndexKey(k []byte, prefixLen int) string {
	if len(k) < prefixLen+8 {
		return ""
	}
	return string(k[prefixLen+8:])
}

// getJSON reads and decodes one value; it returns false when the key is
// missing.
func getJSON(tx *bolt.Tx, bucket []byte, key string, v any) (bool, error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

// putJSON encodes and stores a value and returns the stored bytes.
func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	if err := tx.Bucket(bucket).Put([]byte(key), raw); err != nil {
		return nil, fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return raw, nil
}

// listJSON decodes every value of an object bucket in key order, keeping
// those for which keep returns true.
func listJSON[T any](tx *bolt.Tx, bucket []byte, keep func(*T) bool) ([]T, error) {
	var out []T
	err := tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucket, k, err)
		}
		if keep == nil || keep(&v) {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// idsWithPrefix returns the part after the prefix of every key of a pair
// bucket that starts with "<a> 0x00", in key order.
func idsWithPrefix(tx *bolt.Tx, bucket []byte, a string) []string {
	prefix := indexPrefix(a)
	var ids []string
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

func appliedIndex(tx *bolt.Tx) uint64 {
	return decodeUint(tx.Bucket(bucketMeta).Get(keyAppliedIndex))
}

func appliedTime(tx *bolt.Tx) time.Time {
	raw := tx.Bucket(bucketMeta).Get(keyAppliedTime)
	if raw == nil {
		return time.Time{}
	}
	return decodeTime(raw)
}
