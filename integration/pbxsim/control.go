package pbxsim

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// ControlHandler returns the HTTP control API, for driving a simulator
// that runs in another process (ringhook pbxsim). It is served apart from
// ARI, on its own listener, so that it stays reachable while ARI refuses
// connections, responds slowly or rejects credentials. When token is not
// empty every request needs "Authorization: Bearer <token>".
//
//	GET    /sim/behaviors              {"default": Behavior, "rules": [Rule]}
//	PUT    /sim/behaviors/{match}      Behavior; match is a number or prefix*
//	DELETE /sim/behaviors/{match}
//	PUT    /sim/default                Behavior
//	PUT    /sim/fail-share             {"fail_share": 0.3}
//	PUT    /sim/refuse                 {"refuse": true}
//	PUT    /sim/slow                   {"delay": "500ms"}
//	PUT    /sim/wrong-credentials      {"wrong": true}
//	POST   /sim/drop-websockets
//	POST   /sim/restart                Stop, then Start on the same address
//	POST   /sim/apps/{app}/events      any JSON event, sent unchanged
//	GET    /sim/originations           [Origination]
//	GET    /sim/apps                   ["app", ...] with a websocket now
func (s *Server) ControlHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sim/behaviors", func(w http.ResponseWriter, r *http.Request) {
		rules, def := s.Rules()
		if rules == nil {
			rules = []Rule{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"default": def, "rules": rules})
	})
	mux.HandleFunc("PUT /sim/behaviors/{match}", func(w http.ResponseWriter, r *http.Request) {
		var b Behavior
		if !decodeControl(w, r, &b) {
			return
		}
		if err := s.SetBehavior(r.PathValue("match"), b); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /sim/behaviors/{match}", func(w http.ResponseWriter, r *http.Request) {
		if !s.RemoveBehavior(r.PathValue("match")) {
			writeMessage(w, http.StatusNotFound, "no rule with match "+r.PathValue("match"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /sim/default", func(w http.ResponseWriter, r *http.Request) {
		var b Behavior
		if !decodeControl(w, r, &b) {
			return
		}
		if err := s.SetDefault(b); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /sim/fail-share", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			FailShare float64 `json:"fail_share"`
		}
		if !decodeControl(w, r, &body) {
			return
		}
		if err := s.SetFailShare(body.FailShare); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /sim/refuse", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Refuse bool `json:"refuse"`
		}
		if !decodeControl(w, r, &body) {
			return
		}
		if err := s.RefuseConnections(body.Refuse); err != nil {
			writeMessage(w, http.StatusConflict, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /sim/slow", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Delay string `json:"delay"`
		}
		if !decodeControl(w, r, &body) {
			return
		}
		d := time.Duration(0)
		if body.Delay != "" {
			var err error
			if d, err = time.ParseDuration(body.Delay); err != nil || d < 0 {
				writeMessage(w, http.StatusBadRequest, "delay "+body.Delay+" is not a duration such as \"500ms\"")
				return
			}
		}
		s.SetSlow(d)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /sim/wrong-credentials", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Wrong bool `json:"wrong"`
		}
		if !decodeControl(w, r, &body) {
			return
		}
		s.SetWrongCredentials(body.Wrong)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/drop-websockets", func(w http.ResponseWriter, r *http.Request) {
		s.DropWebsockets()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/restart", func(w http.ResponseWriter, r *http.Request) {
		addr := s.Addr()
		s.Stop()
		if err := s.Start(addr); err != nil {
			writeMessage(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/apps/{app}/events", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		if err := s.EmitEvent(r.PathValue("app"), raw); err != nil {
			writeMessage(w, http.StatusConflict, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/originations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Originations())
	})
	mux.HandleFunc("GET /sim/apps", func(w http.ResponseWriter, r *http.Request) {
		apps := s.ConnectedApps()
		if apps == nil {
			apps = []string{}
		}
		writeJSON(w, http.StatusOK, apps)
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				writeMessage(w, http.StatusUnauthorized, "control API: missing or wrong bearer token")
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// decodeControl decodes a JSON request body into v, or writes 400.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		writeMessage(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}
