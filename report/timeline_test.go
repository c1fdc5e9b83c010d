package report

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

func TestNewTimelineBuckets(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("Jan 2 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v.AddDate(2026, 0, 0)
	}
	tests := []struct {
		name     string
		from, to string
		days     []string // the daily buckets' starts
		hours    int
	}{
		{"a day", "Mar 9 12:30", "Mar 10 12:30", nil, 25},
		{"48 hours", "Mar 8 13:10", "Mar 10 12:30", nil, 48},
		{"49 hours", "Mar 8 12:10", "Mar 10 12:30", []string{"Mar 8 12:00"}, 48},
		{"a week", "Mar 3 12:30", "Mar 10 12:30", []string{"Mar 3 12:00", "Mar 4 00:00", "Mar 5 00:00", "Mar 6 00:00",
			"Mar 7 00:00", "Mar 8 00:00"}, 48},
		{"from midnight", "Mar 6 00:00", "Mar 10 23:59", []string{"Mar 6 00:00", "Mar 7 00:00", "Mar 8 00:00"}, 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := NewTimeline(at(tt.from), at(tt.to))
			var days []string
			hours := 0
			for i, b := range tl.Buckets {
				if i > 0 && !b.From.Equal(tl.Buckets[i-1].To) {
					t.Errorf("bucket %d does not follow bucket %d", i, i-1)
				}
				if b.To.Sub(b.From) == time.Hour && !b.From.Before(at(tt.to).Truncate(time.Hour).Add(-47*time.Hour)) {
					hours++
					continue
				}
				days = append(days, b.From.Format("Jan 2 15:04"))
			}
			if diff := cmp.Diff(tt.days, days); diff != "" {
				t.Errorf("daily buckets (-want +got):\n%s", diff)
			}
			if hours != tt.hours {
				t.Errorf("%d hourly buckets, want %d", hours, tt.hours)
			}
			if first, last := tl.Buckets[0].From, tl.Buckets[len(tl.Buckets)-1].To; !first.Equal(at(tt.from).Truncate(time.Hour)) ||
				!last.Equal(at(tt.to).Truncate(time.Hour).Add(time.Hour)) {
				t.Errorf("buckets span %s–%s", first, last)
			}
		})
	}
}

func TestTimelineAdd(t *testing.T) {
	tl := NewTimeline(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC))
	tl.Add(1, []trackplan.Finding{
		{Code: trackplan.TypeMismatch, Severity: trackplan.SeverityError, Event: "B", Count: 3},
		{Code: trackplan.UnplannedProperty, Severity: trackplan.SeverityWarning, Event: "A", Count: 2},
		{Code: trackplan.InvalidMessage, Severity: trackplan.SeverityWarning, Count: 4},
		{Code: trackplan.TypeInconsistent, Severity: trackplan.SeverityWarning, Event: "A", Count: 9},
		{Code: trackplan.Naming, Severity: trackplan.SeverityInfo, Event: "A", Count: 5},
		{Code: trackplan.PlannedNotSeen, Severity: trackplan.SeverityWarning, Event: "C"},
	})
	want := []EventTimeline{{Event: "A", Errors: []int64{0, 0, 0}, Warnings: []int64{0, 2, 0}},
		{Event: "B", Errors: []int64{0, 3, 0}, Warnings: []int64{0, 0, 0}}}
	if diff := cmp.Diff(want, tl.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if b := tl.Buckets[1]; b.Errors != 3 || b.Warnings != 6 {
		t.Errorf("bucket 1 counts %d errors, %d warnings; want 3, 6", b.Errors, b.Warnings)
	}
	if e, w := tl.Totals(tl.Buckets[0].From, tl.Buckets[1].From); e != 0 || w != 0 {
		t.Errorf("totals before bucket 1: %d, %d", e, w)
	}
}
