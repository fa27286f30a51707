package pbxsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"nhooyr.io/websocket"
)

// sendQueueSize is how many events may wait for one websocket. A client
// that falls further behind is disconnected, as Asterisk drops a
// websocket it cannot write to in time.
const sendQueueSize = 1024

// writeTimeout bounds one websocket write.
const writeTimeout = 5 * time.Second

// app is a Stasis application: its current websocket and its event filter.
// Like Asterisk, the app object outlives its websocket, so a reconnect
// keeps the filter.
type app struct {
	name       string
	conn       *wsConn // nil while no websocket is connected
	allowed    map[string]bool
	disallowed map[string]bool
}

// passes applies the eventFilter allow and deny lists.
func (a *app) passes(eventType string) bool {
	if len(a.allowed) > 0 && !a.allowed[eventType] {
		return false
	}
	return !a.disallowed[eventType]
}

// wsConn is one event websocket. It is registered for its apps before the
// upgrade completes, so ws is nil until then.
type wsConn struct {
	send      chan []byte
	done      chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	ws *websocket.Conn
}

// attach sets the upgraded websocket. It reports false, after closing ws,
// when the connection was closed during the upgrade.
func (c *wsConn) attach(ws *websocket.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		_ = ws.CloseNow()
		return false
	default:
		c.ws = ws
		return true
	}
}

// close ends the connection without a close handshake, like a dropped TCP
// connection.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		close(c.done)
		if c.ws != nil {
			_ = c.ws.CloseNow()
		}
	})
}

// enqueue queues one message; a full queue disconnects the client.
func (c *wsConn) enqueue(msg []byte) {
	select {
	case <-c.done:
	case c.send <- msg:
	default:
		c.close()
	}
}

func (c *wsConn) writeLoop() {
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.send:
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.close()
				return
			}
		}
	}
}

// handleEvents serves GET /ari/events?app=a[,b].
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, name := range strings.Split(r.URL.Query().Get("app"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		writeMessage(w, http.StatusBadRequest, "Missing parameter app")
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeMessage(w, http.StatusUpgradeRequired, "Upgrade Required")
		return
	}

	// Register the apps before the upgrade completes: a client that sees
	// the websocket open may originate at once, and the events of that
	// call must not be lost. Events queue in conn.send until the upgrade.
	conn := &wsConn{send: make(chan []byte, sendQueueSize), done: make(chan struct{})}
	s.mu.Lock()
	for _, name := range names {
		a := s.appLocked(name)
		if a.conn != nil && a.conn != conn {
			replaced := newEvent("ApplicationReplaced", time.Now())
			s.deliverLocked(a, replaced)
		}
		a.conn = conn
	}
	s.mu.Unlock()
	defer s.unregister(names, conn)

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"ari"},
		// Asterisk only logs a foreign Origin, and the ari/v5 client sends
		// http://localhost/ by default.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.logger.Warn("pbxsim: websocket upgrade failed", "error", err)
		conn.close()
		return
	}
	if !conn.attach(ws) {
		return
	}
	s.logger.Info("pbxsim: event websocket connected", "apps", strings.Join(names, ","))

	go conn.writeLoop()
	readCtx := ws.CloseRead(context.Background())
	select {
	case <-readCtx.Done():
	case <-conn.done:
	}
	conn.close()
	s.logger.Info("pbxsim: event websocket closed", "apps", strings.Join(names, ","))
}

// unregister detaches conn from the apps it still serves.
func (s *Server) unregister(names []string, conn *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if a := s.apps[name]; a != nil && a.conn == conn {
			a.conn = nil
		}
	}
}

func (s *Server) appLocked(name string) *app {
	a := s.apps[name]
	if a == nil {
		a = &app{name: name}
		s.apps[name] = a
	}
	return a
}

// deliverLocked stamps e with the app name and asterisk_id and queues it on
// the app's websocket, unless no websocket is connected or the filter
// drops it. Such events are lost, as in Asterisk.
func (s *Server) deliverLocked(a *app, e event) {
	if a == nil || a.conn == nil {
		return
	}
	typ, _ := e["type"].(string)
	if !a.passes(typ) {
		return
	}
	e["asterisk_id"] = entityID
	e["application"] = a.name
	data, err := json.Marshal(e)
	if err != nil {
		s.logger.Error("pbxsim: encode event failed", "type", typ, "error", err)
		return
	}
	a.conn.enqueue(data)
}

// emit sends one event of a channel to its app.
func (s *Server) emit(appName string, e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliverLocked(s.apps[appName], e)
}

// appConnected reports whether app has a websocket now.
func (s *Server) appConnected(appName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appName]
	return a != nil && a.conn != nil
}

// EmitEvent sends raw, unchanged, to the websocket of app, for example an
// event type that the client does not know. The app's eventFilter applies
// to the raw event's "type". It returns an error when raw is not a JSON
// object or app has no websocket.
func (s *Server) EmitEvent(appName string, raw []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("pbxsim: event for app %q is not a JSON object: %w", appName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appName]
	if a == nil || a.conn == nil {
		return fmt.Errorf("pbxsim: app %q has no websocket connected", appName)
	}
	if !a.passes(eventType(raw)) {
		return nil
	}
	a.conn.enqueue(append([]byte(nil), raw...))
	return nil
}

// DropWebsockets closes every event websocket at once, as when Asterisk's
// HTTP server restarts. Channels keep dialing, and their events are lost
// until the app connects again.
func (s *Server) DropWebsockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropWebsocketsLocked()
}

func (s *Server) dropWebsocketsLocked() {
	for _, a := range s.apps {
		if a.conn != nil {
			a.conn.close()
			a.conn = nil
		}
	}
}

// ConnectedApps returns the names of the apps that have a websocket now.
func (s *Server) ConnectedApps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, a := range s.apps {
		if a.conn != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// applicationJSON is the ARI Application object.
type applicationJSON struct {
	Name             string              `json:"name"`
	ChannelIDs       []string            `json:"channel_ids"`
	BridgeIDs        []string            `json:"bridge_ids"`
	EndpointIDs      []string            `json:"endpoint_ids"`
	DeviceNames      []string            `json:"device_names"`
	EventsAllowed    []map[string]string `json:"events_allowed"`
	EventsDisallowed []map[string]string `json:"events_disallowed"`
}

func (s *Server) applicationLocked(a *app) applicationJSON {
	out := applicationJSON{
		Name: a.name, ChannelIDs: []string{}, BridgeIDs: []string{},
		EndpointIDs: []string{}, DeviceNames: []string{},
		EventsAllowed: typeList(a.allowed), EventsDisallowed: typeList(a.disallowed),
	}
	for id, ch := range s.channels {
		if ch.app == a.name {
			out.ChannelIDs = append(out.ChannelIDs, id)
		}
	}
	sort.Strings(out.ChannelIDs)
	return out
}

func typeList(set map[string]bool) []map[string]string {
	list := []map[string]string{}
	for t := range set {
		list = append(list, map[string]string{"type": t})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["type"] < list[j]["type"] })
	return list
}

func (s *Server) handleListApplications(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := []applicationJSON{}
	for _, a := range s.apps {
		list = append(list, s.applicationLocked(a))
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetApplication(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[r.PathValue("app")]
	if a == nil {
		writeMessage(w, http.StatusNotFound, "Application not found")
		return
	}
	writeJSON(w, http.StatusOK, s.applicationLocked(a))
}

// handleEventFilter implements PUT /ari/applications/{app}/eventFilter with
// a body such as {"allowed":[{"type":"Dial"}],"disallowed":[...]}. A list
// present in the body replaces the current one; an empty body clears both.
func (s *Server) handleEventFilter(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Could not read the request body")
		return
	}
	var filter map[string][]struct {
		Type string `json:"type"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &filter); err != nil {
			writeMessage(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
			return
		}
	}

	sets := map[string]map[string]bool{}
	for key, list := range filter {
		if key != "allowed" && key != "disallowed" {
			writeMessage(w, http.StatusBadRequest, "Invalid filter: unknown key "+key+"; use allowed or disallowed")
			return
		}
		set := map[string]bool{}
		for _, item := range list {
			if item.Type == "" {
				writeMessage(w, http.StatusBadRequest, "Invalid filter: every item needs a type")
				return
			}
			set[item.Type] = true
		}
		sets[key] = set
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[r.PathValue("app")]
	if a == nil {
		writeMessage(w, http.StatusNotFound, "Application not found")
		return
	}
	if filter == nil {
		a.allowed, a.disallowed = nil, nil
	}
	if set, ok := sets["allowed"]; ok {
		a.allowed = set
	}
	if set, ok := sets["disallowed"]; ok {
		a.disallowed = set
	}
	writeJSON(w, http.StatusOK, s.applicationLocked(a))
}
