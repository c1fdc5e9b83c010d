package forward

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// The names of the enforcement rules, as written in the configuration.
const (
	RuleForward        = "forward" // the default: forward everything
	RuleBlockUnplanned = "block_unplanned"
	RuleBlockInvalid   = "block_invalid"
	RuleStripUnplanned = "strip_unplanned_properties"
)

// Policy is a source's enforcement: which messages are held back from
// forwarding, and what is removed from the others. The zero Policy forwards
// everything as it arrived.
type Policy struct {
	// BlockUnplanned holds messages of events the plan does not name, and
	// of events whose plan status is in BlockStatuses.
	BlockUnplanned bool
	// BlockInvalid holds messages of planned events with error-level
	// violations (see trackplan.Code.MessageSeverity); whether unplanned
	// events pass is BlockUnplanned's to say, as in Segment Protocols.
	BlockInvalid bool
	// StripUnplanned removes the properties (traits, for identify and
	// group calls) the plan does not name before forwarding.
	StripUnplanned bool
	// BlockStatuses are plan statuses whose events count as unplanned
	// (e.g. deprecated), with BlockUnplanned.
	BlockStatuses []trackplan.Status
}

// ParsePolicy reads a policy from its rule names (RuleForward and the
// Rule* constants) and the statuses that count as unplanned.
func ParsePolicy(rules []string, blockStatuses []string) (Policy, error) {
	var p Policy
	for _, r := range rules {
		switch strings.TrimSpace(r) {
		case RuleForward, "":
		case RuleBlockUnplanned:
			p.BlockUnplanned = true
		case RuleBlockInvalid:
			p.BlockInvalid = true
		case RuleStripUnplanned:
			p.StripUnplanned = true
		default:
			return p, fmt.Errorf("unknown enforcement rule %q (want %s, %s, %s or %s)", r,
				RuleForward, RuleBlockUnplanned, RuleBlockInvalid, RuleStripUnplanned)
		}
	}
	if len(rules) > 1 && slices.Contains(rules, RuleForward) {
		return p, fmt.Errorf("%s forwards everything: it cannot be combined with other rules", RuleForward)
	}
	for _, s := range blockStatuses {
		st := trackplan.Status(s)
		if !st.Valid() {
			return p, fmt.Errorf("unknown plan status %q in block_statuses", s)
		}
		p.BlockStatuses = append(p.BlockStatuses, st)
	}
	if len(p.BlockStatuses) > 0 && !p.BlockUnplanned {
		return p, fmt.Errorf("block_statuses needs the %s rule", RuleBlockUnplanned)
	}
	return p, nil
}

// NeedsPlan reports whether the policy judges messages against the plan:
// such a source waits for a plan before it forwards.
func (p Policy) NeedsPlan() bool { return p.BlockUnplanned || p.BlockInvalid || p.StripUnplanned }

// String names the policy's rules, as configured.
func (p Policy) String() string {
	var rules []string
	if p.BlockUnplanned {
		rules = append(rules, RuleBlockUnplanned)
	}
	if p.BlockInvalid {
		rules = append(rules, RuleBlockInvalid)
	}
	if p.StripUnplanned {
		rules = append(rules, RuleStripUnplanned)
	}
	if len(rules) == 0 {
		return RuleForward
	}
	return strings.Join(rules, ",")
}

// verdict is what a policy decides for one message: held (with the
// reason), or forwarded without the strip paths.
type verdict struct {
	held  string   // a store.Held* reason, "" to forward
	strip []string // unplanned property paths to remove
}

// judge applies the policy to a message checked against plan (nil when the
// policy needs none).
func (p Policy) judge(m *trackplan.Message, plan *checkedPlan) verdict {
	if !p.NeedsPlan() || plan == nil {
		return verdict{}
	}
	vs := plan.checker.Check(m)
	var v verdict
	for _, x := range vs {
		switch {
		case x.Code == trackplan.UnplannedEvent && p.BlockUnplanned:
			return verdict{held: store.HeldUnplanned}
		case x.Code != trackplan.UnplannedEvent && x.Code.MessageSeverity() == trackplan.SeverityError && p.BlockInvalid:
			v.held = store.HeldInvalid
		case x.Code == trackplan.UnplannedProperty && p.StripUnplanned && x.Path != "":
			v.strip = append(v.strip, x.Path)
		}
	}
	if p.BlockUnplanned && len(p.BlockStatuses) > 0 {
		if e := plan.plan.Lookup(m.Type, m.EventName()); e != nil && slices.Contains(p.BlockStatuses, e.Status) {
			return verdict{held: store.HeldUnplanned}
		}
	}
	if v.held != "" {
		return verdict{held: v.held}
	}
	return v
}

// checkedPlan is a plan and its compiled checker.
type checkedPlan struct {
	plan    *trackplan.Plan
	checker *trackplan.Checker
}
