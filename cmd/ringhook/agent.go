package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ringhook/ringhook/agent"
)

func init() {
	register("agent", "run the edge agent beside an Asterisk PBX", runAgent)
}

func runAgent(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hubs := fs.String("hub-urls", "", "comma-separated hub base `URLs`, e.g. https://hub1:8443,https://hub2:8443")
	token := fs.String("token", "", "agent `token` (rha_<id>_<secret>); prefer RINGHOOK_TOKEN")
	ariURL := fs.String("ari-url", "http://127.0.0.1:8088", "Asterisk ARI base `URL`")
	ariUser := fs.String("ari-user", "", "ARI `user`")
	ariPassword := fs.String("ari-password", "", "ARI `password`; prefer RINGHOOK_ARI_PASSWORD")
	app := fs.String("ari-application", "", "ARI application `name`, unique per agent (default ringhook-<agent id>)")
	dial := fs.String("dial-template", "PJSIP/{number}@trunk", "dial string `template`; {number} is the E.164 number, {number_digits} the same without +")
	callerID := fs.String("caller-id", "", `caller ID, e.g. "Alert" <+15550000000>`)
	ring := fs.Duration("ring-timeout", 30*time.Second, "how long a call may ring")
	hangup := fs.Duration("hangup-delay", 2*time.Second, "how long an answered call stays up before the agent hangs up")
	maxCalls := fs.Int("max-calls", 10, "maximum number of concurrent calls")
	stateFile := fs.String("state-file", "", "`file` that keeps unacknowledged reports across restarts")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "ringhook agent:", err)
		return 2
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "ringhook agent: invalid log-level %q: use debug, info, warn or error\n", *logLevel)
		return 2
	}
	cfg := agent.Config{
		HubURLs:      splitHubURLs(*hubs),
		Token:        *token,
		ARIURL:       *ariURL,
		ARIUser:      *ariUser,
		ARIPassword:  *ariPassword,
		Application:  *app,
		DialTemplate: *dial,
		CallerID:     *callerID,
		RingTimeout:  *ring,
		HangupDelay:  *hangup,
		MaxCalls:     *maxCalls,
		StateFile:    *stateFile,
		Logger:       slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ringhook agent: invalid configuration:", err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "ringhook agent:", err)
		return 1
	}
	return 0
}

func splitHubURLs(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
