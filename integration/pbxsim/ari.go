package pbxsim

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// routes builds the ARI handler: slow-down, then authentication, then the
// resources.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/asterisk/info", s.handleInfo)
	mux.HandleFunc("GET /ari/asterisk/ping", s.handlePing)
	mux.HandleFunc("GET /ari/channels", s.handleListChannels)
	mux.HandleFunc("POST /ari/channels", s.handleOriginate)
	mux.HandleFunc("POST /ari/channels/{id}", s.handleOriginate)
	mux.HandleFunc("GET /ari/channels/{id}", s.handleGetChannel)
	mux.HandleFunc("DELETE /ari/channels/{id}", s.handleHangup)
	mux.HandleFunc("GET /ari/applications", s.handleListApplications)
	mux.HandleFunc("GET /ari/applications/{app}", s.handleGetApplication)
	mux.HandleFunc("PUT /ari/applications/{app}/eventFilter", s.handleEventFilter)
	mux.HandleFunc("GET /ari/events", s.handleEvents)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "Resource not found")
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.slowDown(r.Context())
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeMessage(w, http.StatusUnauthorized, "Authentication required")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorized checks HTTP Basic auth, then the api_key=user:password query
// parameter, as Asterisk does.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		key := r.URL.Query().Get("api_key")
		if key == "" {
			return false
		}
		user, pass, ok = strings.Cut(key, ":")
		if !ok {
			return false
		}
	}
	s.mu.Lock()
	wantUser, wantPass, wrong := s.username, s.password, s.wrongCreds
	s.mu.Unlock()
	if wrong {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(wantUser)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(wantPass)) == 1
	return userOK && passOK
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMessage writes an ARI error body: {"message": "..."}.
func writeMessage(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"message": message})
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	startup := formatTime(s.startupTime)
	s.mu.Unlock()
	info := map[string]any{
		"build": map[string]any{
			"os": "Linux", "kernel": "6.1.0", "machine": "x86_64",
			"options": "", "date": "2026-12-01 00:00:00 UTC", "user": "pbxsim",
		},
		"system": map[string]any{"version": "20.20.1", "entity_id": entityID},
		"config": map[string]any{
			"name": "", "default_language": "en",
			"setid": map[string]string{"user": "", "group": ""},
		},
		"status": map[string]any{"startup_time": startup, "last_reload_time": startup},
	}
	if only := r.URL.Query().Get("only"); only != "" {
		filtered := map[string]any{}
		for _, part := range strings.Split(only, ",") {
			if v, ok := info[part]; ok {
				filtered[part] = v
			}
		}
		info = filtered
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"ping":        "pong",
		"timestamp":   formatTime(time.Now()),
		"asterisk_id": entityID,
	})
}

func (s *Server) handleListChannels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := make([]channelSnapshot, 0, len(s.channels))
	for _, ch := range s.channels {
		list = append(list, ch.snapshotLocked())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetChannel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ch, ok := s.channels[r.PathValue("id")]
	var snap channelSnapshot
	if ok {
		snap = ch.snapshotLocked()
	}
	s.mu.Unlock()
	if !ok {
		writeMessage(w, http.StatusNotFound, "Channel not found")
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// handleHangup implements DELETE /ari/channels/{id}[?reason=...|reason_code=N].
func (s *Server) handleHangup(w http.ResponseWriter, r *http.Request) {
	cause := causeNormal
	q := r.URL.Query()
	if code := q.Get("reason_code"); code != "" {
		n, err := parseInt(code)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "Invalid reason_code for hangup")
			return
		}
		cause = n
	} else if reason := q.Get("reason"); reason != "" {
		n, ok := hangupReasons[reason]
		if !ok {
			writeMessage(w, http.StatusBadRequest, "Invalid reason for hangup")
			return
		}
		cause = n
	}

	s.mu.Lock()
	ch, ok := s.channels[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeMessage(w, http.StatusNotFound, "Channel not found")
		return
	}
	ch.requestHangup(cause)
	w.WriteHeader(http.StatusNoContent)
}
