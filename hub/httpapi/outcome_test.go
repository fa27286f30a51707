package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/cluster"
)

// clusterWriteErrors are errors as cluster.Node.Apply returns them, with
// the status and code the API must map each to.
var clusterWriteErrors = []struct {
	name       string
	err        error
	wantStatus int
	wantCode   string
}{
	{"no leader", fmt.Errorf("apply command: %w", cluster.ErrNoLeader), http.StatusServiceUnavailable, CodeNoLeader},
	{"deadline before any attempt", fmt.Errorf("apply command: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, CodeNoLeader},
	{"outcome unknown", fmt.Errorf("apply command: %w (retried for 5s; last attempt: forward timed out)", cluster.ErrOutcomeUnknown), http.StatusGatewayTimeout, CodeOutcomeUnknown},
	{"outcome unknown at deadline", fmt.Errorf("apply command: %w: %w", cluster.ErrOutcomeUnknown, context.DeadlineExceeded), http.StatusGatewayTimeout, CodeOutcomeUnknown},
}

// checkWriteError checks a response to a write that failed with err.
func checkWriteError(t *testing.T, res response, wantStatus int, wantCode string) {
	t.Helper()
	if res.status != wantStatus {
		t.Fatalf("status %d, want %d: %s", res.status, wantStatus, res.body)
	}
	if code := res.errorCode(t); code != wantCode {
		t.Errorf("code = %q, want %q", code, wantCode)
	}
	retryAfter := res.header.Get("Retry-After")
	if wantStatus == http.StatusServiceUnavailable {
		if seconds, err := strconv.Atoi(retryAfter); err != nil || seconds < 1 {
			t.Errorf("Retry-After = %q, want a positive number of seconds", retryAfter)
		}
	} else if retryAfter != "" {
		t.Errorf("Retry-After = %q on a %d, want none: a retry may store the write twice", retryAfter, wantStatus)
	}
}

func TestWebhookClusterWriteErrors(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	for _, tc := range clusterWriteErrors {
		t.Run(tc.name, func(t *testing.T) {
			env.backend.setApplyErr(tc.err)
			defer env.backend.setApplyErr(nil)

			res := env.webhook(f.endpointID, alertmanagerFiring, nil)
			checkWriteError(t, res, tc.wantStatus, tc.wantCode)
			if tc.wantCode != CodeOutcomeUnknown {
				return
			}
			msg := res.errorMessage(t)
			if !strings.Contains(msg, "may have been stored") {
				t.Errorf("message %q does not say that the webhook may have been stored", msg)
			}
			if !strings.Contains(msg, "GET /api/v1/requests?endpoint_id=") {
				t.Errorf("message %q does not say how to check", msg)
			}
			if strings.Contains(msg, f.endpointID) {
				t.Errorf("message %q contains the endpoint id, which is a credential", msg)
			}
		})
	}
}

func TestAdminWriteClusterErrors(t *testing.T) {
	env := newEnv(t)
	for _, tc := range clusterWriteErrors {
		t.Run(tc.name, func(t *testing.T) {
			env.backend.setApplyErr(tc.err)
			defer env.backend.setApplyErr(nil)

			res := env.admin("POST", "/organizations", map[string]any{"name": "Acme " + tc.name})
			checkWriteError(t, res, tc.wantStatus, tc.wantCode)
			if tc.wantCode == CodeOutcomeUnknown {
				if msg := res.errorMessage(t); !strings.Contains(msg, "may have been stored") {
					t.Errorf("message %q does not say that the write may have been stored", msg)
				}
			}
		})
	}
}

func TestRemoveServerOutcomeUnknown(t *testing.T) {
	env := newEnv(t)
	env.backend.setApplyErr(fmt.Errorf("remove server node-3: %w", cluster.ErrOutcomeUnknown))
	res := env.admin("DELETE", "/cluster/nodes/node-3", nil)
	checkWriteError(t, res, http.StatusGatewayTimeout, CodeOutcomeUnknown)
	if msg := res.errorMessage(t); !strings.Contains(msg, "GET /api/v1/cluster") {
		t.Errorf("message %q does not say how to check", msg)
	}
}
