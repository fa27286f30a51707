package httpapi

import (
	"errors"
	"net/http"

	"github.com/ringhook/ringhook/hub/cluster"
)

func isClusterNoLeader(err error) bool {
	return errors.Is(err, cluster.ErrNoLeader)
}

func isClusterOutcomeUnknown(err error) bool {
	return errors.Is(err, cluster.ErrOutcomeUnknown)
}

// removeError maps an error of Backend.RemoveServer to an API error.
func removeError(id string, err error) error {
	switch {
	case errors.Is(err, cluster.ErrUnknownServer):
		return newError(http.StatusNotFound, CodeNotFound, "server %q is not in the raft configuration; GET /api/v1/cluster lists the nodes", id)
	case errors.Is(err, cluster.ErrOutcomeUnknown):
		return newError(http.StatusGatewayTimeout, CodeOutcomeUnknown, "the removal of server %q may have been committed: the cluster did not confirm it in time; GET /api/v1/cluster shows whether it is still in the raft configuration", id)
	case errors.Is(err, cluster.ErrShuttingDown):
		return newError(http.StatusServiceUnavailable, CodeNoLeader, "this node is shutting down; send the request to another node")
	}
	return err
}
