package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Attempt outcomes counted in ringhook_gateway_attempts_total.
const (
	outcomeAnswered   = "answered"
	outcomeNoAnswer   = "no_answer"
	outcomeBusy       = "busy"
	outcomeFailed     = "failed"           // final failure reported by the agent
	outcomeRetryable  = "failed_retryable" // reported by the agent as retryable
	outcomeCancelled  = "cancelled"
	outcomeRefused    = "refused"
	outcomeAckTimeout = "ack_timeout"
	outcomeAgentLost  = "agent_lost"
)

type metrics struct {
	queueDepth      prometheus.Gauge
	attempts        *prometheus.CounterVec
	dispatchLatency prometheus.Histogram
	noAgentFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, g *Gateway) *metrics {
	m := &metrics{
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringhook_gateway_queue_depth",
			Help: "Calls waiting for an agent, as the leader's dispatcher last counted them.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringhook_gateway_attempts_total",
			Help: "Finished call attempts by outcome.",
		}, []string{"outcome"}),
		dispatchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringhook_gateway_dispatch_latency_seconds",
			Help:    "Time from a call entering the queue (or its last attempt failing) to its assignment being sent.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		noAgentFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringhook_gateway_no_agent_failures_total",
			Help: "Calls failed because no healthy agent with an untried trunk appeared in time.",
		}),
	}
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringhook_gateway_agents_connected",
		Help: "Agents with a session on this node.",
	}, func() float64 {
		c, _ := g.countAgents()
		return float64(c)
	})
	healthy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringhook_gateway_agents_healthy",
		Help: "Connected agents that can take a call now.",
	}, func() float64 {
		_, h := g.countAgents()
		return float64(h)
	})
	for _, c := range []prometheus.Collector{m.queueDepth, m.attempts, m.dispatchLatency, m.noAgentFailures, connected, healthy} {
		if err := reg.Register(c); err != nil {
			g.cfg.Logger.Warn("register gateway metric failed", "error", err)
		}
	}
	return m
}
