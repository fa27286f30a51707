package intake

import (
	"encoding/json"
	"strconv"
	"strings"
)

// getKey returns the value of key in m, matching the key exactly first and
// then case-insensitively. Among several case-insensitive matches the
// smallest key in byte order wins, so the result is deterministic.
func getKey(m map[string]any, key string) (any, string, bool) {
	if v, ok := m[key]; ok {
		return v, key, true
	}
	found := ""
	var value any
	for k, v := range m {
		if strings.EqualFold(k, key) && (found == "" || k < found) {
			found, value = k, v
		}
	}
	return value, found, found != ""
}

// lookup follows a dotted path through nested objects and arrays (a
// numeric segment indexes an array) and returns the value with its path as
// spelled in the payload, for example "alerts[0].labels.severity".
func lookup(m map[string]any, path string) (any, string, bool) {
	var cur any = m
	var spelled strings.Builder
	for seg := range strings.SplitSeq(path, ".") {
		switch node := cur.(type) {
		case map[string]any:
			v, key, ok := getKey(node, seg)
			if !ok {
				return nil, "", false
			}
			if spelled.Len() > 0 {
				spelled.WriteByte('.')
			}
			spelled.WriteString(key)
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, "", false
			}
			spelled.WriteString("[" + seg + "]")
			cur = node[i]
		default:
			return nil, "", false
		}
	}
	return cur, spelled.String(), true
}

// scalarText returns a string, number or bool value as text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// lookupText returns the non-empty text at path.
func lookupText(m map[string]any, path string) (string, string, bool) {
	v, spelled, ok := lookup(m, path)
	if !ok {
		return "", "", false
	}
	s, ok := scalarText(v)
	if !ok || strings.TrimSpace(s) == "" {
		return "", "", false
	}
	return s, spelled, true
}

// has reports whether every path exists in m.
func has(m map[string]any, paths ...string) bool {
	for _, p := range paths {
		if _, _, ok := lookup(m, p); !ok {
			return false
		}
	}
	return true
}

// hasAny reports whether at least one path exists in m.
func hasAny(m map[string]any, paths ...string) bool {
	for _, p := range paths {
		if _, _, ok := lookup(m, p); ok {
			return true
		}
	}
	return false
}
