package raftfsm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// intakeEntries returns n Intake entries after index, one second apart, so
// that most are held back by the brakes the way a misfiring tool's are.
func intakeEntries(b *testing.B, index uint64, n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	for i := range logs {
		cmd := intake(fmt.Sprintf("bench-%d-%d", index, i), model.StateFiring, model.SeverityCritical)
		cmd.Body = `{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-1"}}`
		cmd.Time = startTime.Add(time.Duration(int(index)+i) * time.Second)
		cmd.ProposalID = cmd.RequestID
		logs[i] = entry(b, index+uint64(i)+1, cmd)
	}
	return logs
}

// BenchmarkApplyIntake applies Intake entries in batches of 64, with fsync
// on, as Raft hands them over under load.
func BenchmarkApplyIntake(b *testing.B) {
	h := newHarness(b)
	h.seed()
	h.fsm.SetNoSync(false)
	const batch = 64
	logs := intakeEntries(b, h.fsm.AppliedIndex(), b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for rest := logs; len(rest) > 0; {
		n := min(batch, len(rest))
		h.fsm.ApplyBatch(rest[:n])
		rest = rest[n:]
	}
}

// BenchmarkSnapshotLargeState persists a snapshot of 100,000 requests.
func BenchmarkSnapshotLargeState(b *testing.B) {
	h := newHarness(b)
	h.seed()
	const requests = 100_000
	for rest := intakeEntries(b, h.fsm.AppliedIndex(), requests); len(rest) > 0; {
		n := min(1000, len(rest))
		h.fsm.ApplyBatch(rest[:n])
		rest = rest[n:]
	}
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for b.Loop() {
		size = len(snapshotBytes(b, h.fsm))
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
	reqs, err := h.fsm.ListRequests(raftfsm.RequestQuery{Limit: 1})
	if err != nil || len(reqs) != 1 {
		b.Fatalf("state after setup: %v, %v", reqs, err)
	}
}
