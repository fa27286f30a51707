package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Errors returned by Node methods. Raft's own errors are translated into
// these at the package boundary, so callers check them with errors.Is and
// never import hashicorp/raft. A command that the state machine rejected
// is returned as a *raftfsm.ApplyError instead.
var (
	// ErrNoLeader means no leader was known, or every leader that was
	// tried rejected the command before proposing it, within
	// Config.LeaderWait. The command was not committed and may be sent
	// again. The HTTP API responds with 503 and Retry-After.
	ErrNoLeader = errors.New("cluster: no leader available; retry in a few seconds")
	// ErrOutcomeUnknown means Apply or RemoveServer gave up after at least
	// one attempt that may have reached a leader: a forward was sent and
	// no response came back, or the leader lost its leadership while
	// committing. The command may have been committed, so check the state
	// before sending it again with a new proposal id. The error also
	// wraps the context's error when the context ended. The HTTP API
	// responds with 504.
	ErrOutcomeUnknown = errors.New("cluster: the command may have been committed; check the state before sending it again")
	// ErrShuttingDown means this node is shutting down and accepts no new
	// commands; send the request to another node.
	ErrShuttingDown = errors.New("cluster: node is shutting down; send the request to another node")
	// ErrUnknownServer means RemoveServer was given an id that is not in
	// the Raft configuration; check the id in Status().Nodes.
	ErrUnknownServer = errors.New("cluster: server is not in the raft configuration")
	// ErrInvalidEntry means a forwarded log entry could not be decoded as
	// a command, so it was not proposed.
	ErrInvalidEntry = errors.New("cluster: invalid log entry")
)

// retryableError marks a failure after which the same proposal may be sent
// again, to this leader or a new one. The state machine skips a proposal id
// it has already applied, so sending it again is safe either way.
type retryableError struct {
	cause error
	// ambiguous is true when a leader may have received the proposal, so
	// it may have been committed. It is false when the proposal was
	// rejected before it reached a leader's log.
	ambiguous bool
}

func (e *retryableError) Error() string { return e.cause.Error() }
func (e *retryableError) Unwrap() error { return e.cause }

func isRetryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
}

// isAmbiguous reports whether err is a retryable failure after which the
// proposal may have been committed.
func isAmbiguous(err error) bool {
	var r *retryableError
	return errors.As(err, &r) && r.ambiguous
}

// translateRaftError maps an error of raft.Apply, AddVoter or RemoveServer
// to this package's errors. Raft's error text is kept in the message but is
// not wrapped, so callers cannot come to depend on raft's values.
func translateRaftError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShuttingDown
	case errors.Is(err, raft.ErrLeadershipLost):
		// Raft appended the entry to the leader's log before leadership
		// was lost. A follower may have stored it, so the next leader can
		// still commit it.
		return &retryableError{cause: fmt.Errorf("%s: %v", op, err), ambiguous: true}
	case errors.Is(err, raft.ErrNotLeader),
		errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrAbortedByRestore),
		errors.Is(err, raft.ErrNotVoter):
		// Raft rejected the entry before appending it to the log, or a
		// restore discarded it.
		return &retryableError{cause: fmt.Errorf("%s: %v", op, err)}
	default:
		return fmt.Errorf("%s: %v", op, err)
	}
}
