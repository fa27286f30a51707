package httpapi

import (
	"errors"
	"net/http"

	"github.com/ringhook/ringhook/hub/cluster"
)

func isClusterNoLeader(err error) bool {
	return errors.Is(err, cluster.ErrNoLeader)
}

// removeError maps an error of Backend.RemoveServer to an API error.
func removeError(id string, err error) error {
	switch {
	case errors.Is(err, cluster.ErrUnknownServer):
		return newError(http.StatusNotFound, CodeNotFound, "server %q is not in the raft configuration; GET /api/v1/cluster lists the nodes", id)
	case errors.Is(err, cluster.ErrShuttingDown):
		return newError(http.StatusServiceUnavailable, CodeNoLeader, "this node is shutting down; send the request to another node")
	}
	return err
}
