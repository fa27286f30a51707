package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
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
	token := fs.String("agent-token", "", "agent `token` (rha_<id>_<secret>); prefer RINGHOOK_AGENT_TOKEN or --agent-token-file")
	tokenFile := fs.String("agent-token-file", "", "`file` containing the agent token, surrounding whitespace trimmed; used only when --agent-token (or RINGHOOK_AGENT_TOKEN or the config key agent-token) is empty")
	ariURL := fs.String("ari-url", "http://127.0.0.1:8088", "Asterisk ARI base `URL`")
	ariUser := fs.String("ari-user", "", "ARI `user`")
	ariPassword := fs.String("ari-password", "", "ARI `password`; prefer RINGHOOK_ARI_PASSWORD or --ari-password-file")
	ariPasswordFile := fs.String("ari-password-file", "", "`file` containing the ARI password, surrounding whitespace trimmed; used only when --ari-password (or RINGHOOK_ARI_PASSWORD or the config key ari-password) is empty")
	app := fs.String("ari-application", "", "ARI application `name`, unique per agent (default ringhook-<agent id>)")
	dial := fs.String("dial-template", "PJSIP/{number}@trunk", "dial string `template`; {number} is the E.164 number, {number_digits} the same without +")
	callerID := fs.String("caller-id", "", `caller ID, e.g. "Alert" <+15550000000>`)
	ring := fs.Duration("ring-timeout", 30*time.Second, "how long a call may ring")
	hangup := fs.Duration("hangup-delay", 2*time.Second, "how long an answered call stays up before the agent hangs up")
	maxCalls := fs.Int("max-calls", 10, "maximum number of concurrent calls, at least 1")
	drainTimeout := fs.Duration("drain-timeout", 0, "on SIGINT or SIGTERM the agent takes no new calls and lets its calls in progress end; after this `duration`, or on a second signal, it hangs up the rest and reports them as failed and retryable (default ring timeout + hangup delay + 15s)")
	stateFile := fs.String("state-file", "", "`file` that keeps unacknowledged reports across restarts; its folder must exist")
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
	if err := secretFromFile(token, *tokenFile, "agent-token-file"); err != nil {
		fmt.Fprintln(stderr, "ringhook agent:", err)
		return 2
	}
	if *token == "" {
		fmt.Fprintln(stderr, "ringhook agent: missing agent token: set --agent-token, --agent-token-file or RINGHOOK_AGENT_TOKEN")
		return 2
	}
	// Config.MaxCalls treats 0 as the default, so an explicit 0 would run
	// 10 calls instead of the none that the operator asked for.
	if *maxCalls < 1 {
		fmt.Fprintf(stderr, "ringhook agent: invalid --max-calls %d: it must be at least 1\n", *maxCalls)
		return 2
	}
	if *drainTimeout < 0 {
		fmt.Fprintf(stderr, "ringhook agent: invalid --drain-timeout %s: it must not be negative\n", *drainTimeout)
		return 2
	}
	if err := secretFromFile(ariPassword, *ariPasswordFile, "ari-password-file"); err != nil {
		fmt.Fprintln(stderr, "ringhook agent:", err)
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
		DrainTimeout: *drainTimeout,
		Logger:       slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ringhook agent: invalid configuration:", err)
		return 2
	}
	stopAbortOnSignal := abortOnSecondSignal(ctx, a)
	defer stopAbortOnSignal()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "ringhook agent:", err)
		return 1
	}
	return 0
}

// abortOnSecondSignal makes a second SIGINT or SIGTERM end the agent's drain
// at once instead of killing the process, so that the agent still hangs up
// and reports its calls. The first signal ends ctx in main, and a third one
// kills the process.
func abortOnSecondSignal(ctx context.Context, a *agent.Agent) (stop func()) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	// A first signal that arrived before Notify has already ended ctx.
	received := 0
	if ctx.Err() != nil {
		received = 1
	}
	done := make(chan struct{})
	go func() {
		for n := received; ; {
			select {
			case <-done:
				return
			case <-signals:
			}
			if n++; n == 2 {
				signal.Stop(signals)
				a.Abort()
				return
			}
		}
	}()
	return func() {
		signal.Stop(signals)
		close(done)
	}
}

// secretFromFile sets *secret from the file at path when *secret is empty
// and path is set. The value given directly wins, so a file configured for
// every host can be overridden on one.
func secretFromFile(secret *string, path, flagName string) error {
	if *secret != "" || path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read --%s: %w", flagName, err)
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		return fmt.Errorf("--%s %s is empty: write the secret into it", flagName, path)
	}
	*secret = value
	return nil
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
