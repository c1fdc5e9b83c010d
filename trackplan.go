// Package trackplan holds the domain vocabulary of trackplan: Segment messages
// as the collector sees them, the tracking plan, drift findings and engagement
// scores. It is pure: no I/O, and it imports nothing from the module.
//
// Adapters live in sub-packages named after what they adapt (segment, notion,
// store/sqlite, …); the wiring lives in cmd/trackplan.
package trackplan

import "time"

// JobRun is one run of a scheduled or one-shot job, as the run log keeps it.
type JobRun struct {
	ID       int64            `json:"id"`
	Job      string           `json:"job"`
	Instance string           `json:"instance,omitempty"` // which process ran it (host:pid)
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Outcome  string           `json:"outcome"` // ok, failed or skipped
	Counts   map[string]int64 `json:"counts,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// Job run outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
)
