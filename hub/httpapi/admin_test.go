package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ringhook/ringhook/hub/model"
	"github.com/ringhook/ringhook/raftfsm"
)

// crudCase drives one resource through create, read, list, replace, patch
// and delete.
type crudCase struct {
	path    string
	create  func(f fixture) map[string]any
	replace func(f fixture, created map[string]any) map[string]any
	patch   map[string]any
	// check names a field and the value it must have after replace, and
	// after patch.
	field                    string
	afterReplace, afterPatch any
}

func TestAdminCRUD(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	cases := []crudCase{
		{
			path:   "/organizations",
			create: func(fixture) map[string]any { return map[string]any{"name": "Globex"} },
			replace: func(_ fixture, c map[string]any) map[string]any {
				return map[string]any{"name": "Globex Corp", "brakes": map[string]any{"daily_call_cap": 5}}
			},
			patch: map[string]any{"name": "Globex Inc"},
			field: "name", afterReplace: "Globex Corp", afterPatch: "Globex Inc",
		},
		{
			path: "/members",
			create: func(f fixture) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "Bob", "phone": "+4915122223333"}
			},
			replace: func(f fixture, c map[string]any) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "Bob B", "phone": "+49 151 2222 3334",
					"consent": map[string]any{"confirmed_by": "Bob", "confirmed_at": "2026-01-02T03:04:05Z"}}
			},
			patch: map[string]any{"name": "Robert"},
			field: "phone", afterReplace: "+4915122223334", afterPatch: "+4915122223334",
		},
		{
			path:   "/projects",
			create: func(f fixture) map[string]any { return map[string]any{"org_id": f.orgID, "name": "db"} },
			replace: func(f fixture, c map[string]any) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "database"}
			},
			patch: map[string]any{"name": "databases"},
			field: "name", afterReplace: "database", afterPatch: "databases",
		},
		{
			path: "/schedules",
			create: func(f fixture) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "weekly", "time_zone": "Europe/Berlin",
					"rotations": []any{map[string]any{"start": "2026-01-05T09:00:00Z", "shift_length": 1, "shift_unit": "weeks", "member_ids": []any{f.memberID}}}}
			},
			replace: func(f fixture, c map[string]any) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "weekly", "time_zone": "America/New_York",
					"rotations": []any{map[string]any{"start": "2026-01-05T09:00:00Z", "shift_length": 2, "shift_unit": "days", "member_ids": []any{f.memberID}}}}
			},
			patch: map[string]any{"time_zone": "Asia/Tokyo"},
			field: "time_zone", afterReplace: "America/New_York", afterPatch: "Asia/Tokyo",
		},
		{
			path: "/scenarios",
			create: func(f fixture) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "all", "rules": []any{}, "default": map[string]any{"type": "call_all"}}
			},
			replace: func(f fixture, c map[string]any) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "all", "rules": []any{}, "default": map[string]any{"type": "call_primary"}, "on_resolved": "route"}
			},
			patch: map[string]any{"on_resolved": "cancel"},
			field: "on_resolved", afterReplace: "route", afterPatch: "cancel",
		},
		{
			path: "/endpoints",
			create: func(f fixture) map[string]any {
				return map[string]any{"org_id": f.orgID, "name": "grafana", "scenario_id": f.scenarioID}
			},
			replace: func(f fixture, c map[string]any) map[string]any {
				// A GET response sent back unchanged but for the name.
				c["name"] = "grafana prod"
				return c
			},
			patch: map[string]any{"name": "grafana staging"},
			field: "name", afterReplace: "grafana prod", afterPatch: "grafana staging",
		},
		{
			path:   "/agents",
			create: func(fixture) map[string]any { return map[string]any{"name": "pbx-1", "trunk": "trunk-a"} },
			replace: func(_ fixture, c map[string]any) map[string]any {
				return map[string]any{"name": "pbx-1", "trunk": "trunk-b"}
			},
			patch: map[string]any{"trunk": "trunk-c"},
			field: "trunk", afterReplace: "trunk-b", afterPatch: "trunk-c",
		},
	}

	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			created := env.mustAdmin(http.StatusCreated, "POST", tc.path, tc.create(f))
			id, _ := created["id"].(string)
			if len(id) != 36 {
				t.Fatalf("created id = %q, want a UUID", id)
			}

			got := env.mustAdmin(http.StatusOK, "GET", tc.path+"/"+id, nil)
			if got["id"] != id {
				t.Errorf("GET id = %v, want %s", got["id"], id)
			}

			list := env.mustAdmin(http.StatusOK, "GET", tc.path, nil)
			if !listHas(list, id) {
				t.Errorf("list lacks %s: %v", id, list)
			}

			replaced := env.mustAdmin(http.StatusOK, "PUT", tc.path+"/"+id, tc.replace(f, got))
			if replaced[tc.field] != tc.afterReplace {
				t.Errorf("after PUT %s = %v, want %v", tc.field, replaced[tc.field], tc.afterReplace)
			}
			if replaced["created_at"] != got["created_at"] {
				t.Errorf("PUT changed created_at from %v to %v", got["created_at"], replaced["created_at"])
			}

			patched := env.mustAdmin(http.StatusOK, "PATCH", tc.path+"/"+id, tc.patch)
			if patched[tc.field] != tc.afterPatch {
				t.Errorf("after PATCH %s = %v, want %v", tc.field, patched[tc.field], tc.afterPatch)
			}
			reread := env.mustAdmin(http.StatusOK, "GET", tc.path+"/"+id, nil)
			if reread[tc.field] != tc.afterPatch {
				t.Errorf("GET after PATCH %s = %v, want %v", tc.field, reread[tc.field], tc.afterPatch)
			}

			if res := env.admin("DELETE", tc.path+"/"+id, nil); res.status != http.StatusNoContent {
				t.Fatalf("DELETE: status %d: %s", res.status, res.body)
			}
			if res := env.admin("GET", tc.path+"/"+id, nil); res.status != http.StatusNotFound {
				t.Errorf("GET after DELETE: status %d, want 404", res.status)
			}
			if res := env.admin("DELETE", tc.path+"/"+id, nil); res.status != http.StatusNotFound {
				t.Errorf("second DELETE: status %d, want 404: %s", res.status, res.body)
			}
			if res := env.admin("PUT", tc.path+"/"+id, tc.replace(f, got)); res.status != http.StatusNotFound {
				t.Errorf("PUT after DELETE: status %d, want 404", res.status)
			}
		})
	}
}

func listHas(list map[string]any, id string) bool {
	items, _ := list["items"].([]any)
	for _, it := range items {
		if it.(map[string]any)["id"] == id {
			return true
		}
	}
	return false
}

func TestAdminListFilterByOrg(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	other := env.mustAdmin(http.StatusCreated, "POST", "/organizations", map[string]any{"name": "Other"})
	otherID := other["id"].(string)
	project := env.mustAdmin(http.StatusCreated, "POST", "/projects", map[string]any{"org_id": otherID, "name": "web"})
	member := env.mustAdmin(http.StatusCreated, "POST", "/members", map[string]any{"org_id": otherID, "name": "Eve", "phone": "+4915199998888"})

	for _, path := range []string{"/projects", "/members"} {
		own := env.mustAdmin(http.StatusOK, "GET", path+"?org_id="+f.orgID, nil)
		theirs := env.mustAdmin(http.StatusOK, "GET", path+"?org_id="+otherID, nil)
		id := project["id"].(string)
		if path == "/members" {
			id = member["id"].(string)
		}
		if listHas(own, id) {
			t.Errorf("%s?org_id=%s lists %s of another organization", path, f.orgID, id)
		}
		if !listHas(theirs, id) {
			t.Errorf("%s?org_id=%s lacks %s", path, otherID, id)
		}
	}
}

func TestAdminValidationErrors(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		status     int
		code       string
		msgContain string
	}{
		{"blocked phone", "POST", "/members", map[string]any{"org_id": f.orgID, "name": "X", "phone": "112", "region": "DE"},
			http.StatusUnprocessableEntity, CodeBlockedNumber, "emergency"},
		{"premium phone", "POST", "/members", map[string]any{"org_id": f.orgID, "name": "X", "phone": "+49 900 1234567"},
			http.StatusUnprocessableEntity, CodeBlockedNumber, "blocked"},
		{"national phone without region", "POST", "/members", map[string]any{"org_id": f.orgID, "name": "X", "phone": "0151 12345678"},
			http.StatusUnprocessableEntity, CodeInvalidPhone, "region"},
		{"invalid scenario", "POST", "/scenarios", map[string]any{"org_id": f.orgID, "name": "bad", "rules": []any{
			map[string]any{"name": "ok", "conditions": []any{}, "action": map[string]any{"type": "call_all"}},
			map[string]any{"name": "broken rule", "conditions": []any{map[string]any{"field": "severity", "op": "sounds_like", "value": "x"}}, "action": map[string]any{"type": "call_all"}},
		}}, http.StatusUnprocessableEntity, CodeInvalid, `rule 1 "broken rule"`},
		{"unknown field", "POST", "/organizations", `{"name":"A","colour":"red"}`,
			http.StatusBadRequest, CodeUnknownField, `"colour"`},
		{"invalid JSON", "POST", "/organizations", "{\n  \"name\": \"A\",\n  oops\n}",
			http.StatusBadRequest, CodeInvalidJSON, "line 3"},
		{"wrong type", "POST", "/organizations", `{"name": 5}`,
			http.StatusBadRequest, CodeInvalidJSON, "name must be a string"},
		{"empty body", "POST", "/organizations", "",
			http.StatusBadRequest, CodeInvalidJSON, "empty"},
		{"missing name", "POST", "/organizations", map[string]any{},
			http.StatusBadRequest, CodeMissingField, "name"},
		{"missing org", "POST", "/projects", map[string]any{"name": "p"},
			http.StatusBadRequest, CodeMissingField, "org_id"},
		{"missing trunk", "POST", "/agents", map[string]any{"name": "pbx"},
			http.StatusBadRequest, CodeMissingField, "trunk"},
		{"id on create", "POST", "/organizations", map[string]any{"id": "mine", "name": "A"},
			http.StatusBadRequest, CodeInvalid, "omit id"},
		{"hash on endpoint", "POST", "/endpoints", map[string]any{"org_id": f.orgID, "name": "e", "scenario_id": f.scenarioID, "alert_key_hash": "00"},
			http.StatusBadRequest, CodeInvalid, "alert_key"},
		{"unknown organization", "POST", "/projects", map[string]any{"org_id": "no-such-org", "name": "p"},
			http.StatusNotFound, CodeNotFound, "no-such-org"},
		{"unknown object", "GET", "/members/no-such-member", nil,
			http.StatusNotFound, CodeNotFound, "no-such-member"},
		{"bad limit", "GET", "/calls?limit=0", nil,
			http.StatusBadRequest, CodeInvalid, "limit"},
		{"bad since", "GET", "/requests?since=yesterday", nil,
			http.StatusBadRequest, CodeInvalid, "RFC 3339"},
		{"unknown route", "GET", "/widgets", nil,
			http.StatusNotFound, CodeNotFound, "/api/v1/widgets"},
		{"method not allowed", "POST", "/calls", nil,
			http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.admin(tc.method, tc.path, tc.body)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			if code := res.errorCode(t); code != tc.code {
				t.Errorf("code = %q, want %q", code, tc.code)
			}
			if msg := res.errorMessage(t); !strings.Contains(msg, tc.msgContain) {
				t.Errorf("message %q does not contain %q", msg, tc.msgContain)
			}
		})
	}
}

func TestAdminNameLimits(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	// Each case builds a create body with the name under test in one field.
	bodies := []struct {
		path  string
		field string
		body  func(name string) map[string]any
	}{
		{"/organizations", "name", func(n string) map[string]any { return map[string]any{"name": n} }},
		{"/members", "name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": n, "phone": "+4915122223333"}
		}},
		{"/projects", "name", func(n string) map[string]any { return map[string]any{"org_id": f.orgID, "name": n} }},
		{"/schedules", "name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": n, "time_zone": "UTC", "rotations": []any{map[string]any{
				"start": "2026-01-05T09:00:00Z", "shift_length": 1, "shift_unit": "weeks", "member_ids": []any{f.memberID}}}}
		}},
		{"/schedules", "rotations[0].name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": "weekly", "time_zone": "UTC", "rotations": []any{map[string]any{
				"name": n, "start": "2026-01-05T09:00:00Z", "shift_length": 1, "shift_unit": "weeks", "member_ids": []any{f.memberID}}}}
		}},
		{"/scenarios", "name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": n, "rules": []any{}, "default": map[string]any{"type": "call_all"}}
		}},
		{"/scenarios", "rules[0].name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": "pages", "rules": []any{map[string]any{
				"name": n, "conditions": []any{}, "action": map[string]any{"type": "call_all"}}}, "default": map[string]any{"type": "none"}}
		}},
		{"/endpoints", "name", func(n string) map[string]any {
			return map[string]any{"org_id": f.orgID, "name": n, "scenario_id": f.scenarioID}
		}},
		{"/agents", "name", func(n string) map[string]any { return map[string]any{"name": n, "trunk": "trunk-a"} }},
		{"/agents", "trunk", func(n string) map[string]any { return map[string]any{"name": "pbx-1", "trunk": n} }},
		{"/tokens", "name", func(n string) map[string]any { return map[string]any{"name": n} }},
	}

	for _, b := range bodies {
		t.Run(b.path+" "+b.field, func(t *testing.T) {
			res := env.admin("POST", b.path, b.body(strings.Repeat("x", 100_000)))
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("100 kB name: status %d, want 422: %s", res.status, res.body)
			}
			msg := res.errorMessage(t)
			if !strings.Contains(msg, b.field+" is 100000 characters") {
				t.Errorf("100 kB name: message %q does not name the field %s and its length", msg, b.field)
			}
			if !strings.Contains(msg, "200") {
				t.Errorf("100 kB name: message %q does not name the limit", msg)
			}

			res = env.admin("POST", b.path, b.body("line one\nline two"))
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("name with a newline: status %d, want 422: %s", res.status, res.body)
			}
			if msg := res.errorMessage(t); !strings.Contains(msg, b.field+" contains the control character U+000A") {
				t.Errorf("name with a newline: message %q does not name the field and the character", msg)
			}

			// The limit counts characters, not bytes: 200 three-byte runes fit.
			res = env.admin("POST", b.path, b.body(strings.Repeat("€", MaxNameLength)))
			if res.status != http.StatusCreated {
				t.Fatalf("name of %d characters: status %d, want 201: %s", MaxNameLength, res.status, res.body)
			}
		})
	}
}

func TestMemberConsentRecorded(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	member := env.mustAdmin(http.StatusOK, "GET", "/members/"+f.memberID, nil)
	consent, ok := member["consent"].(map[string]any)
	if !ok {
		t.Fatalf("member has no consent: %v", member)
	}
	if consent["confirmed_by"] != "ops lead" || consent["confirmed_at"] == "" {
		t.Errorf("consent = %v, want confirmed_by and a confirmed_at", consent)
	}
	if member["phone"] != f.phone {
		t.Errorf("phone = %v, want %s normalized from the national form", member["phone"], f.phone)
	}

	res := env.admin("POST", "/members", map[string]any{"org_id": f.orgID, "name": "X", "phone": "+4915100001111", "consent": map[string]any{}})
	if res.status != http.StatusBadRequest || res.errorCode(t) != CodeMissingField {
		t.Errorf("consent without confirmed_by: status %d: %s", res.status, res.body)
	}
}

func TestEndpointAlertKeyLifecycle(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.PublicURL = "https://hooks.example.com/" })
	f := env.setup(nil)
	if f.webhookURL != "https://hooks.example.com/api/wh/"+f.endpointID {
		t.Errorf("webhook_url = %q, want it on the public URL", f.webhookURL)
	}

	created := env.mustAdmin(http.StatusCreated, "POST", "/endpoints", map[string]any{
		"org_id": f.orgID, "name": "keyed", "scenario_id": f.scenarioID, "generate_alert_key": true,
	})
	id := created["id"].(string)
	key, _ := created["alert_key"].(string)
	if len(key) < 40 || created["alert_key_required"] != true {
		t.Fatalf("create response = %v, want a generated key and alert_key_required", created)
	}
	got := env.mustAdmin(http.StatusOK, "GET", "/endpoints/"+id, nil)
	if _, ok := got["alert_key"]; ok {
		t.Errorf("GET serves the alert key again: %v", got)
	}
	if res := env.webhook(id, "x", map[string]string{AlertKeyHeader: key}); res.status != http.StatusAccepted {
		t.Errorf("generated key: status %d: %s", res.status, res.body)
	}

	// A replace without a key field keeps the key.
	got["name"] = "keyed 2"
	env.mustAdmin(http.StatusOK, "PUT", "/endpoints/"+id, got)
	if res := env.webhook(id, "x", nil); res.status != http.StatusUnauthorized {
		t.Errorf("after PUT without key fields: status %d, want 401", res.status)
	}

	patched := env.mustAdmin(http.StatusOK, "PATCH", "/endpoints/"+id, map[string]any{"remove_alert_key": true})
	if patched["alert_key_required"] != false {
		t.Errorf("after remove_alert_key: %v", patched)
	}
	if res := env.webhook(id, "x", nil); res.status != http.StatusAccepted {
		t.Errorf("after remove_alert_key: status %d, want 202", res.status)
	}

	res := env.admin("POST", "/endpoints", map[string]any{
		"org_id": f.orgID, "name": "both", "scenario_id": f.scenarioID, "alert_key": "k", "generate_alert_key": true,
	})
	if res.status != http.StatusBadRequest {
		t.Errorf("alert_key with generate_alert_key: status %d, want 400", res.status)
	}
}

func TestWebhookURLFromRequestHost(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	if want := env.http.URL + "/api/wh/" + f.endpointID; f.webhookURL != want {
		t.Errorf("webhook_url = %q, want %q", f.webhookURL, want)
	}
}

func TestHashesNeverServed(t *testing.T) {
	env := newEnv(t)
	f := env.setup(map[string]any{"alert_key": "endpoint-key"})
	agent := env.mustAdmin(http.StatusCreated, "POST", "/agents", map[string]any{"name": "pbx-1", "trunk": "trunk-a"})
	token := env.mustAdmin(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "ci"})

	storedEndpoint, err := env.backend.FSM().GetEndpoint(f.endpointID)
	if err != nil {
		t.Fatal(err)
	}
	storedAgent, err := env.backend.FSM().GetAgent(agent["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	storedToken, err := env.backend.FSM().GetAdminToken(token["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	hashes := []string{storedEndpoint.AlertKeyHash, storedAgent.TokenHash, storedToken.Hash}
	for _, h := range hashes {
		if len(h) != 64 {
			t.Fatalf("stored hash %q is not a hex SHA-256", h)
		}
	}

	paths := []string{
		"/endpoints", "/endpoints/" + f.endpointID,
		"/agents", "/agents/" + storedAgent.ID,
		"/tokens", "/tokens/" + storedToken.ID,
	}
	for _, p := range paths {
		res := env.admin("GET", p, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, res.status)
		}
		for _, h := range hashes {
			if strings.Contains(string(res.body), h) {
				t.Errorf("GET %s serves a stored hash", p)
			}
		}
		for _, field := range []string{`"alert_key_hash"`, `"token_hash"`, `"hash"`} {
			if strings.Contains(string(res.body), field) {
				t.Errorf("GET %s has field %s", p, field)
			}
		}
	}
	for _, created := range []map[string]any{agent, token} {
		for _, field := range []string{"alert_key_hash", "token_hash", "hash"} {
			if _, ok := created[field]; ok {
				t.Errorf("create response has %s: %v", field, created)
			}
		}
	}
}

func TestAgentTokenMatchesStoredHash(t *testing.T) {
	env := newEnv(t)
	created := env.mustAdmin(http.StatusCreated, "POST", "/agents", map[string]any{"name": "pbx-1", "trunk": "trunk-a"})
	token := created["token"].(string)
	id, secret, ok := ParseToken(AgentTokenPrefix, token)
	if !ok || id != created["id"] {
		t.Fatalf("token %q does not parse to the agent id %v", token, created["id"])
	}
	stored, err := env.backend.FSM().GetAgent(id)
	if err != nil {
		t.Fatal(err)
	}
	if hashSecret(secret) != stored.TokenHash {
		t.Error("stored token hash is not the SHA-256 of the token's secret")
	}

	got := env.mustAdmin(http.StatusOK, "GET", "/agents/"+id, nil)
	if _, ok := got["token"]; ok {
		t.Errorf("GET serves the agent token again")
	}

	rotated := env.mustAdmin(http.StatusOK, "PATCH", "/agents/"+id, map[string]any{"rotate_token": true})
	newToken, _ := rotated["token"].(string)
	if newToken == "" || newToken == token {
		t.Fatalf("rotate_token returned %q", newToken)
	}
	stored, _ = env.backend.FSM().GetAgent(id)
	_, newSecret, _ := ParseToken(AgentTokenPrefix, newToken)
	if hashSecret(newSecret) != stored.TokenHash {
		t.Error("stored hash does not match the rotated token")
	}
}

func TestAuthentication(t *testing.T) {
	env := newEnv(t)

	t.Run("no token", func(t *testing.T) {
		res := env.send("GET", "/api/v1/organizations", nil, nil)
		if res.status != http.StatusUnauthorized || res.errorCode(t) != CodeUnauthorized {
			t.Errorf("status %d: %s", res.status, res.body)
		}
		if res.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		for _, tok := range []string{"nope", testBootstrapToken + "x", "rhk_6b0f5a1e-8e55-4b43-9d7a-1f2f3c4d5e6f_secret"} {
			res := env.send("GET", "/api/v1/organizations", nil, map[string]string{"Authorization": "Bearer " + tok})
			if res.status != http.StatusUnauthorized {
				t.Errorf("token %q: status %d, want 401", tok, res.status)
			}
		}
	})

	t.Run("not a bearer header", func(t *testing.T) {
		res := env.send("GET", "/api/v1/organizations", nil, map[string]string{"Authorization": "Basic " + testBootstrapToken})
		if res.status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", res.status)
		}
	})

	t.Run("bootstrap token", func(t *testing.T) {
		env.mustAdmin(http.StatusOK, "GET", "/organizations", nil)
	})

	t.Run("created and deleted token", func(t *testing.T) {
		created := env.mustAdmin(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "ci"})
		token := created["token"].(string)
		if !strings.HasPrefix(token, "rhk_"+created["id"].(string)+"_") {
			t.Fatalf("token %q is not rhk_<id>_<secret>", token)
		}
		auth := map[string]string{"Authorization": "Bearer " + token}
		if res := env.send("GET", "/api/v1/organizations", nil, auth); res.status != http.StatusOK {
			t.Fatalf("created token: status %d: %s", res.status, res.body)
		}

		// A token with the right id and a wrong secret is rejected.
		id, _, _ := ParseToken(AdminTokenPrefix, token)
		forged := map[string]string{"Authorization": "Bearer rhk_" + id + "_forged"}
		if res := env.send("GET", "/api/v1/organizations", nil, forged); res.status != http.StatusUnauthorized {
			t.Errorf("forged secret: status %d, want 401", res.status)
		}

		list := env.mustAdmin(http.StatusOK, "GET", "/tokens", nil)
		if !listHas(list, id) {
			t.Errorf("token list lacks %s", id)
		}

		env.mustAdmin(http.StatusNoContent, "DELETE", "/tokens/"+id, nil)
		if res := env.send("GET", "/api/v1/organizations", nil, auth); res.status != http.StatusUnauthorized {
			t.Errorf("deleted token: status %d, want 401", res.status)
		}
	})

	t.Run("webhooks need no token", func(t *testing.T) {
		res := env.send("GET", "/healthz", nil, nil)
		if res.status != http.StatusOK {
			t.Errorf("healthz: status %d", res.status)
		}
	})
}

func TestBootstrapTokenDisabledWhenEmpty(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.BootstrapToken = "" })
	res := env.send("GET", "/api/v1/organizations", nil, map[string]string{"Authorization": "Bearer "})
	if res.status != http.StatusUnauthorized {
		t.Errorf("empty token with no bootstrap token: status %d, want 401", res.status)
	}
}

func TestRequestAndCallLists(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	first := env.webhook(f.endpointID, alertmanagerFiring, nil).json(t)
	env.webhook(f.endpointID, "plain text", nil)

	requests := env.mustAdmin(http.StatusOK, "GET", "/requests?endpoint_id="+f.endpointID, nil)
	if requests["count"] != float64(2) {
		t.Errorf("requests of the endpoint = %v, want 2", requests["count"])
	}
	queued := env.mustAdmin(http.StatusOK, "GET", "/requests?outcome=queued", nil)
	if queued["count"] != float64(1) {
		t.Errorf("queued requests = %v, want 1", queued["count"])
	}
	limited := env.mustAdmin(http.StatusOK, "GET", "/requests?limit=1", nil)
	if limited["count"] != float64(1) {
		t.Errorf("limit=1 gave %v requests", limited["count"])
	}
	future := env.mustAdmin(http.StatusOK, "GET", "/requests?since=2999-01-01T00:00:00Z", nil)
	if future["count"] != float64(0) {
		t.Errorf("since in the future gave %v requests", future["count"])
	}

	byPhone := env.mustAdmin(http.StatusOK, "GET", "/calls?phone=%2B49%20151%2012345678", nil)
	if byPhone["count"] != float64(1) {
		t.Errorf("calls by phone = %v, want 1", byPhone["count"])
	}
	byRequest := env.mustAdmin(http.StatusOK, "GET", "/calls?request_id="+first["request_id"].(string), nil)
	if byRequest["count"] != float64(1) {
		t.Errorf("calls by request = %v, want 1", byRequest["count"])
	}
	byStatus := env.mustAdmin(http.StatusOK, "GET", "/calls?status="+model.CallFinished, nil)
	if byStatus["count"] != float64(0) {
		t.Errorf("finished calls = %v, want 0", byStatus["count"])
	}
	if res := env.admin("GET", "/calls/no-such-call", nil); res.status != http.StatusNotFound {
		t.Errorf("unknown call: status %d, want 404", res.status)
	}
	if res := env.admin("GET", "/requests/no-such-request", nil); res.status != http.StatusNotFound {
		t.Errorf("unknown request: status %d, want 404", res.status)
	}
}

func TestCallShowsAttemptsWithRawData(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)
	agent := env.mustAdmin(http.StatusCreated, "POST", "/agents", map[string]any{"name": "pbx-1", "trunk": "trunk-a"})
	callID := env.webhook(f.endpointID, alertmanagerFiring, nil).json(t)["phones"].([]any)[0].(map[string]any)["call_id"].(string)

	ctx := t.Context()
	if _, err := env.backend.Apply(ctx, &raftfsm.AssignAttempt{CallID: callID, Attempt: 1, AgentID: agent["id"].(string), Trunk: "trunk-a"}); err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"events":[{"type":"ChannelDestroyed","cause":17}]}`)
	if _, err := env.backend.Apply(ctx, &raftfsm.AttemptFinished{CallID: callID, Attempt: 1, Disposition: model.DispositionBusy, Cause: 17, CauseText: "User busy", Raw: raw}); err != nil {
		t.Fatal(err)
	}

	call := env.mustAdmin(http.StatusOK, "GET", "/calls/"+callID, nil)
	attempts, _ := call["attempts"].([]any)
	if len(attempts) != 1 {
		t.Fatalf("attempts = %v, want one", call["attempts"])
	}
	a := attempts[0].(map[string]any)
	if a["cause"] != float64(17) || a["disposition"] != model.DispositionBusy {
		t.Errorf("attempt = %v", a)
	}
	rawOut, _ := a["raw"].(map[string]any)
	if events, _ := rawOut["events"].([]any); len(events) != 1 {
		t.Errorf("raw ARI data = %v, want the reported events", a["raw"])
	}
}

func TestClusterRoutes(t *testing.T) {
	env := newEnv(t)

	status := env.mustAdmin(http.StatusOK, "GET", "/cluster", nil)
	if status["node_id"] != "node-1" || status["leader_id"] != "node-1" {
		t.Errorf("cluster status = %v", status)
	}
	if status["commit_index"] != float64(7) {
		t.Errorf("commit_index = %v, want 7", status["commit_index"])
	}
	if nodes, _ := status["nodes"].([]any); len(nodes) != 3 {
		t.Errorf("nodes = %v, want three", status["nodes"])
	}

	env.mustAdmin(http.StatusNoContent, "DELETE", "/cluster/nodes/node-3", nil)
	if len(env.backend.removed) != 1 || env.backend.removed[0] != "node-3" {
		t.Errorf("removed = %v, want node-3", env.backend.removed)
	}
	if res := env.admin("DELETE", "/cluster/nodes/node-9", nil); res.status != http.StatusNotFound {
		t.Errorf("unknown node: status %d, want 404", res.status)
	}
}

func TestAdminWriteWithoutLeader(t *testing.T) {
	env := newEnv(t)
	env.backend.setNoLeader(true)
	res := env.admin("POST", "/organizations", map[string]any{"name": "A"})
	if res.status != http.StatusServiceUnavailable || res.errorCode(t) != CodeNoLeader {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestAgentHealthOnLeaderOnly(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Agents = healthFor{} })
	created := env.mustAdmin(http.StatusCreated, "POST", "/agents", map[string]any{"name": "pbx-1", "trunk": "trunk-a"})
	id := created["id"].(string)
	env.server.agents = healthFor{id: id}

	got := env.mustAdmin(http.StatusOK, "GET", "/agents/"+id, nil)
	health, _ := got["health"].(map[string]any)
	if health["connected"] != true {
		t.Errorf("health on the leader = %v, want connected", got["health"])
	}

	env.backend.mu.Lock()
	env.backend.leader = false
	env.backend.mu.Unlock()
	list := env.mustAdmin(http.StatusOK, "GET", "/agents", nil)
	item := list["items"].([]any)[0].(map[string]any)
	if _, ok := item["health"]; ok {
		t.Errorf("a follower serves health: %v", item)
	}
	if note, _ := list["note"].(string); !strings.Contains(note, "node-2") {
		t.Errorf("note = %q, want it to name the leader", note)
	}
}

// healthFor reports one agent as connected and healthy.
type healthFor struct{ id string }

func (h healthFor) AgentHealth() []AgentStatus {
	return []AgentStatus{{AgentID: h.id, Connected: true, Healthy: true}}
}

func TestDeleteConflict(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.admin("DELETE", "/organizations/"+f.orgID, nil)
	if res.status != http.StatusConflict {
		t.Fatalf("deleting an organization with members: status %d, want 409: %s", res.status, res.body)
	}
	if code := res.errorCode(t); code != CodeConflict {
		t.Errorf("code = %q, want %q", code, CodeConflict)
	}
	if msg := res.errorMessage(t); !strings.Contains(msg, "delete them first") {
		t.Errorf("message %q does not say what to do", msg)
	}
	env.mustAdmin(http.StatusOK, "GET", "/organizations/"+f.orgID, nil)
}

func TestCreateDuplicateNameConflict(t *testing.T) {
	env := newEnv(t)
	f := env.setup(nil)

	res := env.admin("POST", "/organizations", map[string]any{"name": "Acme"})
	if res.status != http.StatusConflict {
		t.Fatalf("creating a second organization Acme: status %d, want 409: %s", res.status, res.body)
	}
	if code := res.errorCode(t); code != CodeConflict {
		t.Errorf("code = %q, want %q", code, CodeConflict)
	}
	if msg := res.errorMessage(t); !strings.Contains(msg, f.orgID) {
		t.Errorf("message %q does not name the existing organization %s", msg, f.orgID)
	}

	res = env.admin("POST", "/endpoints", map[string]any{"org_id": f.orgID, "name": "prometheus", "scenario_id": f.scenarioID})
	if res.status != http.StatusConflict {
		t.Fatalf("creating a second endpoint prometheus: status %d, want 409: %s", res.status, res.body)
	}
	if msg := res.errorMessage(t); !strings.Contains(msg, f.endpointID) {
		t.Errorf("message %q does not name the existing endpoint %s", msg, f.endpointID)
	}
}
