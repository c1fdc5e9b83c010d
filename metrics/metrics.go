// Package metrics holds trackplan's Prometheus metrics (client_golang's only
// importer) and serves them at /metrics. Components report through plain
// methods, so none of them depends on Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry of trackplan's metrics.
type Metrics struct {
	reg        *prometheus.Registry
	accepted   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	duplicates prometheus.Counter
	requests   *prometheus.HistogramVec
	commits    prometheus.Histogram
	violations *prometheus.CounterVec
	jobRuns    *prometheus.CounterVec
	jobTime    *prometheus.HistogramVec
	notion     *prometheus.CounterVec
	pushed     *prometheus.CounterVec
	derived    prometheus.Counter
	deriveTime prometheus.Histogram
}

// New builds the metrics; storeSize, when set, is read at every scrape.
func New(storeSize func() float64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_messages_accepted_total",
		Help: "Messages accepted by the collector (before deduplication), by source."}, []string{"source"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_messages_rejected_total",
		Help: "Messages rejected as invalid, by source."}, []string{"source"})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "trackplan_messages_duplicate_total",
		Help: "Messages dropped as already stored (same source and messageId)."})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trackplan_collector_request_seconds",
		Help:    "Collector request latency, from the first byte read to the answer (after the commit).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"code"})
	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trackplan_commit_seconds",
		Help: "Duration of one group-commit transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.violations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_violations_total",
		Help: "Plan violations found by checking logged messages as they are derived, by code."}, []string{"code"})
	m.derived = prometheus.NewCounter(prometheus.CounterOpts{Name: "trackplan_derived_records_total",
		Help: "Log records (messages and rejections) applied to the derived state by this process."})
	m.deriveTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trackplan_derive_seconds",
		Help: "Duration of one derive run: reading, checking and applying a run of log records.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_job_runs_total",
		Help: "Scheduled and one-shot job runs, by job and outcome."}, []string{"job", "outcome"})
	m.jobTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trackplan_job_duration_seconds",
		Help: "Job run durations, by job and outcome.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)}, []string{"job", "outcome"})
	m.notion = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_notion_requests_total",
		Help: "Requests made to the Notion API, by method and status."}, []string{"method", "status"})
	m.pushed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trackplan_push_messages_total",
		Help: "Score push entities, by outcome (acknowledged, failed, unchanged)."}, []string{"outcome"})
	m.reg.MustRegister(m.accepted, m.rejected, m.duplicates, m.requests, m.commits, m.violations,
		m.jobRuns, m.jobTime, m.notion, m.pushed, m.derived, m.deriveTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if storeSize != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trackplan_store_size_bytes",
			Help: "Size of the store on disk (SQLite) or of the database (PostgreSQL)."}, storeSize))
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records one collector request. Messages count only when the
// request was answered 200: a refused request is retried by its client and
// would count twice.
func (m *Metrics) Request(source string, status, accepted, rejected int, took time.Duration) {
	if source != "" && status == http.StatusOK {
		m.accepted.WithLabelValues(source).Add(float64(accepted))
		m.rejected.WithLabelValues(source).Add(float64(rejected))
	}
	m.requests.WithLabelValues(strconv.Itoa(status)).Observe(took.Seconds())
}

// Commit records one ingest transaction.
func (m *Metrics) Commit(duplicates int, took time.Duration) {
	m.duplicates.Add(float64(duplicates))
	m.commits.Observe(took.Seconds())
}

// Derived records one derive run of n log records.
func (m *Metrics) Derived(n int, took time.Duration) {
	m.derived.Add(float64(n))
	m.deriveTime.Observe(took.Seconds())
}

// DeriveLag registers the derive lag gauges; lag is called once at every
// scrape and returns the records appended but not applied and the age in
// seconds of the oldest of them.
func (m *Metrics) DeriveLag(lag func() (records, seconds float64)) {
	m.reg.MustRegister(&lagCollector{lag: lag,
		records: prometheus.NewDesc("trackplan_derive_lag_records",
			"Log records appended but not yet applied to the derived state.", nil, nil),
		seconds: prometheus.NewDesc("trackplan_derive_lag_seconds",
			"Age of the oldest log record not yet applied to the derived state.", nil, nil)})
}

// LogQuota registers the event log's quota gauges: its size against the
// quota, and 1 while the collector refuses messages because it is reached.
func (m *Metrics) LogQuota(state func() (bytes, quota float64, full bool)) {
	b := func(f bool) float64 {
		if f {
			return 1
		}
		return 0
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trackplan_log_bytes",
		Help: "Disk space the event log takes, as last measured."}, func() float64 { x, _, _ := state(); return x }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trackplan_log_quota_bytes",
		Help: "The event log's quota (retention.log_quota_mb); 0 when none."}, func() float64 { _, q, _ := state(); return q }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trackplan_log_full",
		Help: "1 while the event log is at its quota and the collector answers 503."}, func() float64 { _, _, f := state(); return b(f) }))
}

// lagCollector measures the lag once per scrape for both gauges.
type lagCollector struct {
	lag              func() (records, seconds float64)
	records, seconds *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.records; ch <- c.seconds }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	r, s := c.lag()
	ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, r)
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, s)
}

// Violation counts one plan violation found when deriving.
func (m *Metrics) Violation(code string) { m.violations.WithLabelValues(code).Inc() }

// JobRun records one job run.
func (m *Metrics) JobRun(job, outcome string, took time.Duration) {
	m.jobRuns.WithLabelValues(job, outcome).Inc()
	m.jobTime.WithLabelValues(job, outcome).Observe(took.Seconds())
}

// NotionRequests adds Notion requests of one method and status (0 when no
// answer came).
func (m *Metrics) NotionRequests(method string, status int, n int64) {
	m.notion.WithLabelValues(method, strconv.Itoa(status)).Add(float64(n))
}

// Pushed adds score-push messages with an outcome.
func (m *Metrics) Pushed(outcome string, n int64) { m.pushed.WithLabelValues(outcome).Add(float64(n)) }
