package metrics

import "github.com/prometheus/client_golang/prometheus"

// SourceLag is one forwarding source's lag, as a scrape reads it.
type SourceLag struct {
	Source           string
	Records, Seconds float64
}

// Forwarding registers the forwarder's metrics: its lag per source, read
// once per scrape with lags, and the returned counter of messages per
// source and outcome (forwarded, retried, or why one was held).
func (m *Metrics) Forwarding(lags func() []SourceLag) (count func(source, outcome string, n int)) {
	m.reg.MustRegister(&forwardLagCollector{lags: lags,
		records: prometheus.NewDesc("trackplan_forward_lag_records",
			"Log records after the source's forwarding cursor.", []string{"source"}, nil),
		seconds: prometheus.NewDesc("trackplan_forward_lag_seconds",
			"Age of the oldest log record the source has not forwarded yet.", []string{"source"}, nil)})
	messages := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_forward_messages_total",
		Help: "Messages of a source forwarded, sent again after an error, or held back (blocked_unplanned, blocked_invalid, refused)."},
		[]string{"source", "outcome"})
	m.reg.MustRegister(messages)
	return func(source, outcome string, n int) { messages.WithLabelValues(source, outcome).Add(float64(n)) }
}

type forwardLagCollector struct {
	lags             func() []SourceLag
	records, seconds *prometheus.Desc
}

func (c *forwardLagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.records; ch <- c.seconds }

func (c *forwardLagCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.lags() {
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, l.Records, l.Source)
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, l.Seconds, l.Source)
	}
}
