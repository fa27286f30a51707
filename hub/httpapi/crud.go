package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ringhook/ringhook/raftfsm"
)

// resource describes one kind of configuration object for the generic
// create, read, update and delete handlers. T is the stored model type and
// In the JSON a client sends, which is T plus write-only fields such as a
// member's region hint or an endpoint's alert key.
type resource[T, In any] struct {
	// name is the singular noun used in messages, path the collection path.
	name, path string
	deleteKind raftfsm.CommandType

	get  func(f *raftfsm.FSM, id string) (T, error)
	list func(f *raftfsm.FSM, r *http.Request) ([]T, error)
	// build checks the input and returns the object to store, and a secret
	// to show once (a token or alert key) or "". existing is nil on create.
	build func(s *Server, r *http.Request, in *In, id string, existing *T, now time.Time) (T, string, error)
	// put returns the command that stores obj.
	put func(obj T, create bool) raftfsm.Command
	// redact clears the stored hashes, which are never served.
	redact func(T) T
	// view returns the JSON response for an object without its stored hashes;
	// secret is shown once.
	view func(s *Server, r *http.Request, obj T, secret string) any
	// listNote returns a note for list responses, or "".
	listNote func(s *Server) string
	// noUpdate leaves out PUT and PATCH.
	noUpdate bool
}

func (res resource[T, In]) register(s *Server, r *mux.Router) {
	r.HandleFunc("/"+res.path, res.handleList(s)).Methods(http.MethodGet)
	r.HandleFunc("/"+res.path, res.handleCreate(s)).Methods(http.MethodPost)
	r.HandleFunc("/"+res.path+"/{id}", res.handleGet(s)).Methods(http.MethodGet)
	r.HandleFunc("/"+res.path+"/{id}", res.handleDelete(s)).Methods(http.MethodDelete)
	if !res.noUpdate {
		r.HandleFunc("/"+res.path+"/{id}", res.handleReplace(s)).Methods(http.MethodPut)
		r.HandleFunc("/"+res.path+"/{id}", res.handlePatch(s)).Methods(http.MethodPatch)
	}
}

// listBody is the response of every list route.
type listBody struct {
	Items []any `json:"items"`
	Count int   `json:"count"`
	// Note qualifies the list, for example where agent health is known.
	Note string `json:"note,omitempty"`
}

// newListBody returns a list response of items as they are.
func newListBody[T any](items []T) listBody {
	out := listBody{Items: make([]any, 0, len(items)), Count: len(items)}
	for _, item := range items {
		out.Items = append(out.Items, item)
	}
	return out
}

func (res resource[T, In]) handleList(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		objs, err := res.list(s.backend.FSM(), r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := listBody{Items: make([]any, 0, len(objs)), Count: len(objs)}
		for _, obj := range objs {
			out.Items = append(out.Items, res.view(s, r, obj, ""))
		}
		if res.listNote != nil {
			out.Note = res.listNote(s)
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (res resource[T, In]) handleGet(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		obj, err := res.lookup(s, mux.Vars(r)["id"])
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res.view(s, r, obj, ""))
	}
}

func (res resource[T, In]) lookup(s *Server, id string) (T, error) {
	obj, err := res.get(s.backend.FSM(), id)
	if err != nil {
		if _, known := toAPIError(err); known {
			return obj, newError(http.StatusNotFound, CodeNotFound, "no %s with id %q", res.name, id)
		}
		return obj, fmt.Errorf("read %s %s: %w", res.name, id, err)
	}
	return obj, nil
}

func (res resource[T, In]) handleCreate(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if err := s.decodeJSON(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		id := uuid.NewString()
		obj, secret, err := res.build(s, r, &in, id, nil, time.Now().UTC())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res.store(s, w, r, id, obj, true, secret, http.StatusCreated)
	}
}

func (res resource[T, In]) handleReplace(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		existing, err := res.lookup(s, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var in In
		if err := s.decodeJSON(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		res.replace(s, w, r, &in, id, existing)
	}
}

// handlePatch applies a JSON merge patch (RFC 7396) to the stored object
// and then replaces it, with the same checks as PUT.
func (res resource[T, In]) handlePatch(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		existing, err := res.lookup(s, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		body, err := readBody(r, s.cfg.MaxBodyBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var patch map[string]any
		if err := decodeJSONBytes(body, &patch); err != nil {
			s.fail(w, r, err)
			return
		}
		merged, err := mergePatch(res.redact(existing), patch)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var in In
		if err := decodeJSONBytes(merged, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		res.replace(s, w, r, &in, id, existing)
	}
}

func (res resource[T, In]) replace(s *Server, w http.ResponseWriter, r *http.Request, in *In, id string, existing T) {
	obj, secret, err := res.build(s, r, in, id, &existing, time.Now().UTC())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res.store(s, w, r, id, obj, false, secret, http.StatusOK)
}

// store applies the put command and responds with the stored object.
func (res resource[T, In]) store(s *Server, w http.ResponseWriter, r *http.Request, id string, obj T, create bool, secret string, status int) {
	ctx, cancel := s.applyContext(r)
	defer cancel()
	out, err := s.backend.Apply(ctx, res.put(obj, create))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	stored := obj
	if out != nil && len(out.Object) > 0 {
		if err := json.Unmarshal(out.Object, &stored); err != nil {
			s.fail(w, r, fmt.Errorf("decode stored %s: %w", res.name, err))
			return
		}
	}
	want, _ := json.Marshal(stored)
	s.awaitLocal(func() bool {
		local, err := res.get(s.backend.FSM(), id)
		if err != nil {
			return false
		}
		got, _ := json.Marshal(local)
		return bytes.Equal(got, want)
	})
	s.log.Info("admin object stored", "kind", res.name, "id", id, "create", create, "node_id", s.backend.ID())
	writeJSON(w, status, res.view(s, r, stored, secret))
}

func (res resource[T, In]) handleDelete(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		ctx, cancel := s.applyContext(r)
		defer cancel()
		if _, err := s.backend.Apply(ctx, &raftfsm.Delete{Kind: res.deleteKind, ID: id}); err != nil {
			s.fail(w, r, err)
			return
		}
		s.awaitLocal(func() bool {
			_, err := res.get(s.backend.FSM(), id)
			return errors.Is(err, raftfsm.ErrNotFound)
		})
		s.log.Info("admin object deleted", "kind", res.name, "id", id, "node_id", s.backend.ID())
		w.WriteHeader(http.StatusNoContent)
	}
}

// mergePatch applies an RFC 7396 merge patch to obj's JSON form.
func mergePatch(obj any, patch map[string]any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode object for patch: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode object for patch: %w", err)
	}
	merged, err := json.Marshal(mergeValue(doc, patch))
	if err != nil {
		return nil, fmt.Errorf("encode patched object: %w", err)
	}
	return merged, nil
}

func mergeValue(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergeValue(t[k], v)
	}
	return t
}

// checkID rejects an id in a body that differs from the one the hub
// assigns (on create) or the one in the path (on replace).
func checkID(bodyID, id string, create bool) error {
	if bodyID == "" || bodyID == id && !create {
		return nil
	}
	if create {
		return newError(http.StatusBadRequest, CodeInvalid, "omit id on create: the hub assigns a random id")
	}
	return newError(http.StatusBadRequest, CodeInvalid, "the body's id %q differs from the id %q in the path; omit it or send the same id", bodyID, id)
}
