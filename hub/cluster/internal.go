package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringhook/ringhook/raftfsm"
)

// Internal API paths, relative to a node's HTTPURL.
const (
	internalPrefix     = "/internal/v1"
	pathApply          = internalPrefix + "/apply"
	pathRemoveServer   = internalPrefix + "/remove-server"
	pathStatus         = internalPrefix + "/status"
	headerTimestamp    = "X-Ringhook-Timestamp"
	headerSignature    = "X-Ringhook-Signature"
	headerLogIndex     = "X-Ringhook-Log-Index"
	maxInternalBody    = 8 << 20
	maxSignatureSkew   = 2 * time.Minute
	authKeyDerivation  = "ringhook internal api v1"
	contentTypeEntry   = "application/vnd.ringhook.raft-entry"
	contentTypeJSON    = "application/json"
	codeNotLeader      = "not_leader"
	codeLeadershipLost = "leadership_lost"
	codeNotApplied     = "not_applied"
	codeShuttingDown   = "shutting_down"
	codeInvalidEntry   = "invalid_entry"
	codeUnknownServer  = "unknown_server"
	codeUnauthorized   = "unauthorized"
	codeForbidden      = "forbidden"
	codeNotFound       = "not_found"
	codeMethod         = "method_not_allowed"
	codeBodyTooLarge   = "body_too_large"
	codeBadRequest     = "bad_request"
	codeInternal       = "internal_error"
)

// retryableCodes are the internal API error codes after which a follower
// sends the same proposal again. The value is true for leadership_lost,
// after which the proposal may have been committed. The other codes mean
// the leader did not propose it.
var retryableCodes = map[string]bool{
	codeNotLeader:      false,
	codeLeadershipLost: true,
	codeNotApplied:     false,
	codeShuttingDown:   false,
}

// deriveAuthKey derives the internal API's HMAC key from the gossip key,
// so the gossip encryption key itself never signs HTTP requests. It returns
// nil without a gossip key.
func deriveAuthKey(gossipKey []byte) []byte {
	if len(gossipKey) == 0 {
		return nil
	}
	mac := hmac.New(sha256.New, gossipKey)
	mac.Write([]byte(authKeyDerivation))
	return mac.Sum(nil)
}

// signature is the hex HMAC-SHA256 of method, path, timestamp and body.
func signature(key []byte, method, path, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s\n%s\n%s\n", method, path, timestamp)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// internalError is the JSON error body of the internal API, the same shape
// as the public API's errors.
type internalError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var body internalError
	body.Error.Code = code
	body.Error.Message = message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// InternalHandler returns the handler of the node-to-node API, to be
// mounted at /internal/v1/ (with or without the prefix stripped):
//
//	POST /internal/v1/apply          apply a forwarded log entry (leader only)
//	POST /internal/v1/remove-server  {"id": "..."}, leader only
//	GET  /internal/v1/status         this node's Status as JSON
//
// Every request must carry an HMAC signature made with a key derived from
// the gossip key. Without a gossip key the handler rejects every request
// with 403 forbidden, so a node without one can only run alone.
func (n *Node) InternalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := internalPrefix + strings.TrimPrefix(r.URL.Path, internalPrefix)
		var route func(http.ResponseWriter, *http.Request, []byte)
		method := http.MethodPost
		switch path {
		case pathApply:
			route = n.serveApply
		case pathRemoveServer:
			route = n.serveRemove
		case pathStatus:
			route, method = n.serveStatus, http.MethodGet
		default:
			writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no internal route %s %s", r.Method, r.URL.Path))
			return
		}
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, codeMethod, fmt.Sprintf("%s takes %s, not %s", path, method, r.Method))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInternalBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, codeBodyTooLarge, fmt.Sprintf("read request body: %v", err))
			return
		}
		if n.authKey == nil {
			n.logger.Warn("rejected internal API request: no gossip key is set", "path", path, "remote_address", r.RemoteAddr)
			writeError(w, http.StatusForbidden, codeForbidden, fmt.Sprintf("node %s has no gossip key, so its internal API is disabled; set --gossip-key on every node", n.cfg.NodeID))
			return
		}
		if err := n.authenticate(r, path, body); err != nil {
			n.logger.Warn("rejected internal API request", "path", path, "remote_address", r.RemoteAddr, "error", err)
			writeError(w, http.StatusUnauthorized, codeUnauthorized, err.Error())
			return
		}
		route(w, r, body)
	})
}

// authenticate checks the request's timestamp and HMAC signature. The
// caller has checked that the node has an auth key.
func (n *Node) authenticate(r *http.Request, path string, body []byte) error {
	ts := r.Header.Get(headerTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("missing or invalid %s header; requests must be signed with the cluster's gossip key", headerTimestamp)
	}
	if skew := time.Since(time.Unix(sec, 0)); skew > maxSignatureSkew || skew < -maxSignatureSkew {
		return fmt.Errorf("request timestamp is %s off this node's clock; synchronize the clocks (max %s)", skew.Round(time.Second), maxSignatureSkew)
	}
	want := signature(n.authKey, r.Method, path, ts, body)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(headerSignature))) {
		return errors.New("invalid request signature; every node needs the same gossip key")
	}
	return nil
}

func (n *Node) serveApply(w http.ResponseWriter, r *http.Request, body []byte) {
	cmd, err := raftfsm.Decode(body)
	if err != nil {
		// An entry that does not decode would stop every node; reject it
		// before it reaches the log.
		writeError(w, http.StatusBadRequest, codeInvalidEntry, err.Error())
		return
	}
	if !n.beginApply() {
		writeError(w, http.StatusServiceUnavailable, codeShuttingDown, "node "+n.cfg.NodeID+" is shutting down; retry on the new leader")
		return
	}
	defer n.inflight.Done()
	if !n.IsLeader() {
		leaderID, _ := n.Leader()
		writeError(w, http.StatusMisdirectedRequest, codeNotLeader, fmt.Sprintf("node %s is not the leader (leader: %q); retry on the leader", n.cfg.NodeID, leaderID))
		return
	}
	resp, index, err := n.applyLocal(body)
	if err != nil {
		n.writeApplyError(w, err, cmd.CommandMeta().ProposalID)
		return
	}
	// The forwarding follower waits until its own state machine reaches
	// this index, so that its caller can read the write back from it.
	w.Header().Set(headerLogIndex, strconv.FormatUint(index, 10))
	writeJSON(w, http.StatusOK, resp)
}

func (n *Node) writeApplyError(w http.ResponseWriter, err error, proposalID string) {
	switch {
	case errors.Is(err, ErrShuttingDown):
		writeError(w, http.StatusServiceUnavailable, codeShuttingDown, err.Error())
	case isAmbiguous(err):
		writeError(w, http.StatusServiceUnavailable, codeLeadershipLost, err.Error())
	case isRetryable(err):
		writeError(w, http.StatusServiceUnavailable, codeNotApplied, err.Error())
	case errors.Is(err, ErrUnknownServer):
		writeError(w, http.StatusNotFound, codeUnknownServer, err.Error())
	default:
		n.logger.Error("forwarded operation failed on the leader", "proposal_id", proposalID, "error", err)
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
}

type removeRequest struct {
	ID string `json:"id"`
}

func (n *Node) serveRemove(w http.ResponseWriter, r *http.Request, body []byte) {
	var req removeRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, `body must be JSON {"id": "<node id>"}`)
		return
	}
	if n.raft.State() == raft.Shutdown {
		writeError(w, http.StatusServiceUnavailable, codeShuttingDown, "node "+n.cfg.NodeID+" is shutting down")
		return
	}
	if !n.IsLeader() {
		writeError(w, http.StatusMisdirectedRequest, codeNotLeader, fmt.Sprintf("node %s is not the leader; retry on the leader", n.cfg.NodeID))
		return
	}
	if err := n.removeLocal(req.ID); err != nil {
		n.writeApplyError(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": req.ID})
}

func (n *Node) serveStatus(w http.ResponseWriter, r *http.Request, _ []byte) {
	writeJSON(w, http.StatusOK, n.Status())
}

// post sends a signed POST to another node's internal API and returns the
// body and headers of a 200 response. A transport failure or a retryable
// error code is returned as a retryableError, marked ambiguous when the
// other node may have acted on the request. When parent ends after the
// request was sent, the error wraps ErrOutcomeUnknown and parent's error.
func (n *Node) post(parent context.Context, baseURL, path, contentType string, body []byte) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(parent, n.cfg.ApplyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("build request to %s: %w", baseURL, err)
	}
	req.Header.Set("Content-Type", contentType)

	if n.authKey != nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(headerTimestamp, ts)
		req.Header.Set(headerSignature, signature(n.authKey, http.MethodPost, path, ts, body))
	}

	// sent turns true once the request headers are written, so a failure
	// before that (a refused or failed dial) means the leader never saw
	// the request. The headers may still sit in a buffer at that moment,
	// which errs on the side of "may have been committed".
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))

	res, err := n.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			if sent.Load() {
				return nil, nil, fmt.Errorf("forward to leader %s: %w: %w", baseURL, ErrOutcomeUnknown, parent.Err())
			}
			return nil, nil, fmt.Errorf("forward to leader %s: %w", baseURL, parent.Err())
		}
		// A timeout or a broken connection after the request was sent
		// leaves the outcome unknown: the leader may have committed.
		return nil, nil, &retryableError{cause: fmt.Errorf("forward to leader %s: %v", baseURL, err), ambiguous: sent.Load()}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxInternalBody))
	if err != nil {
		return nil, nil, &retryableError{cause: fmt.Errorf("read the response of leader %s: %v", baseURL, err), ambiguous: true}
	}
	if res.StatusCode == http.StatusOK {
		return data, res.Header, nil
	}

	var e internalError
	if err := json.Unmarshal(data, &e); err != nil || e.Error.Code == "" {
		return nil, nil, fmt.Errorf("forward to leader %s: status %d: %.200q", baseURL, res.StatusCode, data)
	}
	remote := fmt.Errorf("leader %s responded %s: %s", baseURL, e.Error.Code, e.Error.Message)
	if ambiguous, ok := retryableCodes[e.Error.Code]; ok {
		return nil, nil, &retryableError{cause: remote, ambiguous: ambiguous}
	}
	switch {
	case e.Error.Code == codeInvalidEntry:
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidEntry, remote)
	case e.Error.Code == codeUnknownServer:
		return nil, nil, fmt.Errorf("%w: %v", ErrUnknownServer, remote)
	}
	return nil, nil, remote
}

// forwardApply sends an encoded entry to the leader and returns the state
// machine's response and the entry's log index. The index is 0 when the
// leader did not send one.
func (n *Node) forwardApply(ctx context.Context, leaderURL string, entry []byte) (*raftfsm.Response, uint64, error) {
	data, header, err := n.post(ctx, leaderURL, pathApply, contentTypeEntry, entry)
	if err != nil {
		return nil, 0, err
	}
	var resp raftfsm.Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, 0, fmt.Errorf("decode the response of leader %s: %w", leaderURL, err)
	}
	var index uint64
	if text := header.Get(headerLogIndex); text != "" {
		if index, err = strconv.ParseUint(text, 10, 64); err != nil {
			n.logger.Warn("leader sent an invalid log index; not waiting for the local apply", "leader_url", leaderURL, "log_index", text)
			index = 0
		}
	}
	return &resp, index, nil
}

func (n *Node) forwardRemove(ctx context.Context, leaderURL, id string) error {
	body, err := json.Marshal(removeRequest{ID: id})
	if err != nil {
		return err
	}
	_, _, err = n.post(ctx, leaderURL, pathRemoveServer, contentTypeJSON, body)
	return err
}
