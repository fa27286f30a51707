package intake

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringhook/ringhook/hub/model"
)

func TestIsSecretField(t *testing.T) {
	secret := []string{
		"password", "Password", "db_password", "passwd", "basic_auth_pass", "radiusPassword", "mqttPassword",
		"token", "Token", "pushToken", "access_token", "secret", "client_secret", "radiusSecret",
		"api_key", "apiKey", "API-KEY", "x-api-key", "routing_key", "integration_key", "service_key",
		"app_key", "license_key", "Authorization", "Signature", "databaseConnectionString",
		"SubscribeURL", "UnsubscribeURL", "cookie", "private_key", "auth", "pwd",
	}
	for _, name := range secret {
		if !IsSecretField(name) {
			t.Errorf("IsSecretField(%q) = false, want true", name)
		}
	}
	plain := []string{
		"SignatureVersion", "SigningCertURL", "groupKey", "key", "message", "status", "severity",
		"monitorID", "hostname", "event_definition_id", "", "author", "routing", "dedup_key",
	}
	for _, name := range plain {
		if IsSecretField(name) {
			t.Errorf("IsSecretField(%q) = true, want false", name)
		}
	}
}

func TestStoredBodyJSON(t *testing.T) {
	body := `{
  "routing_key" : "R0123456789",
  "event_action": "trigger",
  "payload": {"summary": "<db> & co", "severity": "error"},
  "monitor": {"basic_auth_pass": "hunter2", "basic_auth_user": "admin", "radiusPassword": null, "pushToken": ""},
  "nested": [{"apiKey": 12345}, {"secret": {"a": "b"}}]
}`
	got, truncated := StoredBody(Request{Body: []byte(body)})
	if truncated {
		t.Error("truncated = true for a small body")
	}
	for _, leaked := range []string{"R0123456789", "hunter2", "12345", `"a": "b"`} {
		if strings.Contains(got, leaked) {
			t.Errorf("stored body still holds %q:\n%s", leaked, got)
		}
	}
	for _, kept := range []string{`"<db> & co"`, `"basic_auth_user": "admin"`, `"radiusPassword": null`, `"pushToken": ""`, "\n  \"event_action\": \"trigger\","} {
		if !strings.Contains(got, kept) {
			t.Errorf("stored body lost %q:\n%s", kept, got)
		}
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("stored body is no longer valid JSON:\n%s", got)
	}
	if n := strings.Count(got, Redacted); n != 4 {
		t.Errorf("stored body has %d redactions, want 4:\n%s", n, got)
	}
}

func TestStoredBodySNSNested(t *testing.T) {
	inner := `{"AlarmName":"cpu","Authorization":"Bearer abc.def","config":{"password":"p4ss"}}`
	innerJSON, err := json.Marshal(inner)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"Type":"Notification","TopicArn":"arn:aws:sns:x","Message":` + string(innerJSON) +
		`,"Signature":"c2lnbmF0dXJl","SignatureVersion":"1","UnsubscribeURL":"https://sns.example/?Action=Unsubscribe&SubscriptionArn=arn"}`
	got, _ := StoredBody(Request{Body: []byte(body)})
	for _, leaked := range []string{"abc.def", "p4ss", "c2lnbmF0dXJl", "SubscriptionArn=arn"} {
		if strings.Contains(got, leaked) {
			t.Errorf("stored body still holds %q:\n%s", leaked, got)
		}
	}
	if !strings.Contains(got, `\"AlarmName\":\"cpu\"`) {
		t.Errorf("stored body lost the alarm name:\n%s", got)
	}
	if !strings.Contains(got, `"SignatureVersion":"1"`) {
		t.Errorf("stored body lost SignatureVersion:\n%s", got)
	}
	var outer map[string]any
	if err := json.Unmarshal([]byte(got), &outer); err != nil {
		t.Fatalf("stored body is not valid JSON: %v\n%s", err, got)
	}
	if !json.Valid([]byte(outer["Message"].(string))) {
		t.Errorf("redacted Message is not valid JSON: %s", outer["Message"])
	}
}

func TestStoredBodyForm(t *testing.T) {
	body := "Token=abc123&Name=Shop&Status=Down&monitor=" +
		`%7B%22name%22%3A%22m%22%2C%22basic_auth_pass%22%3A%22hunter2%22%7D`
	got, _ := StoredBody(Request{ContentType: "application/x-www-form-urlencoded", Body: []byte(body)})
	for _, leaked := range []string{"abc123", "hunter2"} {
		if strings.Contains(got, leaked) {
			t.Errorf("stored body still holds %q: %s", leaked, got)
		}
	}
	if !strings.HasPrefix(got, "Token=%5BREDACTED%5D&Name=Shop&Status=Down&monitor=") {
		t.Errorf("stored form = %q, want the other pairs kept as sent", got)
	}
}

func TestStoredQuery(t *testing.T) {
	got := StoredQuery("token=s3cr3t&team=db&api_key=k&empty_token=")
	want := "token=%5BREDACTED%5D&team=db&api_key=%5BREDACTED%5D&empty_token="
	if got != want {
		t.Errorf("StoredQuery = %q, want %q", got, want)
	}
}

func TestStoredBodyMultipart(t *testing.T) {
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"msg\":\"down\",\"token\":\"t0k\"}\r\n--XyZ--\r\n"
	got, _ := StoredBody(Request{ContentType: "multipart/form-data; boundary=XyZ", Body: []byte(body)})
	for _, leaked := range []string{"hunter2", "t0k"} {
		if strings.Contains(got, leaked) {
			t.Errorf("stored body still holds %q:\n%s", leaked, got)
		}
	}
	if !strings.Contains(got, `"msg":"down"`) {
		t.Errorf("stored body lost the data field:\n%s", got)
	}
	a := Parse(Request{ContentType: "multipart/form-data; boundary=XyZ", Body: []byte(got)})
	if a.Format != model.FormatMultipart {
		t.Errorf("stored multipart body reads as %q, want multipart", a.Format)
	}
}

func TestStoredBodyText(t *testing.T) {
	body := "login failed: password=hunter2 user=bob\nAuthorization: Bearer eyJhbGciOi.x.y\napi_key: \"k-123\""
	got, _ := StoredBody(Request{ContentType: "text/plain", Body: []byte(body)})
	for _, leaked := range []string{"hunter2", "eyJhbGciOi", "k-123"} {
		if strings.Contains(got, leaked) {
			t.Errorf("stored body still holds %q:\n%s", leaked, got)
		}
	}
	if !strings.Contains(got, "user=bob") {
		t.Errorf("stored body lost user=bob:\n%s", got)
	}
}

func TestStoredBodyInvalidUTF8AndCut(t *testing.T) {
	got, truncated := StoredBody(Request{Body: []byte("a\xffb")})
	if got != "a\uFFFDb" || truncated {
		t.Errorf("StoredBody = %q, %v; want %q, false", got, truncated, "a\uFFFDb")
	}

	// A 3-byte rune straddles the limit, so the cut must fall before it.
	body := strings.Repeat("a", model.MaxStoredBody-1) + "€" + "tail"
	got, truncated = StoredBody(Request{Body: []byte(body)})
	if !truncated {
		t.Error("truncated = false for a body over the limit")
	}
	if len(got) != model.MaxStoredBody-1 {
		t.Errorf("stored body has %d bytes, want %d", len(got), model.MaxStoredBody-1)
	}
	if !utf8.ValidString(got) {
		t.Error("stored body was cut inside a rune")
	}

	exact := strings.Repeat("b", model.MaxStoredBody)
	if got, truncated := StoredBody(Request{Body: []byte(exact)}); truncated || got != exact {
		t.Errorf("body of exactly the limit: truncated = %v, length %d", truncated, len(got))
	}
}

func TestStoredBodyLongFormCutAfterRedaction(t *testing.T) {
	body := strings.Repeat("token=abcdefghijklmnopqrstuvwxyz&", model.MaxStoredBody/16)
	got, truncated := StoredBody(Request{Body: []byte(body)})
	if !truncated {
		t.Error("truncated = false for a body over the limit")
	}
	if strings.Contains(got, "abcdefghijklmnopqrstuvwxyz") {
		t.Error("stored body still holds a token value")
	}
}

func TestStoredBodyJSONWithPrefix(t *testing.T) {
	for name, prefix := range map[string]string{
		"byte order mark":   "\uFEFF",
		"no-break space":    "\u00A0\n",
		"next line control": "\u0085",
	} {
		t.Run(name, func(t *testing.T) {
			body := prefix + `{"password":"hunter2","user":"bob"}` + "\u00A0"
			got, _ := StoredBody(Request{Body: []byte(body)})
			if strings.Contains(got, "hunter2") {
				t.Errorf("stored body still holds the password: %q", got)
			}
			want := prefix + `{"password":"` + Redacted + `","user":"bob"}` + "\u00A0"
			if got != want {
				t.Errorf("stored body = %q, want %q", got, want)
			}
		})
	}

	nested, err := json.Marshal("\u00A0" + `{"token":"t0k"}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := StoredBody(Request{Body: []byte(`{"Message":` + string(nested) + `}`)})
	if strings.Contains(got, "t0k") {
		t.Errorf("stored body still holds a nested token: %s", got)
	}
}

func TestParseRedactsFields(t *testing.T) {
	a := Parse(Request{
		Query: "token=q-secret&team=db",
		Body:  []byte(`{"routing_key":"R0123","payload":{"summary":"login with password=hunter2 failed"},"monitor":{"headers":"{\"Authorization\":\"Basic dXNlcjpwYXNz\"}"},"list":[{"apiKey":"k1"}],"empty_token":""}`),
	})
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{"q-secret", "R0123", "hunter2", "dXNlcjpwYXNz", "k1"} {
		if strings.Contains(string(data), leaked) {
			t.Errorf("alert still holds %q: %s", leaked, data)
		}
	}
	if a.Fields["team"] != "db" {
		t.Errorf("team = %#v, want \"db\"", a.Fields["team"])
	}
	if a.Fields["routing_key"] != Redacted {
		t.Errorf("routing_key = %#v, want %q kept as a present field", a.Fields["routing_key"], Redacted)
	}
	if a.Fields["empty_token"] != "" {
		t.Errorf("empty_token = %#v, want the empty string kept", a.Fields["empty_token"])
	}
	if !strings.Contains(a.Message, "login with password="+Redacted) {
		t.Errorf("message = %q, want the password redacted", a.Message)
	}

	text := Parse(Request{ContentType: "text/plain", Body: []byte("deploy failed, api_key=abc123")})
	if strings.Contains(text.Message, "abc123") {
		t.Errorf("text message still holds the key: %q", text.Message)
	}
}
