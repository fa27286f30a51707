// Package harness starts ringhook processes on the loopback interface for
// the end-to-end tests: hub nodes, agents and PBX simulators, each a real
// process of the built binary with its own log file.
package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringhook/ringhook/integration/shareddata"
)

// Binary returns the ringhook binary to test: $RINGHOOK_BIN, or one built
// into a temporary folder once per test process.
func Binary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("RINGHOOK_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ringhook-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "ringhook")
		root, err := shareddata.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/ringhook")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("build ringhook: %v", buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Process is one running ringhook subcommand.
type Process struct {
	Name    string
	Args    []string
	Env     []string
	LogPath string

	tb  testing.TB
	mu  sync.Mutex
	cmd *exec.Cmd
	// done is closed when the current process has exited.
	done chan struct{}
}

// Start runs `ringhook args...` with its output in a log file under the
// test's temporary folder, and stops it with SIGKILL when the test ends.
func Start(tb testing.TB, name string, args []string, env ...string) *Process {
	tb.Helper()
	p := &Process{
		Name:    name,
		Args:    args,
		Env:     env,
		LogPath: filepath.Join(tb.TempDir(), name+".log"),
		tb:      tb,
	}
	p.start()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			p.dumpLog()
		}
	})
	return p
}

func (p *Process) start() {
	p.tb.Helper()
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.tb.Fatalf("open log of %s: %v", p.Name, err)
	}
	cmd := exec.Command(Binary(p.tb), p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		p.tb.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logFile.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// Kill stops the process with SIGKILL and waits for it to exit.
func (p *Process) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to 20 seconds, then kills.
func (p *Process) Stop() {
	if !p.signal(syscall.SIGTERM, 20*time.Second) {
		p.Kill()
	}
}

// signal sends sig and reports whether the process exited within wait.
func (p *Process) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// Restart starts the process again with the same arguments, after it was
// killed or stopped.
func (p *Process) Restart() {
	p.tb.Helper()
	p.Kill()
	p.start()
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Log returns what the process wrote so far.
func (p *Process) Log() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

func (p *Process) dumpLog() {
	text := p.Log()
	const max = 8000
	if len(text) > max {
		text = "…" + text[len(text)-max:]
	}
	p.tb.Logf("log of %s (%s):\n%s", p.Name, strings.Join(p.Args, " "), text)
}

// WaitHTTP polls url until it responds with wantStatus or the timeout ends.
func WaitHTTP(ctx context.Context, url string, wantStatus int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantStatus {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not respond with %d within %s (last: %s)", url, wantStatus, timeout, last)
}

// Eventually polls cond every 200 ms until it returns nil or the timeout
// ends, then fails the test with the last error.
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
