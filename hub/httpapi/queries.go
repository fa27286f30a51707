package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ringhook/ringhook/hub/phone"
	"github.com/ringhook/ringhook/raftfsm"
)

// maxListLimit caps ?limit= on the request and call lists.
const maxListLimit = 1000

func (s *Server) adminRoutes(r *mux.Router) {
	organizations().register(s, r)
	members().register(s, r)
	projects().register(s, r)
	schedules().register(s, r)
	scenarios().register(s, r)
	endpoints().register(s, r)
	agents().register(s, r)
	adminTokens().register(s, r)

	r.HandleFunc("/endpoints/{id}/test", s.handleTestEndpoint).Methods(http.MethodPost)
	r.HandleFunc("/requests", s.handleListRequests).Methods(http.MethodGet)
	r.HandleFunc("/requests/{id}", s.handleGetRequest).Methods(http.MethodGet)
	r.HandleFunc("/calls", s.handleListCalls).Methods(http.MethodGet)
	r.HandleFunc("/calls/{id}", s.handleGetCall).Methods(http.MethodGet)
	r.HandleFunc("/cluster", s.handleClusterStatus).Methods(http.MethodGet)
	r.HandleFunc("/cluster/nodes/{id}", s.handleRemoveNode).Methods(http.MethodDelete)
}

// queryParams reads the filters shared by the request and call lists.
type queryParams struct {
	since, until time.Time
	limit        int
}

func parseQueryParams(q url.Values) (queryParams, error) {
	var p queryParams
	var err error
	if p.since, err = parseTimeParam(q, "since"); err != nil {
		return p, err
	}
	if p.until, err = parseTimeParam(q, "until"); err != nil {
		return p, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return p, newError(http.StatusBadRequest, CodeInvalid, "limit %q must be a whole number from 1 to %d", v, maxListLimit)
		}
		p.limit = n
	}
	return p, nil
}

func parseTimeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, newError(http.StatusBadRequest, CodeInvalid, "%s %q must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name, v)
	}
	return t, nil
}

func (s *Server) handleListRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseQueryParams(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reqs, err := s.backend.FSM().ListRequests(raftfsm.RequestQuery{
		EndpointID: q.Get("endpoint_id"),
		OrgID:      q.Get("org_id"),
		Outcome:    q.Get("outcome"),
		Since:      p.since,
		Until:      p.until,
		Limit:      p.limit,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newListBody(reqs))
}

func (s *Server) handleGetRequest(w http.ResponseWriter, r *http.Request) {
	serveRecord(s, w, r, "request", s.backend.FSM().GetRequest)
}

// serveRecord writes the stored request or call with the id in the path,
// or a 404 naming kind when there is none.
func serveRecord[T any](s *Server, w http.ResponseWriter, r *http.Request, kind string, get func(id string) (T, error)) {
	id := mux.Vars(r)["id"]
	record, err := get(id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		s.fail(w, r, newError(http.StatusNotFound, CodeNotFound, "no %s with id %q; it may have been pruned", kind, id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, record)
}

func (s *Server) handleListCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseQueryParams(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	number := q.Get("phone")
	if number != "" {
		// A filter written like a member's phone finds its calls; a value
		// that does not parse is matched as given.
		if e164, err := phone.Normalize(number, ""); err == nil {
			number = e164
		}
	}
	calls, err := s.backend.FSM().ListCalls(raftfsm.CallQuery{
		EndpointID:  q.Get("endpoint_id"),
		OrgID:       q.Get("org_id"),
		Phone:       number,
		Disposition: q.Get("disposition"),
		Status:      q.Get("status"),
		RequestID:   q.Get("request_id"),
		Since:       p.since,
		Until:       p.until,
		Limit:       p.limit,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newListBody(calls))
}

func (s *Server) handleGetCall(w http.ResponseWriter, r *http.Request) {
	serveRecord(s, w, r, "call", s.backend.FSM().GetCall)
}

// handleTestEndpoint runs the body through intake, routing and the brakes
// of the endpoint as they stand on this node, without storing anything or
// queuing a call. Phones are shown in full: the caller is an admin.
func (s *Server) handleTestEndpoint(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.backend.FSM().GetEndpoint(id); err != nil {
		if errors.Is(err, raftfsm.ErrNotFound) {
			err = newError(http.StatusNotFound, CodeNotFound, "no endpoint with id %q", id)
		}
		s.fail(w, r, err)
		return
	}

	cmd := newIntake(r, body, id, uuid.NewString())
	cmd.Meta = raftfsm.Meta{ProposalID: uuid.NewString(), Time: time.Now().UTC(), NodeID: s.backend.ID()}
	res, err := s.backend.FSM().Preview(cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Err != nil {
		s.fail(w, r, res.Err)
		return
	}
	if res.Request == nil {
		s.fail(w, r, fmt.Errorf("preview of endpoint %s returned no request", id))
		return
	}
	out := webhookResponse(res.Request, false)
	out.Preview = true
	out.Alert = &cmd.Alert
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleClusterStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.backend.Status())
}

func (s *Server) handleRemoveNode(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	ctx, cancel := s.applyContext(r)
	defer cancel()
	if err := s.backend.RemoveServer(ctx, id); err != nil {
		s.fail(w, r, removeError(id, err))
		return
	}
	s.log.Info("server removed from the raft configuration", "node_id", s.backend.ID(), "removed_node_id", id)
	w.WriteHeader(http.StatusNoContent)
}
