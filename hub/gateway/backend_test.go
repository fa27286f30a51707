package gateway

import "github.com/ringhook/ringhook/hub/cluster"

// The cluster node is the production Backend.
var _ Backend = (*cluster.Node)(nil)
