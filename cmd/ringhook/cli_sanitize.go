package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The CLI prints text that anyone holding a webhook URL can choose (a
// request's message, and through it names and errors), so everything it
// prints in table or text mode goes through sanitize first. A raw ESC or
// C1 control character would reach the operator's terminal and could
// retitle it, clear it or move the cursor over earlier output.

// sanitize returns s with every C0 and C1 control character, DEL,
// bidirectional formatting character and invalid UTF-8 byte replaced by a
// visible Go-style escape (\x1b, \n, \u009b, \u202e). Newlines are escaped
// too, so a value always stays on its table row.
func sanitize(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isUnsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// isPrintable reports whether sanitize would return s unchanged.
func isPrintable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || isUnsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

// isUnsafeRune reports the C1 control characters, which some terminals
// obey even when UTF-8 encoded, and the bidirectional formatting
// characters, which reorder the text around them on screen.
func isUnsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// sanitizeArgs returns fmt arguments with every string and error passed
// through sanitize. Other values print as numbers or fixed words.
func sanitizeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, arg := range args {
		switch v := arg.(type) {
		case string:
			out[i] = sanitize(v)
		case error:
			out[i] = sanitize(v.Error())
		default:
			out[i] = arg
		}
	}
	return out
}

// printf writes to stdout like fmt.Fprintf, with every string and error
// argument sanitized. The format itself is the CLI's own text.
func (c *cliContext) printf(format string, args ...any) {
	fmt.Fprintf(c.stdout, format, sanitizeArgs(args)...)
}

// errorf writes to stderr like fmt.Fprintf, with every string and error
// argument sanitized.
func (c *cliContext) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, format, sanitizeArgs(args)...)
}

// escapeJSONText replaces, in JSON text written by encoding/json, each
// DEL, C1 control character and bidirectional formatting character with
// its \u escape, and each invalid UTF-8 byte with \ufffd. encoding/json
// escapes the C0 controls itself but writes these as they are, and copies
// a json.RawMessage's bytes unchecked. Such runes can only occur inside
// JSON strings, where the escape means the same rune, so the JSON value
// is unchanged apart from the invalid bytes.
func escapeJSONText(data []byte) []byte {
	if !bytes.ContainsFunc(data, func(r rune) bool { return r >= 0x7f }) {
		return data
	}
	var b bytes.Buffer
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == 0x7f || isUnsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.Write(data[i : i+size])
		}
		i += size
	}
	return b.Bytes()
}
