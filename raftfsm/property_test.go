package raftfsm_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// randomLog builds a random log of n entries by applying each one to a
// reference state machine and choosing the next command from its state,
// so that most commands hit existing calls. It returns a snapshot of the
// seeded state the log starts from, and the entries.
func randomLog(t *testing.T, seed uint64, n int) ([]byte, []*raft.Log) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ref := newHarness(t)
	ref.seed()
	ref.apply(&raftfsm.PutEndpoint{Create: true, Endpoint: model.Endpoint{ID: "endpoint-2", OrgID: orgID, Name: "staging"}})

	seeded := snapshotBytes(t, ref.fsm)

	var logs []*raft.Log
	index := ref.fsm.AppliedIndex()
	now := ref.now
	pick := func(calls []model.Call) (model.Call, bool) {
		if len(calls) == 0 {
			return model.Call{}, false
		}
		return calls[rng.IntN(len(calls))], true
	}

	for i := range n {
		// Time mostly moves forward; sometimes a new leader's clock is behind.
		if rng.IntN(10) == 0 {
			now = now.Add(-time.Duration(rng.IntN(300)) * time.Second)
		} else {
			now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
		}
		queued, _ := ref.fsm.ListCallsByStatus(model.CallQueued)
		assigned, _ := ref.fsm.ListCallsByStatus(model.CallAssigned)

		var cmd raftfsm.Command
		switch r := rng.IntN(100); {
		case r < 35:
			state := model.StateFiring
			if rng.IntN(6) == 0 {
				state = model.StateResolved
			}
			severity := []string{model.SeverityCritical, model.SeverityMajor, ""}[rng.IntN(3)]
			c := intake(fmt.Sprintf("req-%d", i), state, severity)
			c.EndpointID = []string{endpointID, "endpoint-2", endpointID, "unknown"}[rng.IntN(4)]
			cmd = c
		case r < 55:
			if call, ok := pick(queued); ok {
				attempt := len(call.Attempts) + 1
				if rng.IntN(8) == 0 {
					attempt++ // rejected
				}
				cmd = &raftfsm.AssignAttempt{CallID: call.ID, Attempt: attempt, AgentID: []string{agentA, agentB}[rng.IntN(2)], Trunk: "t"}
			}
		case r < 62:
			if call, ok := pick(assigned); ok {
				cmd = &raftfsm.AttemptProgress{CallID: call.ID, Attempt: len(call.Attempts), Progress: "ringing", At: now}
			}
		case r < 80:
			if call, ok := pick(assigned); ok {
				disposition := []string{model.DispositionAnswered, model.DispositionNoAnswer, model.DispositionBusy, model.DispositionFailed}[rng.IntN(4)]
				cmd = &raftfsm.AttemptFinished{CallID: call.ID, Attempt: len(call.Attempts), Disposition: disposition,
					Retryable: disposition == model.DispositionFailed && rng.IntN(2) == 0, Cancelled: rng.IntN(20) == 0,
					Cause: rng.IntN(40), At: now.Add(-time.Duration(rng.IntN(30)) * time.Second)}
			}
		case r < 84:
			if call, ok := pick(append(queued, assigned...)); ok {
				cmd = &raftfsm.FailCall{CallID: call.ID, Reason: "no healthy agent"}
			}
		case r < 88:
			var ids []string
			for _, c := range append(queued, assigned...) {
				if rng.IntN(2) == 0 {
					ids = append(ids, c.ID)
				}
			}
			cmd = &raftfsm.CancelCalls{CallIDs: ids, Reason: "operator"}
		case r < 92:
			m := model.Member{ID: carolID, OrgID: orgID, Name: "Carol", Phone: carolPhone}
			if rng.IntN(2) == 0 {
				m.Consent = consent()
			}
			cmd = &raftfsm.PutMember{Member: m}
		case r < 94:
			cmd = &raftfsm.PutOrganization{Organization: model.Organization{ID: orgID, Name: "Acme", PrimaryMemberID: aliceID,
				Brakes: model.Brakes{DailyCallCap: 40 + rng.IntN(60)}}}
		case r < 96:
			cmd = &raftfsm.Prune{Before: now.Add(-time.Duration(2+rng.IntN(4)) * time.Hour)}
		default:
			// A retried proposal: the same entry again at a new index.
			if len(logs) > 0 {
				old := logs[rng.IntN(len(logs))]
				index++
				dup := &raft.Log{Index: index, Term: 1, Type: old.Type, Data: old.Data}
				logs = append(logs, dup)
				ref.fsm.Apply(dup)
				continue
			}
		}
		if cmd == nil {
			index++
			conf := &raft.Log{Index: index, Term: 1, Type: raft.LogConfiguration, Data: []byte("configuration")}
			logs = append(logs, conf)
			ref.fsm.Apply(conf)
			continue
		}
		meta := cmd.CommandMeta()
		meta.ProposalID = fmt.Sprintf("proposal-%d", i)
		meta.Time = now
		meta.NodeID = []string{"node-1", "node-2", "node-3"}[rng.IntN(3)]
		index++
		l := entry(t, index, cmd)
		logs = append(logs, l)
		ref.fsm.Apply(l)
	}
	return seeded, logs
}

func TestBatchSplitsGiveIdenticalSnapshots(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			seeded, logs := randomLog(t, seed, 300)
			rng := rand.New(rand.NewPCG(seed, 7))

			// Two fresh state machines start from the seeded state and apply
			// the log: one entry at a time, and in random batches.
			one := openFSM(t, t.TempDir())
			restore(t, one, seeded)
			batched := openFSM(t, t.TempDir())
			restore(t, batched, seeded)

			for _, l := range logs {
				one.Apply(l)
			}
			for rest := logs; len(rest) > 0; {
				n := min(1+rng.IntN(40), len(rest))
				batched.ApplyBatch(rest[:n])
				rest = rest[n:]
			}

			a, b := snapshotBytes(t, one), snapshotBytes(t, batched)
			if !bytes.Equal(a, b) {
				t.Fatalf("snapshots differ: %d and %d bytes", len(a), len(b))
			}
			calls, _ := one.ListCalls(raftfsm.CallQuery{Limit: 1 << 20})
			finished, _ := one.ListCallsByStatus(model.CallFinished)
			if len(calls) == 0 || len(finished) == 0 {
				t.Errorf("random log reached too little: %d calls, %d finished", len(calls), len(finished))
			}
			t.Logf("%d entries, %d calls, %d finished, snapshot %d bytes", len(logs), len(calls), len(finished), len(a))

			restored := openFSM(t, t.TempDir())
			restore(t, restored, a)
			if c := snapshotBytes(t, restored); !bytes.Equal(a, c) {
				t.Fatal("snapshot of the restored state differs")
			}
		})
	}
}
