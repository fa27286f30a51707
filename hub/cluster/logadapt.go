package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter sends hashicorp/raft's hclog output to a slog.Logger.
// Raft's key/value pairs become slog attributes; hclog levels map to the
// nearest slog level (trace to debug).
type hclogAdapter struct {
	logger *slog.Logger
	name   string
	args   []any
}

func newHCLogAdapter(logger *slog.Logger, name string) hclog.Logger {
	return &hclogAdapter{logger: logger, name: name}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	if !a.logger.Enabled(context.Background(), lvl) {
		return
	}
	attrs := make([]any, 0, len(a.args)+len(args)+2)
	if a.name != "" {
		attrs = append(attrs, "component", a.name)
	}
	attrs = append(attrs, a.args...)
	attrs = append(attrs, hclogArgs(args)...)
	a.logger.Log(context.Background(), lvl, msg, attrs...)
}

// hclogArgs turns hclog's alternating keys and values into slog pairs.
// hclog allows an odd trailing value; slog would print it as !BADKEY, so
// it gets the key "extra".
func hclogArgs(args []any) []any {
	out := make([]any, 0, len(args)+1)
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			out = append(out, "extra", fmt.Sprint(args[i]))
			break
		}
		key := fmt.Sprint(args[i])
		val := args[i+1]
		switch v := val.(type) {
		case error:
			val = v.Error()
		case hclog.Format:
			// hclog.Fmt("%+v", x) defers formatting to the logger.
			if len(v) > 0 {
				if format, ok := v[0].(string); ok {
					val = fmt.Sprintf(format, v[1:]...)
				}
			}
		}
		out = append(out, key, val)
	}
	return out
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(level hclog.Level) bool {
	return a.logger.Enabled(context.Background(), slogLevel(level))
}

func (a *hclogAdapter) IsTrace() bool { return false }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	merged := append(append([]any{}, a.args...), hclogArgs(args)...)
	return &hclogAdapter{logger: a.logger, name: a.name, args: merged}
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	full := name
	if a.name != "" {
		full = a.name + "." + name
	}
	return &hclogAdapter{logger: a.logger, name: full, args: a.args}
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{logger: a.logger, name: name, args: a.args}
}

// SetLevel does nothing: the slog handler decides which levels are written.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level {
	switch {
	case a.enabled(hclog.Debug):
		return hclog.Debug
	case a.enabled(hclog.Info):
		return hclog.Info
	case a.enabled(hclog.Warn):
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (a *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(nil), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &stdLogWriter{logger: a.logger, component: a.name}
}

// stdLogWriter turns lines of the standard log package, as memberlist
// writes them ("[WARN] memberlist: ..."), into slog records. The bracketed
// level prefix picks the slog level; a line without one is logged at info.
type stdLogWriter struct {
	logger    *slog.Logger
	component string
}

func (w *stdLogWriter) Write(p []byte) (int, error) {
	for line := range bytes.SplitSeq(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.writeLine(string(line))
	}
	return len(p), nil
}

func (w *stdLogWriter) writeLine(line string) {
	level := slog.LevelInfo
	prefixes := []struct {
		prefix string
		level  slog.Level
	}{
		{"[TRACE]", slog.LevelDebug},
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
	}
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			level = p.level
			line = strings.TrimSpace(rest)
			break
		}
	}
	w.logger.Log(context.Background(), level, line, "component", w.component)
}
