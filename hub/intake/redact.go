package intake

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ringhook/ringhook/hub/model"
)

// Redacted replaces the value of a secret in a stored body or query.
const Redacted = "[REDACTED]"

// maxRedactDepth is how many layers of JSON inside JSON strings the
// redactor opens (an SNS Message inside the SNS envelope is one layer).
const maxRedactDepth = 4

// secretWords name a secret wherever they appear in a field name, compared
// after lower-casing and dropping everything but letters and digits, so
// "api_key", "API-Key" and "apiKey" all read "apikey".
var secretWords = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey",
	"authorization", "signature", "credential", "cookie", "privatekey",
	"connectionstring", "subscribeurl",
}

// secretSuffixes name a secret at the end of a field name: the keys of
// PagerDuty ("routing_key", "integration_key", "service_key"), Datadog
// ("app_key"), New Relic ("license_key"), cloud access keys, and
// "basic_auth_pass" style password fields.
var secretSuffixes = []string{
	"routingkey", "integrationkey", "servicekey", "appkey", "applicationkey",
	"licensekey", "accesskey", "secretkey", "signingkey", "encryptionkey",
	"authkey", "masterkey", "sessionkey", "pass", "pwd",
}

// secretExact are whole field names that hold a secret.
var secretExact = []string{"auth", "sig", "tlskey"}

// notSecret are names that contain a secret word but hold none.
var notSecret = []string{"signatureversion"}

// IsSecretField reports whether a field name names a secret, so that its
// value is redacted before a body or query string is stored or shown.
func IsSecretField(name string) bool {
	n := squashName(name)
	if n == "" {
		return false
	}
	for _, w := range notSecret {
		if n == w {
			return false
		}
	}
	for _, w := range secretExact {
		if n == w {
			return true
		}
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, w := range secretSuffixes {
		if strings.HasSuffix(n, w) {
			return true
		}
	}
	return false
}

// squashName lower-cases name and keeps only ASCII letters and digits.
func squashName(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// secretInText finds "name=value" and "name: value" pairs in free text
// whose name contains a secret word; the value is group 2.
var secretInText = regexp.MustCompile(`(?i)([a-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|authorization|signature|routing[_\-]?key)[a-z0-9_.\-]*"?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;"']+)`)

// bearerInText finds HTTP credentials written after their scheme.
var bearerInText = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)[a-z0-9._~+/=\-]+`)

// StoredBody returns the body as the hub stores it: secrets redacted,
// invalid UTF-8 replaced, cut to model.MaxStoredBody bytes at a rune
// boundary. truncated is true when the body was cut.
//
// Redaction replaces the value of every field that IsSecretField names in
// JSON, form, multipart and query-string bodies, also inside JSON held in a
// string such as an SNS Message. In any text, JSON strings included, it
// also replaces "name=value" and "name: value" pairs with a secret name and
// bearer or basic credentials.
func StoredBody(r Request) (body string, truncated bool) {
	raw := validUTF8(r.Body)
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\uFEFF")))

	var out string
	precut := false
	switch {
	case len(trimmed) == 0:
		out = string(raw)
	case trimmed[0] == '{' || trimmed[0] == '[' || trimmed[0] == '"':
		if redacted, ok := redactJSONDocument(raw, 0); ok {
			out = string(redacted)
			break
		}
		out, precut = redactNonJSON(r.ContentType, raw, trimmed)
	default:
		out, precut = redactNonJSON(r.ContentType, raw, trimmed)
	}
	body, truncated = cutUTF8(out, model.MaxStoredBody)
	return body, truncated || precut
}

// redactNonJSON redacts a multipart, form or text body; cut is true when
// it redacted only the body's beginning.
func redactNonJSON(contentType string, raw, trimmed []byte) (redacted string, cut bool) {
	if boundary := multipartBoundary(contentType, trimmed); boundary != "" {
		if out, ok := redactMultipart(raw, boundary); ok {
			return out, false
		}
	}
	// Form and text redaction works pair by pair, so only the part that can
	// be stored needs it. The margin leaves room for the text that redaction
	// removes. A value cut here still has its name before it, so a secret
	// value is redacted even when only its start is kept.
	form := looksLikeForm(trimmed)
	text, cut := cutUTF8(string(raw), model.MaxStoredBody+redactMargin)
	if form {
		return redactQuery(text), cut
	}
	return redactText(text), cut
}

// redactMargin is how far beyond model.MaxStoredBody a form or text body is
// redacted before the stored body is cut.
const redactMargin = 4 << 10

// StoredQuery returns a raw query string with the values of secret
// parameters redacted and invalid UTF-8 replaced.
func StoredQuery(query string) string {
	return redactQuery(strings.ToValidUTF8(query, "\uFFFD"))
}

// redactQuery redacts a form or query string pair by pair and keeps every
// other byte as it was.
func redactQuery(s string) string {
	pairs := strings.Split(s, "&")
	for i, pair := range pairs {
		rawKey, rawValue, hasValue := strings.Cut(pair, "=")
		if !hasValue || rawValue == "" {
			continue
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if IsSecretField(key) {
			pairs[i] = rawKey + "=" + url.QueryEscape(Redacted)
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			continue
		}
		if redacted := redactString(value, 0); redacted != value {
			pairs[i] = rawKey + "=" + url.QueryEscape(redacted)
		}
	}
	return strings.Join(pairs, "&")
}

// textSecretHints are lower-case words that every match of secretInText or
// bearerInText contains; text without any of them is returned unchanged
// without running the regular expressions.
var textSecretHints = []string{"pass", "secret", "token", "key", "auth", "signature", "bearer", "basic"}

// redactText redacts secrets written as pairs or credentials in free text.
func redactText(s string) string {
	lower := strings.ToLower(s)
	hinted := false
	for _, h := range textSecretHints {
		if strings.Contains(lower, h) {
			hinted = true
			break
		}
	}
	if !hinted {
		return s
	}
	// Credentials go first: "Authorization: Bearer x" would otherwise
	// lose only the word Bearer to the pair rule.
	s = bearerInText.ReplaceAllString(s, "${1}${2}"+Redacted)
	return secretInText.ReplaceAllString(s, "${1}"+Redacted)
}

// redactString redacts a string value: as JSON when it holds a JSON
// document, otherwise as free text.
func redactString(s string, depth int) string {
	t := strings.TrimSpace(s)
	if depth < maxRedactDepth && t != "" && (t[0] == '{' || t[0] == '[') {
		if redacted, ok := redactJSONDocument([]byte(s), depth+1); ok {
			return string(redacted)
		}
	}
	return redactText(s)
}

// redactFields replaces, in place, the values of secret fields in decoded
// JSON and redacts secrets inside every string value.
func redactFields(fields map[string]any) {
	for k, v := range fields {
		fields[k] = redactValue(k, v)
	}
}

func redactValue(key string, v any) any {
	if IsSecretField(key) && v != nil && v != "" {
		return Redacted
	}
	switch x := v.(type) {
	case string:
		return redactString(x, 0)
	case map[string]any:
		redactFields(x)
	case []any:
		for i, item := range x {
			x[i] = redactValue("", item)
		}
	}
	return v
}

// redactMultipart rebuilds a multipart body with secret parts and secrets
// inside parts redacted. It reports false when the body is not valid
// multipart, and the caller redacts it as text.
func redactMultipart(raw []byte, boundary string) (string, bool) {
	r := multipart.NewReader(bytes.NewReader(raw), boundary)
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return "", false
	}
	parts := 0
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil || parts >= maxFormParts {
			return "", false
		}
		parts++
		data, err := io.ReadAll(part)
		if err != nil {
			return "", false
		}
		value := string(validUTF8(data))
		switch {
		case IsSecretField(part.FormName()):
			value = Redacted
		case part.FileName() == "":
			value = redactString(value, 0)
		}
		header := textproto.MIMEHeader{}
		for k, v := range part.Header {
			header[k] = v
		}
		pw, err := w.CreatePart(header)
		if err != nil {
			return "", false
		}
		if _, err := io.WriteString(pw, value); err != nil {
			return "", false
		}
	}
	if parts == 0 || w.Close() != nil {
		return "", false
	}
	return out.String(), true
}

// cutUTF8 cuts s to at most max bytes without splitting a rune.
func cutUTF8(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// jsonRedactor copies a valid JSON document, replacing the values of
// secret fields and redacting secrets inside string values. Its input must
// pass json.Valid, so the scanner needs no error handling of its own.
type jsonRedactor struct {
	src   []byte
	out   []byte
	depth int
}

// redactJSONDocument redacts a JSON document surrounded by whitespace and
// an optional byte-order mark, which are kept as they are. It reports
// false when the document is not valid JSON.
func redactJSONDocument(raw []byte, depth int) ([]byte, bool) {
	noBOM := bytes.TrimPrefix(raw, []byte("\uFEFF"))
	left := bytes.TrimLeftFunc(noBOM, unicode.IsSpace)
	doc := bytes.TrimRightFunc(left, unicode.IsSpace)
	if len(doc) == 0 || !json.Valid(doc) {
		return nil, false
	}
	start := len(raw) - len(left)
	end := start + len(doc)
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:start]...)
	out = append(out, redactJSON(doc, depth)...)
	out = append(out, raw[end:]...)
	return out, true
}

// redactJSON returns src, which must be valid JSON, with secrets redacted
// and its layout kept.
func redactJSON(src []byte, depth int) []byte {
	r := &jsonRedactor{src: src, out: make([]byte, 0, len(src)), depth: depth}
	i := r.space(0)
	i = r.value(i)
	r.space(i)
	return r.out
}

// space copies whitespace from i and returns the index after it.
func (r *jsonRedactor) space(i int) int {
	for i < len(r.src) {
		switch r.src[i] {
		case ' ', '\t', '\r', '\n':
			r.out = append(r.out, r.src[i])
			i++
		default:
			return i
		}
	}
	return i
}

func (r *jsonRedactor) value(i int) int {
	switch r.src[i] {
	case '{':
		return r.object(i)
	case '[':
		return r.array(i)
	case '"':
		end := r.stringEnd(i)
		r.stringValue(r.src[i:end])
		return end
	}
	end := i
	for end < len(r.src) {
		c := r.src[end]
		if c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		end++
	}
	r.out = append(r.out, r.src[i:end]...)
	return end
}

func (r *jsonRedactor) object(i int) int {
	r.out = append(r.out, '{')
	i = r.space(i + 1)
	if r.src[i] == '}' {
		r.out = append(r.out, '}')
		return i + 1
	}
	for {
		keyEnd := r.stringEnd(i)
		rawKey := r.src[i:keyEnd]
		r.out = append(r.out, rawKey...)
		i = r.space(keyEnd)
		r.out = append(r.out, ':') // the separator after a key
		i = r.space(i + 1)

		if IsSecretField(decodeJSONString(rawKey)) && !r.emptyValueAt(i) {
			mark := len(r.out)
			i = r.value(i)
			r.out = append(r.out[:mark], `"`+Redacted+`"`...)
		} else {
			i = r.value(i)
		}

		i = r.space(i)
		if r.src[i] == '}' {
			r.out = append(r.out, '}')
			return i + 1
		}
		r.out = append(r.out, ',')
		i = r.space(i + 1)
	}
}

func (r *jsonRedactor) array(i int) int {
	r.out = append(r.out, '[')
	i = r.space(i + 1)
	if r.src[i] == ']' {
		r.out = append(r.out, ']')
		return i + 1
	}
	for {
		i = r.value(i)
		i = r.space(i)
		if r.src[i] == ']' {
			r.out = append(r.out, ']')
			return i + 1
		}
		r.out = append(r.out, ',')
		i = r.space(i + 1)
	}
}

// stringEnd returns the index after the string literal that starts at i.
func (r *jsonRedactor) stringEnd(i int) int {
	for j := i + 1; j < len(r.src); j++ {
		switch r.src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(r.src)
}

// stringValue copies a string literal, re-encoded when redaction changed
// its text.
func (r *jsonRedactor) stringValue(literal []byte) {
	s := decodeJSONString(literal)
	redacted := redactString(s, r.depth)
	if redacted == s {
		r.out = append(r.out, literal...)
		return
	}
	r.out = appendJSONString(r.out, redacted)
}

// emptyValueAt reports whether the value at i is null or the empty
// string, which hide nothing and stay as they are.
func (r *jsonRedactor) emptyValueAt(i int) bool {
	rest := r.src[i:]
	return bytes.HasPrefix(rest, []byte("null")) || bytes.HasPrefix(rest, []byte(`""`))
}

// decodeJSONString decodes a valid JSON string literal.
func decodeJSONString(literal []byte) string {
	if bytes.IndexByte(literal, '\\') < 0 && len(literal) >= 2 {
		return string(literal[1 : len(literal)-1])
	}
	var s string
	if err := json.Unmarshal(literal, &s); err != nil {
		return string(literal)
	}
	return s
}

// appendJSONString appends s as a JSON string literal without the HTML
// escaping that json.Marshal applies.
func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return append(dst, `""`...)
	}
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...)
}
