// Package clustertest runs a hub cluster of real nodes inside one test
// process: real TCP Raft transports and gossip on 127.0.0.1, real bbolt
// files in t.TempDir() and each node's internal API on its own HTTP server.
package clustertest

import (
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringhook/ringhook/hub/cluster"
)

// WaitTimeout is how long the Wait helpers poll before they fail the test.
const WaitTimeout = 20 * time.Second

// Options change how New builds the cluster.
type Options struct {
	// Configure edits a node's config before each start (index i).
	Configure func(i int, cfg *cluster.Config)
	// Handler returns the HTTP handler of node i. The default serves only
	// the internal API at /internal/v1/; a test of the public API can
	// return a mux that serves both.
	Handler func(i int, n *cluster.Node) http.Handler
	// LogLevel is the level of node logs written to the test log; default
	// info. Set RINGHOOK_TEST_LOG=debug to override it.
	LogLevel slog.Level
}

// Cluster is a running test cluster. Nodes[i] is nil while node i is killed.
type Cluster struct {
	t    testing.TB
	opts Options
	log  *testLog

	mu         sync.Mutex
	Nodes      []*cluster.Node
	configs    []cluster.Config
	servers    []*http.Server
	registries []*prometheus.Registry
}

// New starts n nodes with BootstrapExpect n, each joining all the others
// and sharing one random gossip key, and waits until they have elected a leader and every node is a voter
// and ready. The cluster shuts down (without leave) when the test ends.
func New(t testing.TB, n int, opts ...Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, log: newTestLog(t)}
	if len(opts) > 0 {
		c.opts = opts[0]
	}
	if level := os.Getenv("RINGHOOK_TEST_LOG"); level != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err == nil {
			c.opts.LogLevel = l
		}
	}
	c.Nodes = make([]*cluster.Node, n)
	c.servers = make([]*http.Server, n)
	c.registries = make([]*prometheus.Registry, n)
	c.configs = make([]cluster.Config, n)

	// Every node shares one random gossip key, because the internal API
	// rejects every request without one. Options.Configure may remove it.
	key := make([]byte, 32)
	if _, err := cryptorand.Read(key); err != nil {
		t.Fatalf("generate gossip key: %v", err)
	}
	gossip := make([]string, n)
	for i := range n {
		httpAddr := FreeAddr(t, false)
		gossip[i] = FreeAddr(t, true)
		c.configs[i] = cluster.Config{
			NodeID:          fmt.Sprintf("node-%d", i),
			DataDir:         filepath.Join(t.TempDir(), fmt.Sprintf("node-%d", i)),
			RaftBind:        FreeAddr(t, false),
			GossipBind:      gossip[i],
			HTTPURL:         "http://" + httpAddr,
			BootstrapExpect: n,
			GossipKey:       key,
			GossipLocal:     true,
		}
	}
	for i := range n {
		for j := range n {
			if j != i {
				c.configs[i].Join = append(c.configs[i].Join, gossip[j])
			}
		}
	}
	t.Cleanup(c.shutdownAll)

	for i := range n {
		c.start(i)
	}
	c.WaitForLeader()
	c.WaitFor("every node a ready voter", func() bool {
		for _, node := range c.Running() {
			if !node.Ready() || countVoters(node.Status()) != n {
				return false
			}
		}
		return true
	})
	return c
}

func countVoters(st cluster.Status) int {
	voters := 0
	for _, ns := range st.Nodes {
		if ns.Suffrage == "voter" {
			voters++
		}
	}
	return voters
}

// Voters returns the number of voters in node's Raft configuration.
func Voters(node *cluster.Node) int { return countVoters(node.Status()) }

// start starts node i with its config, on its ports and data dir.
func (c *Cluster) start(i int) {
	c.t.Helper()
	c.mu.Lock()
	cfg := c.configs[i]
	c.mu.Unlock()
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	cfg.Logger = slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: c.opts.LogLevel}))

	node, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	handler := http.Handler(nil)
	if c.opts.Handler != nil {
		handler = c.opts.Handler(i, node)
	} else {
		mux := http.NewServeMux()
		mux.Handle("/internal/v1/", node.InternalHandler())
		handler = mux
	}
	ln := listenRetry(c.t, strings.TrimPrefix(cfg.HTTPURL, "http://"))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)

	c.mu.Lock()
	c.Nodes[i] = node
	c.servers[i] = srv
	c.registries[i] = reg
	c.mu.Unlock()
}

// Config returns node i's config as it was last started, without the
// changes of Options.Configure.
func (c *Cluster) Config(i int) cluster.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.configs[i]
}

// Registry returns the metrics registry of node i's current run.
func (c *Cluster) Registry(i int) *prometheus.Registry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registries[i]
}

// URL returns node i's base URL.
func (c *Cluster) URL(i int) string { return c.Config(i).HTTPURL }

// Index returns the position of node in Nodes, or -1.
func (c *Cluster) Index(node *cluster.Node) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.Nodes {
		if n != nil && n == node {
			return i
		}
	}
	return -1
}

// Running returns the nodes that are not killed.
func (c *Cluster) Running() []*cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*cluster.Node
	for _, n := range c.Nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Leader returns the running node that is leader now, or nil.
func (c *Cluster) Leader() *cluster.Node {
	for _, n := range c.Running() {
		if n.IsLeader() {
			return n
		}
	}
	return nil
}

// Followers returns the running nodes that are not leader now.
func (c *Cluster) Followers() []*cluster.Node {
	var out []*cluster.Node
	for _, n := range c.Running() {
		if !n.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// WaitFor polls cond every 50 ms until it holds, failing the test after
// WaitTimeout.
func (c *Cluster) WaitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", WaitTimeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitForLeader waits until one running node is leader and every running
// node reports it as leader, with its HTTP URL, and returns it.
func (c *Cluster) WaitForLeader() *cluster.Node {
	c.t.Helper()
	return c.WaitForNewLeader(nil)
}

// WaitForNewLeader waits until a running node other than old is leader and
// every running node reports it as leader, and returns it.
func (c *Cluster) WaitForNewLeader(old *cluster.Node) *cluster.Node {
	c.t.Helper()
	var leader *cluster.Node
	c.WaitFor("an agreed leader", func() bool {
		leader = c.Leader()
		if leader == nil || leader == old {
			return false
		}
		for _, n := range c.Running() {
			id, url := n.Leader()
			if id != leader.ID() || url == "" {
				return false
			}
		}
		return true
	})
	return leader
}

// Kill shuts node i down without leaving, as a crash would, keeping its
// data dir and ports for Restart.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	node, srv := c.Nodes[i], c.servers[i]
	c.Nodes[i], c.servers[i] = nil, nil
	c.mu.Unlock()
	if node == nil {
		c.t.Fatalf("kill node %d: not running", i)
	}
	srv.Close()
	if err := node.Shutdown(false); err != nil {
		c.t.Errorf("shut down node %d: %v", i, err)
	}
}

// Stop shuts node i down with the given leave flag, keeping its data dir.
func (c *Cluster) Stop(i int, leave bool) error {
	c.mu.Lock()
	node, srv := c.Nodes[i], c.servers[i]
	c.Nodes[i], c.servers[i] = nil, nil
	c.mu.Unlock()
	if node == nil {
		return fmt.Errorf("stop node %d: not running", i)
	}
	err := node.Shutdown(leave)
	srv.Close()
	return err
}

// Restart starts killed node i again with the same data dir and ports.
func (c *Cluster) Restart(i int) *cluster.Node {
	c.t.Helper()
	c.mu.Lock()
	running := c.Nodes[i] != nil
	c.mu.Unlock()
	if running {
		c.t.Fatalf("restart node %d: still running", i)
	}
	c.start(i)
	return c.Nodes[i]
}

// WipeData deletes killed node i's data dir, so that it restarts as a new
// server under its old id.
func (c *Cluster) WipeData(i int) {
	c.t.Helper()
	if err := os.RemoveAll(c.Config(i).DataDir); err != nil {
		c.t.Fatalf("wipe data of node %d: %v", i, err)
	}
}

func (c *Cluster) shutdownAll() {
	for i := range c.Nodes {
		c.mu.Lock()
		node := c.Nodes[i]
		c.mu.Unlock()
		if node != nil {
			c.Kill(i)
		}
	}
	c.log.close()
}

// testLog writes node logs to the test log until the test ends; nodes'
// background goroutines may log after that, which testing forbids.
type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func newTestLog(t testing.TB) *testLog { return &testLog{t: t} }

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// listenRetry listens on a fixed address, retrying while a previous run
// of the node still holds it.
func listenRetry(t testing.TB, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ports handed to test nodes come from below Linux's default ephemeral
// range (32768-60999), so that a node restarted on its old port does not
// find it taken by an outgoing connection. usedPorts keeps two clusters of
// one test binary apart.
const (
	portMin = 20000
	portMax = 32000
)

var (
	usedPortsMu sync.Mutex
	usedPorts   = map[int]bool{}
)

// FreeAddr returns a 127.0.0.1 address whose TCP port, and UDP port when
// udp is set (for gossip), was free and has not been returned before in
// this process. Another process may take it before the node binds it; that
// is rare enough for tests.
func FreeAddr(t testing.TB, udp bool) string {
	t.Helper()
	usedPortsMu.Lock()
	defer usedPortsMu.Unlock()
	for range 200 {
		port := portMin + rand.IntN(portMax-portMin)
		if usedPorts[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				continue
			}
			pc.Close()
		}
		usedPorts[port] = true
		return addr
	}
	t.Fatalf("found no free port on 127.0.0.1 from %d to %d", portMin, portMax)
	return ""
}
