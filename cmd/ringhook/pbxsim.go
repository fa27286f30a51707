package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ringhook/ringhook/integration/pbxsim"
)

func init() {
	register("pbxsim", "run a simulated Asterisk ARI server for tests and demos", runPBXSim)
}

// runPBXSim serves a simulated ARI until ctx is cancelled. Once both
// listeners are up it prints two lines to stdout, "ari_url=http://host:port"
// (without /ari) and "control_url=http://host:port" (the /sim/ control API),
// so that a parent process can pass port 0 and read the ports back.
func runPBXSim(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pbxsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8088", "ARI listen `address` (host:port; port 0 picks a free one)")
	controlListen := fs.String("control-listen", "127.0.0.1:0", "listen `address` of the control API (/sim/...), separate from ARI")
	controlToken := fs.String("control-token", "", "bearer `token` the control API requires; required when it listens beyond loopback")
	username := fs.String("username", "", "ARI `user` the simulator accepts")
	password := fs.String("password", "", "ARI `password` the simulator accepts; prefer RINGHOOK_PASSWORD")
	behaviorFile := fs.String("behavior-file", "", "YAML `file` with a default behavior and per-number rules")
	defaultKind := fs.String("default", pbxsim.KindAnswer, "behavior `kind` for numbers no rule matches, unless the behavior file sets one")
	failShare := fs.Float64("fail-share", 0, "`share` of calls, 0 to 1, that fail with trunk 503 whatever the rules say")
	seed := fs.Int64("seed", 1, "`seed` of the random source behind --fail-share")
	timeScale := fs.Float64("time-scale", 1, "`factor` applied to every simulated delay and to the originate timeout; 1 is real time")
	techCause := fs.Bool("tech-cause", false, "add tech_cause (the SIP code) to hangup events, as PJSIP does")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ringhook pbxsim:", err)
		return 2
	}

	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "ringhook pbxsim:", err)
		return 2
	}
	if *username == "" || *password == "" {
		fmt.Fprintln(stderr, "ringhook pbxsim: --username and --password are required")
		return 2
	}
	if *failShare < 0 || *failShare > 1 {
		fmt.Fprintf(stderr, "ringhook pbxsim: invalid --fail-share %v: use a value from 0 to 1\n", *failShare)
		return 2
	}
	if *timeScale <= 0 {
		fmt.Fprintf(stderr, "ringhook pbxsim: invalid --time-scale %v: use a positive factor\n", *timeScale)
		return 2
	}
	if *controlToken == "" && !isLoopback(*controlListen) {
		fmt.Fprintf(stderr, "ringhook pbxsim: --control-listen %s is not a loopback address; set --control-token too\n", *controlListen)
		return 2
	}

	cfg := pbxsim.Config{
		Username:  *username,
		Password:  *password,
		Default:   pbxsim.Behavior{Kind: *defaultKind},
		FailShare: *failShare,
		Seed:      *seed,
		TimeScale: *timeScale,
		TechCause: *techCause,
		Logger:    logger,
	}
	if err := cfg.Default.Validate(); err != nil {
		fmt.Fprintln(stderr, "ringhook pbxsim: invalid --default:", err)
		return 2
	}
	if *behaviorFile != "" {
		file, err := pbxsim.LoadBehaviorFile(*behaviorFile)
		if err != nil {
			fmt.Fprintln(stderr, "ringhook pbxsim:", err)
			return 2
		}
		if file.Default != nil {
			cfg.Default = *file.Default
		}
		cfg.Rules = file.Rules
	}

	sim := pbxsim.New(cfg)
	if err := sim.Start(*listen); err != nil {
		fmt.Fprintln(stderr, "ringhook pbxsim:", err)
		return 1
	}
	defer sim.Stop()

	controlLn, err := net.Listen("tcp", *controlListen)
	if err != nil {
		fmt.Fprintf(stderr, "ringhook pbxsim: listen for the control API on %s: %v\n", *controlListen, err)
		return 1
	}
	control := &http.Server{Handler: sim.ControlHandler(*controlToken), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := control.Serve(controlLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pbxsim: control API stopped", "error", err)
		}
	}()

	fmt.Fprintf(stdout, "ari_url=%s\n", sim.URL())
	fmt.Fprintf(stdout, "control_url=http://%s\n", controlLn.Addr().String())
	logger.Info("pbxsim: started", "ari_addr", sim.Addr(), "control_addr", controlLn.Addr().String(), "rules", len(cfg.Rules), "default", cfg.Default.Kind)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = control.Shutdown(shutdownCtx)
	logger.Info("pbxsim: stopped")
	return 0
}

// isLoopback reports whether a listen address binds to loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
