package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	applyDuration prometheus.Histogram
	leaderChanges prometheus.Counter
	isLeader      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringhook_raft_apply_duration_seconds",
			Help:    "Time from proposing a command on the leader until the state machine applied it, in seconds.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringhook_raft_leader_changes_total",
			Help: "Number of times this node saw a new Raft leader.",
		}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringhook_raft_is_leader",
			Help: "1 while this node is the Raft leader, else 0.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.applyDuration, m.leaderChanges, m.isLeader} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register cluster metrics: %w", err)
		}
	}
	return m, nil
}
