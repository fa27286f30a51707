package pbxsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"nhooyr.io/websocket"
)

const (
	testUser = "ringhook"
	testPass = "s3cret"
)

// startSim starts a simulator on a random loopback port and stops it at
// the end of the test.
func startSim(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = testUser, testPass
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 0.02
	}
	s := New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// eventClient is a websocket client of /ari/events that collects events.
type eventClient struct {
	t      *testing.T
	conn   *websocket.Conn
	events chan map[string]any
	closed chan struct{}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func dialEvents(t *testing.T, s *Server, appName string) *eventClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ari/events?app=" + url.QueryEscape(appName)
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {basicAuth(testUser, testPass)}},
	})
	if err != nil {
		t.Fatalf("dial event websocket for app %s: %v (response %v)", appName, err, resp)
	}
	c := &eventClient{t: t, conn: conn, events: make(chan map[string]any, 1024), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var e map[string]any
			if err := json.Unmarshal(data, &e); err != nil {
				t.Errorf("event is not a JSON object: %s", data)
				continue
			}
			c.events <- e
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow() })
	waitFor(t, "app "+appName+" registered", func() bool {
		for _, name := range s.ConnectedApps() {
			if name == appName {
				return true
			}
		}
		return false
	})
	return c
}

// next returns the next event, failing the test after a generous deadline.
func (c *eventClient) next() map[string]any {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no event within 20 s")
		return nil
	}
}

// untilDestroyed collects events up to and including ChannelDestroyed of id.
func (c *eventClient) untilDestroyed(id string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for {
		e := c.next()
		out = append(out, e)
		if e["type"] == "ChannelDestroyed" && channelID(e) == id {
			return out
		}
	}
}

// expectNone fails when an event arrives within wait.
func (c *eventClient) expectNone(wait time.Duration) {
	c.t.Helper()
	select {
	case e := <-c.events:
		c.t.Fatalf("unexpected event %v", e["type"])
	case <-time.After(wait):
	}
}

func channelID(e map[string]any) string {
	for _, key := range []string{"channel", "peer"} {
		if ch, ok := e[key].(map[string]any); ok {
			id, _ := ch["id"].(string)
			return id
		}
	}
	return ""
}

type httpResult struct {
	status int
	body   []byte
}

// ariRequest sends one ARI request with Basic auth (user "" for none).
func ariRequest(t *testing.T, s *Server, method, path, user, pass, body string) httpResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatalf("build request %s %s: %v", method, path, err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, body: data}
}

// originateQuery builds the query string the recordings used.
func originateQuery(endpoint, app, channelID string, timeout int) string {
	v := url.Values{}
	v.Set("endpoint", endpoint)
	v.Set("app", app)
	v.Set("callerId", `"Alert" <+15550000000>`)
	v.Set("timeout", strconvItoa(timeout))
	v.Set("channelId", channelID)
	return "/ari/channels?" + v.Encode()
}

func strconvItoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func types(events []map[string]any) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i], _ = e["type"].(string)
	}
	return out
}
