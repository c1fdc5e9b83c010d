package main

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// driftTimeline reconciles the traffic of each bucket of the window from
// through at (see report.NewTimeline) with plan, as tpsync.Drift does the
// whole window, so the counts of the buckets add up to the window's. t is
// the window's tally, the one the whole report was made from (see
// keptVerdicts). adjust, when set, is applied to each bucket's report as
// to the whole one (filters, a baseline). It returns the timeline and the
// findings of each bucket.
func driftTimeline(ctx context.Context, t *store.Tally, plan *trackplan.Plan, from, at time.Time, o tpsync.DriftOptions,
	adjust func(*report.Report)) (*report.Timeline, [][]trackplan.Finding, error) {
	tl := report.NewTimeline(from, at)
	// Only the verdicts and volumes are bucketed: what is judged over
	// everything observed (type consistency) or over people (hygiene) has
	// no time, and is left out with an empty observation.
	none := &store.Observed{}
	per := make([][]trackplan.Finding, len(tl.Buckets))
	for i, bt := range splitTally(t, tl.Buckets) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if len(bt.Violations) == 0 && len(bt.Volumes) == 0 {
			continue
		}
		rep := tpsync.Reconcile(tpsync.DriftInput{Plan: plan, Observed: none, Verdicts: bt, At: at}, o)
		if adjust != nil {
			adjust(rep)
		}
		tl.Add(i, rep.Findings)
		per[i] = rep.Findings
	}
	return tl, per, nil
}

// keptVerdicts keeps the tally a report was made from, so its timeline
// counts the very same verdicts.
type keptVerdicts struct {
	tpsync.DriftReader
	tally *store.Tally
}

// Verdicts reads the window's verdicts and keeps them.
func (k *keptVerdicts) Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error) {
	t, err := k.DriftReader.Verdicts(ctx, from, to)
	k.tally = t
	return t, err
}

// splitTally splits t by the buckets its hours fall in, as t.Window of
// each bucket's hours would, in one pass; Earliest is kept whole.
func splitTally(t *store.Tally, buckets []report.TimelineBucket) []*store.Tally {
	out := make([]*store.Tally, len(buckets))
	nv, nh := len(t.Violations)/max(len(buckets), 1), len(t.Volumes)/max(len(buckets), 1)
	for i := range out {
		out[i] = &store.Tally{Violations: make(map[store.ViolationKey]*store.ViolationDelta, nv),
			Volumes: make(map[store.HourKey]*store.Seen, nh), Earliest: t.Earliest}
	}
	// bucket returns the index of the bucket holding the hour, or -1.
	bucket := func(hour int64) int {
		at := time.Unix(hour, 0)
		i := sort.Search(len(buckets), func(i int) bool { return buckets[i].To.After(at) })
		if i == len(buckets) || at.Before(buckets[i].From) {
			return -1
		}
		return i
	}
	for k, v := range t.Violations {
		if i := bucket(k.Hour); i >= 0 {
			out[i].Violations[k] = v
		}
	}
	for k, v := range t.Volumes {
		if i := bucket(k.Hour); i >= 0 {
			out[i].Volumes[k] = v
		}
	}
	return out
}

// planEditsIn returns the versions first seen in [from, to], oldest first.
func planEditsIn(vs []store.PlanVersion, from, to time.Time) []report.PlanEdit {
	out := []report.PlanEdit{}
	for _, v := range vs {
		if v.FirstSeen.IsZero() || v.FirstSeen.Before(from) || v.FirstSeen.After(to) {
			continue
		}
		out = append(out, report.PlanEdit{At: v.FirstSeen.UTC(), ID: v.ID, Origin: v.Origin})
	}
	slices.SortStableFunc(out, func(a, b report.PlanEdit) int { return a.At.Compare(b.At) })
	return out
}

// planEditLimit is how many plan versions a timeline reads.
const planEditLimit = 100
