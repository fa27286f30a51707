package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// readBody reads at most limit bytes of a request body. A longer body is a
// 413 error naming the limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, CodeInvalid, "reading the request body failed: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge(limit)
	}
	return body, nil
}

func tooLarge(limit int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
		"the request body is larger than the limit of %d bytes; send a smaller body", limit)
}

// decodeJSON reads one JSON object into v, rejecting unknown fields and
// trailing data, with errors that point at the offending position or field.
func (s *Server) decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	return decodeJSONBytes(body, v)
}

func decodeJSONBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return newError(http.StatusBadRequest, CodeInvalidJSON, "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if dec.More() {
		line, col := position(body, dec.InputOffset())
		return newError(http.StatusBadRequest, CodeInvalidJSON,
			"invalid JSON at line %d, column %d: unexpected data after the object; send exactly one JSON object", line, col)
	}
	return nil
}

func jsonError(body []byte, err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		line, col := position(body, syntaxErr.Offset)
		return newError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON at line %d, column %d: %v", line, col, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: the body ends before the JSON value is complete")
	case errors.As(err, &typeErr):
		line, col := position(body, typeErr.Offset)
		field := typeErr.Field
		if field == "" {
			field = "the body"
		}
		return newError(http.StatusBadRequest, CodeInvalidJSON,
			"invalid JSON at line %d, column %d: %s must be %s, not a JSON %s", line, col, field, typeName(typeErr.Type.String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return newError(http.StatusBadRequest, CodeUnknownField,
			"unknown field %s; see docs/api.md for the fields of this object", name)
	}
	return newError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: %v", err)
}

// typeName turns a Go type into the JSON kind a client should send.
func typeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time string"
	}
	return "an object"
}

// position converts a byte offset into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	before := body[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// missing returns a 400 error for a required field.
func missing(field, hint string) *apiError {
	msg := "missing required field " + field
	if hint != "" {
		msg += ": " + hint
	}
	return &apiError{Status: http.StatusBadRequest, Code: CodeMissingField, Message: msg}
}
