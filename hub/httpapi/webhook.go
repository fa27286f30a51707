package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ringhook/ringhook/hub/intake"
	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/raftfsm"
)

// AlertKeyHeader carries an endpoint's alert key.
const AlertKeyHeader = "X-Alert-Key"

// dummyKeyHash replaces the stored hash of an endpoint without a key
// or of an unknown endpoint, so every webhook does the same comparison.
var dummyKeyHash = hashSecret("ringhook-no-alert-key")

// WebhookResponse is the 202 response to a webhook, and, with Preview set,
// the response of POST /api/v1/endpoints/{id}/test.
type WebhookResponse struct {
	RequestID string `json:"request_id"`
	State     string `json:"state"`
	// Severity is null when the payload states no level.
	Severity *string      `json:"severity"`
	Rule     MatchedRule  `json:"rule"`
	Action   model.Action `json:"action"`
	Outcome  string       `json:"outcome"`
	Phones   []PhoneView  `json:"phones"`
	// CancelledCallIDs lists the queued calls a resolved notification cancelled.
	CancelledCallIDs []string `json:"cancelled_call_ids,omitempty"`
	// Preview marks a test run that stored nothing.
	Preview bool `json:"preview,omitempty"`
	// Alert is the parsed webhook; only test runs include it.
	Alert *model.Alert `json:"alert,omitempty"`
}

// MatchedRule names the scenario rule that decided the action: its index
// and name, or index -1 and name "default" for the default action.
type MatchedRule struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
}

// PhoneView is one phone's decision in the webhook response.
type PhoneView struct {
	// Phone is masked in webhook responses.
	Phone  string `json:"phone"`
	Queued bool   `json:"queued"`
	CallID string `json:"call_id,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// webhookOutcomeUnknownMessage is the message of a 504 outcome_unknown
// response to a webhook. It leaves out the endpoint id, because monitoring
// tools often log response bodies and the id is the endpoint's credential.
const webhookOutcomeUnknownMessage = "the webhook may have been stored: the cluster did not confirm the write in time (the leader was busy or changed); list GET /api/v1/requests?endpoint_id=<endpoint id> to check before sending it again"

func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	endpointID := mux.Vars(r)["endpoint_id"]
	requestID := uuid.NewString()

	resp, err := s.receiveWebhook(r, endpointID, requestID)
	if errors.Is(err, errProbe) {
		s.respondToProbe(w, r, endpointID)
		return
	}
	status := http.StatusAccepted
	outcome := ""
	if err != nil {
		ae, known := toAPIError(err)
		status, outcome = ae.Status, ae.Code
		message := ae.Message
		switch {
		case !known:
			s.log.Error("webhook failed", "endpoint_id", endpointID, "request_id", requestID, "error", err)
		case ae.Code == CodeOutcomeUnknown:
			message = webhookOutcomeUnknownMessage
			s.log.Warn("webhook may have been stored without confirmation", "endpoint_id", endpointID, "request_id", requestID, "error", err)
		}
		writeError(w, ae.Status, ae.Code, message)
	} else {
		outcome = resp.Outcome
		writeJSON(w, http.StatusAccepted, resp)
	}

	elapsed := time.Since(start)
	s.metrics.webhooks.WithLabelValues(outcome, strconv.Itoa(status)).Inc()
	s.metrics.intake.Observe(elapsed.Seconds())
	s.log.Info("webhook",
		"endpoint_id", endpointID,
		"request_id", requestID,
		"method", r.Method,
		"status", status,
		"outcome", outcome,
		"duration_ms", elapsed.Milliseconds())
}

// probeMethods are the methods that tools send to check a URL rather than
// to deliver an alert: curl -I, link unfurlers and URL validators send
// HEAD, and browsers send OPTIONS as the CORS preflight.
var probeMethods = map[string]bool{http.MethodHead: true, http.MethodOptions: true}

// webhookMethods is the Allow header of a probe's response. Any method is
// accepted as an alert, and these are the ones tools use.
const webhookMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// outcomeProbe is the outcome label of probes in the webhook metric.
const outcomeProbe = "probe"

// errProbe is returned by receiveWebhook for a probe of a known endpoint.
var errProbe = errors.New("webhook probe")

// isProbe reports whether a request checks the webhook URL instead of
// delivering an alert: a HEAD or OPTIONS request with an empty body and an
// empty query string. A HEAD or OPTIONS request that carries either is an
// alert like any other.
func isProbe(r *http.Request, body []byte) bool {
	return probeMethods[r.Method] && len(body) == 0 && r.URL.RawQuery == ""
}

// respondToProbe writes 204 to a probe of a known endpoint and stores
// nothing, so checking a webhook URL never places a call.
func (s *Server) respondToProbe(w http.ResponseWriter, r *http.Request, endpointID string) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", webhookMethods)
	}
	w.WriteHeader(http.StatusNoContent)
	s.metrics.webhooks.WithLabelValues(outcomeProbe, strconv.Itoa(http.StatusNoContent)).Inc()
	s.log.Debug("webhook probe; no request stored",
		"endpoint_id", endpointID,
		"method", r.Method,
		"status", http.StatusNoContent)
}

// receiveWebhook checks, parses and applies one webhook. It returns
// errProbe, and applies nothing, for a probe (see isProbe) of a known
// endpoint. An unknown endpoint goes through the same reading, parsing and
// key comparison as a known one before it is rejected, so the response
// time does not tell them apart. Probes take the same steps.
func (s *Server) receiveWebhook(r *http.Request, endpointID, requestID string) (*WebhookResponse, error) {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}

	endpoint, err := s.backend.FSM().GetEndpoint(endpointID)
	known := err == nil
	if err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return nil, err
	}

	key := r.Header.Get(AlertKeyHeader)
	stored := dummyKeyHash
	if known && endpoint.AlertKeyHash != "" {
		stored = endpoint.AlertKeyHash
	}
	keyMatches := subtle.ConstantTimeCompare([]byte(hashSecret(key)), []byte(stored)) == 1

	cmd := newIntake(r, body, endpointID, requestID)

	switch {
	case !known:
		return nil, newError(http.StatusNotFound, CodeNotFound, "no endpoint with this id; check the webhook URL")
	case isProbe(r, body):
		// A probe stores nothing, so it needs no alert key: a browser's
		// CORS preflight never carries one, and a 401 would tell no more
		// than the 204 does.
		return nil, errProbe
	case endpoint.AlertKeyHash != "" && key == "":
		return nil, newError(http.StatusUnauthorized, CodeUnauthorized, "this endpoint requires the %s header", AlertKeyHeader)
	case endpoint.AlertKeyHash != "" && !keyMatches:
		return nil, newError(http.StatusUnauthorized, CodeUnauthorized, "the %s header does not match the endpoint's alert key", AlertKeyHeader)
	}

	ctx, cancel := s.applyContext(r)
	defer cancel()
	res, err := s.backend.Apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if res == nil || res.Request == nil {
		return nil, errors.New("apply of intake returned no request")
	}
	return webhookResponse(res.Request, true), nil
}

// newIntake builds the intake command of one webhook.
func newIntake(r *http.Request, body []byte, endpointID, requestID string) *raftfsm.Intake {
	in := intake.Request{
		Method:      r.Method,
		ContentType: r.Header.Get("Content-Type"),
		Query:       r.URL.RawQuery,
		Body:        body,
	}
	stored, truncated := intake.StoredBody(in)
	return &raftfsm.Intake{
		RequestID:     requestID,
		EndpointID:    endpointID,
		Method:        in.Method,
		ContentType:   in.ContentType,
		Query:         intake.StoredQuery(in.Query),
		Body:          stored,
		BodyTruncated: truncated,
		BodySize:      len(body),
		Alert:         intake.Parse(in),
	}
}

func webhookResponse(req *model.Request, mask bool) *WebhookResponse {
	out := &WebhookResponse{
		RequestID:        req.ID,
		State:            req.State,
		Rule:             MatchedRule{Index: req.RuleIndex, Name: req.RuleName},
		Action:           req.Action,
		Outcome:          req.Outcome,
		Phones:           make([]PhoneView, 0, len(req.Phones)),
		CancelledCallIDs: req.CancelledCallIDs,
	}
	if req.Severity != "" {
		severity := req.Severity
		out.Severity = &severity
	}
	if req.RuleIndex < 0 {
		out.Rule = MatchedRule{Index: -1, Name: "default"}
	}
	for _, p := range req.Phones {
		number := p.Phone
		if mask {
			number = phone.Mask(number)
		}
		out.Phones = append(out.Phones, PhoneView{
			Phone:  number,
			Queued: p.Queued,
			CallID: p.CallID,
			Reason: p.Reason,
			Detail: p.Detail,
		})
	}
	return out
}

// hashSecret returns the hex SHA-256 of a secret, the form in which keys
// and token secrets are stored.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
