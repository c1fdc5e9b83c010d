package trackplan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Code names one kind of drift. Codes are stable: reports, baselines and
// dashboards key on them.
type Code string

// Per-message codes, counted at ingest.
const (
	UnplannedEvent    Code = "UNPLANNED_EVENT"
	UnplannedProperty Code = "UNPLANNED_PROPERTY"
	RequiredMissing   Code = "REQUIRED_MISSING"
	TypeMismatch      Code = "TYPE_MISMATCH"
	NullNotAllowed    Code = "NULL_NOT_ALLOWED"
	EnumViolation     Code = "ENUM_VIOLATION"
	PatternViolation  Code = "PATTERN_VIOLATION"
	RangeViolation    Code = "RANGE_VIOLATION"
	InvalidMessage    Code = "INVALID_MESSAGE"
	CardinalityLimit  Code = "CARDINALITY_LIMIT"
)

// Aggregate codes, found by reconciling the plan with what was stored.
const (
	PlannedNotSeen      Code = "PLANNED_NOT_SEEN"
	DeprecatedStillSeen Code = "DEPRECATED_STILL_SEEN"
	TypeInconsistent    Code = "TYPE_INCONSISTENT"
	Naming              Code = "NAMING"
	BestPractice        Code = "BEST_PRACTICE"
	// ForwardHeld counts a source's messages held back from forwarding
	// (blocked by its enforcement policy, or refused by the destination):
	// Path is the reason.
	ForwardHeld Code = "FORWARD_HELD"
)

// Severity orders findings for reports and --fail-on.
type Severity string

// Severities, from most to least severe.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Rank orders severities, most severe first: error 0, warning 1, info 2.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// MessageSeverity is the severity of a per-message code (a Violation's):
// error when the message breaks its event's contract (unplanned, a required
// property missing, a wrong type or value), warning otherwise (an unplanned
// property, a cardinality guard, an invalid message).
func (c Code) MessageSeverity() Severity {
	switch c {
	case UnplannedEvent, RequiredMissing, TypeMismatch, NullNotAllowed, EnumViolation, PatternViolation, RangeViolation:
		return SeverityError
	}
	return SeverityWarning
}

// Violation is one per-message problem found when checking a message against
// the plan.
type Violation struct {
	Code     Code
	Path     string // property path, empty for event-level codes
	Expected string
	Observed string
}

// Finding is one line of a drift report.
type Finding struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	Source   string   `json:"source,omitempty"`
	Event    string   `json:"event,omitempty"`
	Path     string   `json:"path,omitempty"`
	Expected string   `json:"expected,omitempty"`
	Observed string   `json:"observed,omitempty"`
	Count    int64    `json:"count"`
	Rate     float64  `json:"rate"`
	// FirstSeen and LastSeen bound the finding's messages in the report's
	// window; FirstSeenAllTime is its earliest sighting in all the traffic
	// kept.
	FirstSeen        time.Time `json:"first_seen,omitzero"`
	LastSeen         time.Time `json:"last_seen,omitzero"`
	FirstSeenAllTime time.Time `json:"first_seen_all_time,omitzero"`
	Owner            string    `json:"owner,omitempty"`
	Fingerprint      string    `json:"fingerprint"`
	// Samples are up to three example messages, the latest first, with
	// write keys removed and pii properties masked.
	Samples []json.RawMessage `json:"samples,omitempty"`
}

// Fingerprint identifies a finding across runs and reports: the first 16 hex
// digits of the SHA-256 of its code, source, event and property path (joined
// by NUL bytes). Counts, rates and observed values are left out, so the same
// drift keeps its fingerprint as it grows; baselines key on it. Drift
// findings pass an empty source, so a finding's fingerprint is the same
// whichever source or file its messages came from; earlier versions passed
// the source, and baselines still match those.
func Fingerprint(code, source, event, path string) string {
	h := sha256.New()
	for i, s := range [...]string{code, source, event, path} {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
