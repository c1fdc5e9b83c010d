package metrics

import "github.com/prometheus/client_golang/prometheus"

// DriftCounts is what the drift gauges show: findings per severity and
// messages per code.
type DriftCounts struct {
	Findings map[string]float64 // severity → findings
	Messages map[string]float64 // code → messages of the window with it
}

// DriftFindings exposes the drift report the plan in force gives over the
// window, read at each scrape: trackplan_drift_findings by severity, and
// trackplan_drift_messages, the messages each code was found in. A plan
// edit changes them at once (the window's traffic is judged again), unlike
// trackplan_violations_total, which counts checks as messages are derived.
// A failed read exposes neither.
func (m *Metrics) DriftFindings(read func() (DriftCounts, error)) {
	m.reg.MustRegister(&driftCollector{read: read,
		findings: prometheus.NewDesc("trackplan_drift_findings",
			"Findings of the drift report over the window, judged by the plan in force.", []string{"severity"}, nil),
		messages: prometheus.NewDesc("trackplan_drift_messages",
			"Messages of the window with a finding of the code, judged by the plan in force.", []string{"code"}, nil)})
}

type driftCollector struct {
	read               func() (DriftCounts, error)
	findings, messages *prometheus.Desc
}

func (c *driftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.findings; ch <- c.messages }

func (c *driftCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.read()
	if err != nil {
		return
	}
	for s, n := range counts.Findings {
		ch <- prometheus.MustNewConstMetric(c.findings, prometheus.GaugeValue, n, s)
	}
	for code, n := range counts.Messages {
		ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, n, code)
	}
}
