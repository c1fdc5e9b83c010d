package main

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/web"
)

// The dashboard's search and its views of other windows than the drift
// window: dashboardData implements web.SearchSource and web.DriftSource.

// SearchAccounts finds accounts by a part of their id or display name.
func (d *dashboardData) SearchAccounts(ctx context.Context, text string, limit int) ([]store.Match, error) {
	return d.st.SearchAccounts(ctx, text, cmp.Or(d.cfg.Scoring.AccountNameTrait, trackplan.DefaultAccountNameTrait), limit)
}

// SearchUsers finds users by a part of their id or email.
func (d *dashboardData) SearchUsers(ctx context.Context, text string, limit int) ([]store.Match, error) {
	return d.st.SearchUsers(ctx, text, limit)
}

// DriftOver judges the traffic of the window by the plan in force and
// counts its findings by bucket of event time, reusing a report of the
// same span for findingsTTL.
func (d *dashboardData) DriftOver(ctx context.Context, from, to time.Time) (*web.Drift, error) {
	span := to.Sub(from)
	return judged(ctx, d, &d.views, span, func(plan *trackplan.Plan, _ time.Time) (*web.Drift, error) {
		opts := driftOptions(d.cfg, span)
		// The chart counts the verdicts the findings were made from.
		kept := &keptVerdicts{DriftReader: d.st}
		rep, err := tpsync.Drift(ctx, kept, plan, to.UTC(), opts)
		if err != nil {
			return nil, err
		}
		tl, per, err := driftTimeline(ctx, kept.tally, plan, from.UTC(), to.UTC(), opts, nil)
		if err != nil {
			return nil, err
		}
		out := &web.Drift{Findings: rep.Findings, Buckets: make([]web.DriftBucket, len(tl.Buckets))}
		for i, b := range tl.Buckets {
			out.Buckets[i] = web.DriftBucket{From: b.From, To: b.To, Counts: bucketCounts(per[i])}
		}
		return out, nil
	})
}

// bucketCounts sums a bucket's timed error and warning findings by source
// and event, in that order.
func bucketCounts(fs []trackplan.Finding) []web.DriftCount {
	var out []web.DriftCount
	for _, f := range fs {
		if f.Count <= 0 || !report.Timed(f.Code) ||
			f.Severity != trackplan.SeverityError && f.Severity != trackplan.SeverityWarning {
			continue
		}
		i, ok := slices.BinarySearchFunc(out, f, func(c web.DriftCount, f trackplan.Finding) int {
			return cmp.Or(cmp.Compare(c.Source, f.Source), cmp.Compare(c.Event, f.Event))
		})
		if !ok {
			out = slices.Insert(out, i, web.DriftCount{Source: f.Source, Event: f.Event})
		}
		if f.Severity == trackplan.SeverityError {
			out[i].Errors += f.Count
		} else {
			out[i].Warnings += f.Count
		}
	}
	return out
}
