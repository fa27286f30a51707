package routing

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/ringhook/ringhook/hub/model"
)

// Alert properties that a condition's field can name. They read the parsed
// alert, not the payload; "fields.<path>" reaches a payload field of the same
// name.
const (
	FieldSeverity   = "severity"
	FieldState      = "state"
	FieldMessage    = "message"
	FieldTool       = "tool"
	FieldAlertCount = "alert_count"

	// FieldsPrefix starts a path that always reads the payload's fields.
	FieldsPrefix = "fields."
	// Wildcard as a path segment stands for every element of a list or
	// every value of an object.
	Wildcard = "*"
)

// MaxWildcardElements is how many elements of one list a wildcard segment
// visits: the first ones, in list order. It bounds the work of one
// condition on a payload with thousands of alerts. Objects have no order,
// so a wildcard visits all of an object's values. The body limit of the
// receiver bounds their number.
const MaxWildcardElements = 1000

// headOfList returns the elements that a wildcard visits.
func headOfList[T any](list []T) []T {
	return list[:min(len(list), MaxWildcardElements)]
}

func isSeverityField(path string) bool { return strings.EqualFold(path, FieldSeverity) }

// resolve appends to dst the values that path names in the alert. A missing
// path, or one that ends at a JSON null, appends nothing.
func resolve(a model.Alert, path string, dst []any) []any {
	switch strings.ToLower(path) {
	case FieldSeverity:
		return appendNonEmpty(dst, a.Severity)
	case FieldState:
		return appendNonEmpty(dst, a.State)
	case FieldMessage:
		return appendNonEmpty(dst, a.Message)
	case FieldTool:
		return appendNonEmpty(dst, a.Tool)
	case FieldAlertCount:
		return append(dst, a.AlertCount)
	}

	if len(path) > len(FieldsPrefix) && strings.EqualFold(path[:len(FieldsPrefix)], FieldsPrefix) {
		path = path[len(FieldsPrefix):]
	}
	if path == "" || a.Fields == nil {
		return dst
	}
	return walk(a.Fields, path, dst)
}

func appendNonEmpty(dst []any, s string) []any {
	if s == "" {
		return dst
	}
	return append(dst, s)
}

// walk follows a dotted path from node. In an object, the longest run of
// segments that names a key wins, so a key that itself contains dots
// ("app.kubernetes.io/name") is reachable. In a list, a segment is a
// zero-based index. The wildcard segment visits every element or value.
func walk(node any, path string, dst []any) []any {
	if path == "" {
		if node != nil {
			dst = append(dst, node)
		}
		return dst
	}

	switch n := node.(type) {
	case map[string]any:
		if seg, rest := cutSegment(path); seg == Wildcard {
			for _, v := range n {
				dst = walk(v, rest, dst)
			}
			return dst
		}
		// Exact keys first at every length, because scanning for a key that
		// differs only in case visits the whole object.
		for end := len(path); end > 0; end = strings.LastIndexByte(path[:end], '.') {
			if v, ok := n[path[:end]]; ok {
				return walk(v, restAfter(path, end), dst)
			}
		}
		for end := len(path); end > 0; end = strings.LastIndexByte(path[:end], '.') {
			if v, ok := lookupFold(n, path[:end]); ok {
				return walk(v, restAfter(path, end), dst)
			}
		}
	case map[string]string:
		if seg, rest := cutSegment(path); seg == Wildcard {
			if rest == "" {
				for _, v := range n {
					dst = append(dst, v)
				}
			}
			return dst
		}
		if v, ok := n[path]; ok {
			return append(dst, v)
		}
		if v, ok := lookupFold(n, path); ok {
			return append(dst, v)
		}
	case []any:
		seg, rest := cutSegment(path)
		if seg == Wildcard {
			for _, v := range headOfList(n) {
				dst = walk(v, rest, dst)
			}
			return dst
		}
		if i, ok := parseIndex(seg, len(n)); ok {
			return walk(n[i], rest, dst)
		}
	case []string:
		seg, rest := cutSegment(path)
		if rest != "" {
			return dst
		}
		if seg == Wildcard {
			for _, v := range headOfList(n) {
				dst = append(dst, v)
			}
			return dst
		}
		if i, ok := parseIndex(seg, len(n)); ok {
			return append(dst, n[i])
		}
	}
	return dst
}

func cutSegment(path string) (seg, rest string) {
	seg, rest, _ = strings.Cut(path, ".")
	return seg, rest
}

func restAfter(path string, end int) string {
	if end >= len(path) {
		return ""
	}
	return path[end+1:]
}

// lookupFold finds the smallest key of m that equals key ignoring case, so
// the choice does not depend on map iteration order.
func lookupFold[V any](m map[string]V, key string) (V, bool) {
	var (
		best  string
		value V
		found bool
	)
	for k, v := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, value, found = k, v, true
		}
	}
	return value, found
}

// parseIndex reads a zero-based decimal list index below n.
func parseIndex(seg string, n int) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false
	}
	i := 0
	for _, c := range []byte(seg) {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	return i, i < n
}

// isScalar reports whether v is a string, number or bool.
func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

// scalarEqual compares two scalars: as numbers when both read as numbers,
// otherwise as text ignoring case, so true equals "TRUE".
func scalarEqual(a, b any) bool {
	if x, ok := toNumber(a); ok {
		if y, ok := toNumber(b); ok {
			return x == y
		}
	}
	ta, ok := scalarText(a)
	if !ok {
		return false
	}
	tb, ok := scalarText(b)
	if !ok {
		return false
	}
	return strings.EqualFold(ta, tb)
}

// scalarText returns the text of a scalar: a string as is, a number as it
// was sent (json.Number) or in its shortest form, a bool as "true" or
// "false".
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	return numberText(v)
}

// fieldText returns the text that the substring operators read: strings and
// numbers, not bools.
func fieldText(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	return numberText(v)
}

func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int8, int16, int32, int64:
		n, _ := toInt64(x)
		return strconv.FormatInt(n, 10), true
	case uint, uint8, uint16, uint32, uint64:
		n, _ := toUint64(x)
		return strconv.FormatUint(n, 10), true
	}
	return "", false
}

// toNumber reads v as a finite number: a Go number, a json.Number, or a
// string holding a decimal number ("42", "-1.5", "2e3", with surrounding
// spaces allowed). Bools, hexadecimal, "NaN" and "Inf" are not numbers.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		f := float64(x)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case json.Number:
		return parseDecimal(string(x))
	case string:
		return parseDecimal(x)
	case int, int8, int16, int32, int64:
		n, _ := toInt64(x)
		return float64(n), true
	case uint, uint8, uint16, uint32, uint64:
		n, _ := toUint64(x)
		return float64(n), true
	}
	return 0, false
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func toUint64(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	return 0, false
}

// parseDecimal parses a decimal number with an optional sign, fraction and
// exponent. strconv.ParseFloat alone would also accept "NaN", "Inf", hex
// floats and underscores, which no monitoring tool means as a number.
func parseDecimal(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return 0, false
	}
	digits := false
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// valueList returns the value of an in/nin condition as a list: a list of
// scalars as is, or a single scalar as a list of one.
func valueList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !isScalar(e) {
				return nil, false
			}
		}
		return x, len(x) > 0
	case []string:
		list := make([]any, len(x))
		for i, e := range x {
			list[i] = e
		}
		return list, len(x) > 0
	}
	if isScalar(v) {
		return []any{v}, true
	}
	return nil, false
}
