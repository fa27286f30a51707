package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ringhook/ringhook/raftfsm"
)

// Error codes in {"error":{"code":...}} responses.
const (
	CodeUnauthorized     = "unauthorized"
	CodeInvalidJSON      = "invalid_json"
	CodeUnknownField     = "unknown_field"
	CodeMissingField     = "missing_field"
	CodeInvalid          = "invalid"
	CodeInvalidPhone     = "invalid_phone"
	CodeBlockedNumber    = "blocked_number"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeBodyTooLarge     = "body_too_large"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNoLeader         = "no_leader"
	CodeOutcomeUnknown   = "outcome_unknown"
	CodeInternal         = "internal"
)

// retryAfterSeconds is the Retry-After value of a 503: an election with
// the cluster's timings usually ends within a few seconds.
const retryAfterSeconds = 2

// ErrNoLeader is the error a Backend other than *cluster.Node returns when
// no leader appeared in time. The API maps it, like cluster.ErrNoLeader, to
// 503 with Retry-After.
var ErrNoLeader = errors.New("no raft leader")

// apiError is an error with its HTTP status and code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ringhook"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// isNoLeader reports whether a write failed for want of a leader, including
// a wait that ran out of time. Such a write was not stored: cluster.Node
// returns cluster.ErrOutcomeUnknown instead once an attempt may have reached
// a leader, and toAPIError checks that first because it can wrap the
// context's deadline error too.
func isNoLeader(err error) bool {
	return errors.Is(err, ErrNoLeader) || isClusterNoLeader(err) || errors.Is(err, context.DeadlineExceeded)
}

// outcomeUnknownMessage is the message of a 504 outcome_unknown response
// to an admin write; webhooks get webhookOutcomeUnknownMessage.
const outcomeUnknownMessage = "the write may have been stored: the cluster did not confirm it in time (the leader was busy or changed); read the object back (GET) or list the objects before sending the write again"

// toAPIError maps an error of the backend or the state machine to an HTTP
// status and code. The bool is false for an unexpected error, which the
// caller logs.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	if isClusterOutcomeUnknown(err) {
		return newError(http.StatusGatewayTimeout, CodeOutcomeUnknown, "%s", outcomeUnknownMessage), true
	}
	if isNoLeader(err) {
		return newError(http.StatusServiceUnavailable, CodeNoLeader,
			"the cluster has no leader right now (an election is running or a quorum is missing); retry after %d s", retryAfterSeconds), true
	}
	var applyErr *raftfsm.ApplyError
	if errors.As(err, &applyErr) {
		switch applyErr.Code {
		case raftfsm.CodeNotFound:
			return newError(http.StatusNotFound, CodeNotFound, "%s", applyErr.Message), true
		case raftfsm.CodeConflict:
			return newError(http.StatusConflict, CodeConflict, "%s", applyErr.Message), true
		case raftfsm.CodeInvalid:
			return newError(http.StatusUnprocessableEntity, CodeInvalid, "%s", applyErr.Message), true
		}
		return newError(http.StatusUnprocessableEntity, applyErr.Code, "%s", applyErr.Message), true
	}
	if errors.Is(err, raftfsm.ErrNotFound) {
		return newError(http.StatusNotFound, CodeNotFound, "%v", err), true
	}
	return newError(http.StatusInternalServerError, CodeInternal, "internal error; the hub log has the details"), false
}

// fail writes err as a JSON error and logs it when it is unexpected.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := toAPIError(err)
	switch {
	case !known:
		s.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "node_id", s.backend.ID(), "error", err)
	case ae.Code == CodeOutcomeUnknown:
		s.log.Warn("admin write may have been stored without confirmation", "method", r.Method, "path", r.URL.Path, "node_id", s.backend.ID(), "error", err)
	}
	writeError(w, ae.Status, ae.Code, ae.Message)
}
