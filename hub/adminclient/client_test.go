package adminclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/adminclient"
)

// serve starts a hub stand-in on 127.0.0.1 that records the last request.
func serve(t *testing.T, status int, contentType, body string) (*adminclient.Client, *http.Request) {
	t.Helper()
	var last http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = *r.Clone(context.Background())
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return adminclient.New(srv.URL+"/", "secret-token-123456"), &last
}

func TestErrorEnvelopeDecoded(t *testing.T) {
	client, _ := serve(t, http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"endpoint \"e1\" not found"}}`)

	err := client.Do(context.Background(), http.MethodGet, "/api/v1/endpoints/e1", nil, nil, nil)

	var apiErr *adminclient.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if apiErr.Status != http.StatusNotFound {
		t.Errorf("Status = %d, want 404", apiErr.Status)
	}
	if apiErr.Code != "not_found" {
		t.Errorf("Code = %q, want not_found", apiErr.Code)
	}
	if apiErr.Message != `endpoint "e1" not found` {
		t.Errorf("Message = %q", apiErr.Message)
	}
	if !adminclient.IsNotFound(err) {
		t.Error("IsNotFound = false for a 404")
	}
	if !strings.Contains(err.Error(), `endpoint "e1" not found`) {
		t.Errorf("error text %q does not carry the hub's message", err.Error())
	}
}

func TestNonJSONErrorBodyKept(t *testing.T) {
	client, _ := serve(t, http.StatusBadGateway, "text/html", "<html>bad gateway</html>\n")

	err := client.Do(context.Background(), http.MethodGet, "/api/v1/calls", nil, nil, nil)

	var apiErr *adminclient.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if apiErr.Status != http.StatusBadGateway {
		t.Errorf("Status = %d, want 502", apiErr.Status)
	}
	if apiErr.Code != "http_error" {
		t.Errorf("Code = %q, want http_error", apiErr.Code)
	}
	if apiErr.Message != "<html>bad gateway</html>" {
		t.Errorf("Message = %q, want the trimmed body", apiErr.Message)
	}
	if adminclient.IsNotFound(err) {
		t.Error("IsNotFound = true for a 502")
	}
}

func TestLongErrorBodyTruncated(t *testing.T) {
	client, _ := serve(t, http.StatusInternalServerError, "text/plain", strings.Repeat("x", 1000))

	err := client.Do(context.Background(), http.MethodGet, "/api/v1/calls", nil, nil, nil)

	var apiErr *adminclient.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if n := len([]rune(apiErr.Message)); n != 201 {
		t.Errorf("message has %d characters, want 200 and an ellipsis", n)
	}
}

func TestEmptyErrorBodyNamesStatus(t *testing.T) {
	client, _ := serve(t, http.StatusServiceUnavailable, "", "")

	err := client.Do(context.Background(), http.MethodGet, "/readyz", nil, nil, nil)

	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("error = %v, want one naming HTTP 503", err)
	}
}

func TestListUnwrapsItems(t *testing.T) {
	client, last := serve(t, http.StatusOK, "application/json", `{"items":[{"id":"o1","name":"Acme"},{"id":"o2","name":"Beta"}],"next":""}`)

	var orgs []struct{ ID, Name string }
	err := client.List(context.Background(), "/api/v1/organizations", url.Values{"org_id": {"o1"}}, &orgs)

	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(orgs) != 2 {
		t.Fatalf("got %d items, want 2", len(orgs))
	}
	if orgs[0].ID != "o1" || orgs[1].Name != "Beta" {
		t.Errorf("items = %+v", orgs)
	}
	if got := last.URL.Query().Get("org_id"); got != "o1" {
		t.Errorf("query org_id = %q, want o1", got)
	}
	if got := last.Header.Get("Authorization"); got != "Bearer secret-token-123456" {
		t.Errorf("Authorization = %q", got)
	}
	if last.URL.Path != "/api/v1/organizations" {
		t.Errorf("path = %q: the base URL's trailing slash leaked into it", last.URL.Path)
	}
}

func TestListMissingItemsIsEmpty(t *testing.T) {
	for _, body := range []string{`{}`, `{"items":null}`, `{"items":[]}`} {
		client, _ := serve(t, http.StatusOK, "application/json", body)
		orgs := []map[string]any{{"stale": true}}
		if err := client.List(context.Background(), "/api/v1/organizations", nil, &orgs); err != nil {
			t.Fatalf("List with body %s: %v", body, err)
		}
		if len(orgs) != 0 {
			t.Errorf("List with body %s: got %d items, want 0", body, len(orgs))
		}
	}
}

func TestListNoteReturnsNote(t *testing.T) {
	const note = "agent health is known only on the leader; ask node node-0 at http://10.0.0.5:8080"
	client, _ := serve(t, http.StatusOK, "application/json", `{"items":[{"id":"a1"}],"count":1,"note":"`+note+`"}`)

	var agents []map[string]any
	got, err := client.ListNote(context.Background(), "/api/v1/agents", nil, &agents)

	if err != nil {
		t.Fatalf("ListNote: %v", err)
	}
	if got != note {
		t.Errorf("note = %q, want %q", got, note)
	}
	if len(agents) != 1 || agents[0]["id"] != "a1" {
		t.Errorf("items = %v, want one agent a1", agents)
	}
}

func TestDoSendsJSONBody(t *testing.T) {
	var gotBody map[string]string
	var gotType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotType = r.Header.Get("Content-Type")
		json.NewDecoder(r.Body).Decode(&gotBody)
		w.Write([]byte(`{"id":"t1"}`))
	}))
	defer srv.Close()
	client := adminclient.New(srv.URL, "")

	var out struct{ ID string }
	if err := client.Do(context.Background(), http.MethodPost, "/api/v1/tokens", nil, map[string]string{"name": "ci"}, &out); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if gotType != "application/json" {
		t.Errorf("Content-Type = %q", gotType)
	}
	if gotBody["name"] != "ci" {
		t.Errorf("body = %v", gotBody)
	}
	if out.ID != "t1" {
		t.Errorf("decoded ID = %q", out.ID)
	}
}

func TestUnreachableHubNamesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	client := adminclient.New(base, "")

	err := client.Do(context.Background(), http.MethodGet, "/api/v1/cluster", nil, nil, nil)

	if err == nil {
		t.Fatal("Do on a closed port returned no error")
	}
	if !strings.Contains(err.Error(), base) {
		t.Errorf("error %q does not name the hub URL %s", err, base)
	}
}
