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
	// ErrNoLeader means no leader was known, or no leader accepted the
	// command, within Config.LeaderWait. The command may be retried, and
	// the HTTP API responds with 503 and Retry-After.
	ErrNoLeader = errors.New("cluster: no leader available; retry in a few seconds")
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
// again, to this leader or a new one. The proposal may or may not have been
// committed: the state machine skips a proposal id it has already applied.
type retryableError struct {
	cause error
}

func (e *retryableError) Error() string { return e.cause.Error() }
func (e *retryableError) Unwrap() error { return e.cause }

func isRetryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
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
	case errors.Is(err, raft.ErrNotLeader),
		errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrAbortedByRestore),
		errors.Is(err, raft.ErrNotVoter):
		return &retryableError{cause: fmt.Errorf("%s: %v", op, err)}
	default:
		return fmt.Errorf("%s: %v", op, err)
	}
}
