package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the API's own collectors. Raft apply latency, leader
// changes and queue depth are registered on the same registry by the
// cluster and gateway packages.
type metrics struct {
	webhooks *prometheus.CounterVec
	intake   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringhook",
			Name:      "webhook_requests_total",
			Help:      "Webhook requests by outcome (a request outcome such as queued, or the error code) and HTTP status.",
		}, []string{"outcome", "status"}),
		intake: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ringhook",
			Name:      "intake_duration_seconds",
			Help:      "Time from receiving a webhook to writing its response, including the Raft apply, in seconds.",
			Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
	}
	for _, c := range []prometheus.Collector{m.webhooks, m.intake} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
