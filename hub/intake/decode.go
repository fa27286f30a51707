package intake

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ringhook/ringhook/hub/model"
)

// maxStringUnwrap is how many JSON string layers a double-encoded body may
// have before the innermost text is read as plain text.
const maxStringUnwrap = 3

// maxFormParts caps the number of multipart parts read from one body.
const maxFormParts = 1000

// body is a request body as the sniffer read it.
type body struct {
	format string
	fields map[string]any
	// count is the number of alerts in a JSON array body, 0 otherwise.
	count int
	// text is the body as text, for a text body's message.
	text string
}

// decodeBody sniffs and decodes a body. The Content-Type header is used
// only to find a multipart boundary; everything else is read from the bytes.
func decodeBody(contentType string, raw []byte) body {
	raw = validUTF8(raw)
	raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return body{format: model.FormatEmpty, fields: map[string]any{}}
	}

	if b, ok := decodeJSONBody(trimmed, 0); ok {
		return b
	}
	if boundary := multipartBoundary(contentType, trimmed); boundary != "" {
		if fields, ok := decodeMultipart(raw, boundary); ok {
			return body{format: model.FormatMultipart, fields: unwrapSingleField(fields)}
		}
	}
	if looksLikeForm(trimmed) {
		if fields, ok := decodeForm(string(trimmed)); ok {
			return body{format: model.FormatForm, fields: unwrapSingleField(fields)}
		}
	}
	return body{format: model.FormatText, fields: map[string]any{}, text: string(raw)}
}

// decodeJSONBody reads a JSON object, a JSON array, or a JSON string that
// holds one of those (a double-encoded body).
func decodeJSONBody(trimmed []byte, depth int) (body, bool) {
	switch trimmed[0] {
	case '{':
		obj, ok := decodeJSONObject(trimmed)
		if !ok {
			return body{}, false
		}
		return body{format: model.FormatJSON, fields: obj}, true

	case '[':
		v, ok := decodeJSON(trimmed)
		if !ok {
			return body{}, false
		}
		list := v.([]any)
		b := body{format: model.FormatJSONArray, fields: map[string]any{}, count: len(list)}
		if len(list) > 0 {
			if first, isObject := list[0].(map[string]any); isObject {
				b.fields = first
			}
		}
		return b, true

	case '"':
		v, ok := decodeJSON(trimmed)
		if !ok {
			return body{}, false
		}
		inner := strings.TrimSpace(v.(string))
		if inner == "" {
			return body{format: model.FormatText, fields: map[string]any{}, text: v.(string)}, true
		}
		if depth < maxStringUnwrap {
			if b, ok := decodeJSONBody([]byte(inner), depth+1); ok {
				return b, true
			}
		}
		return body{format: model.FormatText, fields: map[string]any{}, text: v.(string)}, true
	}
	return body{}, false
}

// decodeJSON decodes one complete JSON value with numbers kept as
// json.Number. Trailing non-space bytes make the input invalid.
func decodeJSON(data []byte) (any, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func decodeJSONObject(data []byte) (map[string]any, bool) {
	if len(data) == 0 || data[0] != '{' {
		return nil, false
	}
	v, ok := decodeJSON(data)
	if !ok {
		return nil, false
	}
	obj, ok := v.(map[string]any)
	return obj, ok
}

// decodeJSONText decodes a form or query value that holds a JSON object or
// array; any other value stays a string.
func decodeJSONText(s string) any {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return s
	}
	v, ok := decodeJSON([]byte(t))
	if !ok {
		return s
	}
	return v
}

// looksLikeForm reports whether a body reads as
// application/x-www-form-urlencoded: key=value pairs joined by "&", with no
// raw whitespace, since form encoding writes a space as "+" or "%20".
func looksLikeForm(trimmed []byte) bool {
	if bytes.IndexByte(trimmed, '=') < 0 {
		return false
	}
	for _, c := range trimmed {
		switch c {
		case ' ', '\t', '\r', '\n':
			return false
		}
	}
	for pair := range bytes.SplitSeq(trimmed, []byte("&")) {
		if len(pair) == 0 {
			continue
		}
		eq := bytes.IndexByte(pair, '=')
		if eq <= 0 || bytes.ContainsAny(pair[:eq], `"{}<>`) {
			return false
		}
	}
	return true
}

// decodeForm reads a form or query string. A repeated key keeps its first
// value. A value that holds a JSON object or array is decoded, because a
// form can carry nested data only that way.
func decodeForm(s string) (map[string]any, bool) {
	fields := map[string]any{}
	ok := false
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(key)
		if err != nil {
			k = key
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			v = value
		}
		k = strings.ToValidUTF8(k, "\uFFFD")
		v = strings.ToValidUTF8(v, "\uFFFD")
		if k == "" {
			continue
		}
		ok = true
		if _, seen := fields[k]; seen {
			continue
		}
		fields[k] = decodeJSONText(v)
	}
	return fields, ok
}

// multipartBoundary returns the boundary from a multipart Content-Type, or
// the one a body without that header starts with ("--boundary" and a part
// header on the next line).
func multipartBoundary(contentType string, trimmed []byte) string {
	if mediaType, params, err := mime.ParseMediaType(contentType); err == nil &&
		strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" {
		return params["boundary"]
	}
	if !bytes.HasPrefix(trimmed, []byte("--")) {
		return ""
	}
	line, rest, found := bytes.Cut(trimmed, []byte("\n"))
	if !found {
		return ""
	}
	line = bytes.TrimRight(line, "\r")
	if len(line) < 3 || len(line) > 72 || bytes.ContainsAny(line, " \t") {
		return ""
	}
	if !bytes.HasPrefix(bytes.ToLower(rest), []byte("content-")) {
		return ""
	}
	return string(line[2:])
}

// decodeMultipart reads the non-file parts of a multipart body. A repeated
// name keeps its first value; file parts (with a filename) are skipped.
func decodeMultipart(raw []byte, boundary string) (map[string]any, bool) {
	r := multipart.NewReader(bytes.NewReader(raw), boundary)
	fields := map[string]any{}
	parts := 0
	for parts < maxFormParts {
		part, err := r.NextRawPart()
		if err != nil {
			break
		}
		parts++
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			break
		}
		if _, seen := fields[name]; seen {
			continue
		}
		fields[strings.ToValidUTF8(name, "\uFFFD")] = decodeJSONText(string(validUTF8(data)))
	}
	return fields, parts > 0
}

// unwrapSingleField replaces a form with exactly one field holding a JSON
// object by that object, so that a JSON document posted as a form field
// ("payload=", "data=") reads like the same document posted as JSON.
func unwrapSingleField(fields map[string]any) map[string]any {
	if len(fields) != 1 {
		return fields
	}
	for _, v := range fields {
		if obj, ok := v.(map[string]any); ok {
			return obj
		}
	}
	return fields
}

// validUTF8 returns b with each invalid UTF-8 sequence replaced by U+FFFD.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}
