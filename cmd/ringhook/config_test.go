package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers
// and of the demo's call printer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCommand runs the ringhook binary's entry point in-process.
func runCommand(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = runMain(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// testFlags is a flag set shaped like a command's, for parseFlags tests.
type testFlags struct {
	fs                      *flag.FlagSet
	fromFlag, fromEnv, file string
	count                   int
	join                    string
}

func newTestFlags() *testFlags {
	f := &testFlags{fs: flag.NewFlagSet("test", flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard)
	f.fs.StringVar(&f.fromFlag, "from-flag", "default", "")
	f.fs.StringVar(&f.fromEnv, "from-env", "default", "")
	f.fs.StringVar(&f.file, "file-only", "default", "")
	f.fs.IntVar(&f.count, "count", 1, "")
	f.fs.StringVar(&f.join, "join", "", "")
	return f
}

func TestParseFlagsPrecedence(t *testing.T) {
	config := writeFile(t, "hub.yaml", "from-flag: file\nfrom-env: file\nfile-only: file\n")
	t.Setenv("RINGHOOK_FROM_FLAG", "env")
	t.Setenv("RINGHOOK_FROM_ENV", "env")
	f := newTestFlags()

	if err := parseFlags(f.fs, []string{"--config", config, "--from-flag", "flag"}); err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if f.fromFlag != "flag" {
		t.Errorf("set by flag, env and file: got %q, want the flag's value", f.fromFlag)
	}
	if f.fromEnv != "env" {
		t.Errorf("set by env and file: got %q, want the environment's value", f.fromEnv)
	}
	if f.file != "file" {
		t.Errorf("set by file only: got %q, want the file's value", f.file)
	}
	if f.count != 1 {
		t.Errorf("set nowhere: got %d, want the default 1", f.count)
	}
}

func TestParseFlagsEnvWithoutFile(t *testing.T) {
	t.Setenv("RINGHOOK_COUNT", "7")
	f := newTestFlags()
	if err := parseFlags(f.fs, nil); err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if f.count != 7 {
		t.Errorf("count = %d, want 7 from RINGHOOK_COUNT", f.count)
	}
}

func TestParseFlagsListBecomesCommaSeparated(t *testing.T) {
	config := writeFile(t, "hub.yaml", "join:\n  - 10.0.0.1:7946\n  - 10.0.0.2:7946\ncount: 3\n")
	f := newTestFlags()
	if err := parseFlags(f.fs, []string{"--config", config}); err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if f.join != "10.0.0.1:7946,10.0.0.2:7946" {
		t.Errorf("join = %q, want the list joined with commas", f.join)
	}
	if f.count != 3 {
		t.Errorf("count = %d, want 3", f.count)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		env    map[string]string
		args   []string
		want   []string
	}{
		{name: "unknown key", config: "count: 2\ncolour: red\n", want: []string{`"colour"`, "unknown setting"}},
		{name: "invalid value in file", config: "count: many\n", want: []string{"count", `"many"`}},
		{name: "invalid value in env", env: map[string]string{"RINGHOOK_COUNT": "many"}, want: []string{"RINGHOOK_COUNT", `"many"`}},
		{name: "nested mapping", config: "join:\n  a: b\n", want: []string{`"join"`}},
		{name: "comma in list item", config: "join: [\"a,b\", c]\n", want: []string{`"join"`, "comma"}},
		{name: "config key in file", config: "config: other.yaml\n", want: []string{`"config"`}},
		{name: "invalid YAML", config: "count: [1\n", want: []string{"not valid YAML"}},
		{name: "positional argument", args: []string{"extra"}, want: []string{`"extra"`}},
		{name: "missing file", args: []string{"--config", "/nonexistent/ringhook.yaml"}, want: []string{"/nonexistent/ringhook.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.config != "" {
				args = append([]string{"--config", writeFile(t, "hub.yaml", tt.config)}, args...)
			}
			err := parseFlags(newTestFlags().fs, args)
			if err == nil {
				t.Fatal("parseFlags returned no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestNewLoggerRejectsInvalidSettings(t *testing.T) {
	if _, err := newLogger(io.Discard, "loud", "text"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("invalid level: error = %v, want one naming --log-level", err)
	}
	if _, err := newLogger(io.Discard, "info", "xml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("invalid format: error = %v, want one naming --log-format", err)
	}
	for _, format := range []string{"text", "json", "JSON", ""} {
		if _, err := newLogger(io.Discard, "debug", format); err != nil {
			t.Errorf("format %q: %v", format, err)
		}
	}
}
