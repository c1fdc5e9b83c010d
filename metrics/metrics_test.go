package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	m := New(func() float64 { return 4096 })
	m.Request("web", 200, 10, 2, 3*time.Millisecond)
	m.Request("web", 503, 10, 0, time.Millisecond) // refused: retried later, not counted
	m.Commit(4, time.Millisecond)
	m.Violation("TYPE_MISMATCH")
	m.JobRun("score", "ok", time.Second)
	m.NotionRequests("PATCH", 429, 3)
	m.Pushed("acknowledged", 7)
	m.Derived(120, time.Second)
	lagCalls := 0
	m.DeriveLag(func() (float64, float64) { lagCalls++; return 30, 2.5 })

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`trackplan_messages_accepted_total{source="web"} 10`,
		`trackplan_messages_rejected_total{source="web"} 2`,
		`trackplan_messages_duplicate_total 4`,
		`trackplan_collector_request_seconds_count{code="200"} 1`,
		`trackplan_commit_seconds_count 1`,
		`trackplan_violations_total{code="TYPE_MISMATCH"} 1`,
		`trackplan_job_runs_total{job="score",outcome="ok"} 1`,
		`trackplan_notion_requests_total{method="PATCH",status="429"} 3`,
		`trackplan_push_messages_total{outcome="acknowledged"} 7`,
		`trackplan_store_size_bytes 4096`,
		`trackplan_derived_records_total 120`,
		`trackplan_derive_seconds_count 1`,
		`trackplan_derive_lag_records 30`,
		`trackplan_derive_lag_seconds 2.5`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if lagCalls != 1 {
		t.Errorf("the lag was measured %d times for one scrape; want once", lagCalls)
	}
}

func TestDriftFindings(t *testing.T) {
	m := New(nil)
	fail := false
	m.DriftFindings(func() (DriftCounts, error) {
		if fail {
			return DriftCounts{}, errors.New("store down")
		}
		return DriftCounts{Findings: map[string]float64{"error": 2, "warning": 1, "info": 0},
			Messages: map[string]float64{"ENUM_VIOLATION": 9, "UNPLANNED_PROPERTY": 3}}, nil
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	body := scrape()
	for _, want := range []string{
		`trackplan_drift_findings{severity="error"} 2`,
		`trackplan_drift_findings{severity="info"} 0`,
		`trackplan_drift_messages{code="ENUM_VIOLATION"} 9`,
		`trackplan_drift_messages{code="UNPLANNED_PROPERTY"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	fail = true
	if body := scrape(); strings.Contains(body, "trackplan_drift_") {
		t.Errorf("a failed read still exposed drift gauges")
	}
}
