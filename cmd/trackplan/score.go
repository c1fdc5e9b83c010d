package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/scoring"
	"github.com/trackplan/trackplan/store"
)

func scoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "score",
		Usage: "compute and show engagement scores (the Sherlock model)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Value: trackplan.DefaultProfileName, Usage: "scoring profile"},
			&cli.BoolFlag{Name: "users", Usage: "show users instead of accounts"},
			&cli.BoolFlag{Name: "accounts", Usage: "show accounts (the default)"},
			&cli.IntFlag{Name: "top", Value: 20, Usage: "show the top N (0 = all)"},
			&cli.TimestampFlag{Name: "at", Layout: time.RFC3339, Usage: "score as of this instant (RFC 3339; default now)"},
			&cli.BoolFlag{Name: "include-today", Usage: "score today so far too (the window is otherwise the whole days before today; not with --at or --save)"},
			&cli.BoolFlag{Name: "save", Usage: "store the run as a snapshot (the daemon always does)"},
			formatFlag("text", "json", "csv"),
		},
		Action: func(c *cli.Context) error {
			format, err := checkFormat(c, "text", "json", "csv")
			if err != nil {
				return err
			}
			if c.Bool("users") && c.Bool("accounts") {
				return usage("--users and --accounts exclude each other")
			}
			includeToday := c.Bool("include-today")
			switch {
			case includeToday && c.IsSet("at"):
				return usage("--include-today scores today so far; it does not go with --at")
			case includeToday && c.Bool("save"):
				return usage("--include-today scores a partial day, which is not saved as a snapshot; leave out --save")
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			plan, err := loadPlan(c, cfg)
			if err != nil {
				return err
			}
			profiles, err := scoringProfiles(plan, cfg)
			if err != nil {
				return err
			}
			profile := findProfile(profiles, c.String("profile"))
			if profile == nil {
				return usage("--profile %q: no such profile (have %s)", c.String("profile"), profileNames(profiles))
			}
			st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			if err := catchUp(c, cfg, st, plan); err != nil {
				return err
			}
			now := time.Now().UTC()
			at := now
			if ts := c.Timestamp("at"); ts != nil {
				at = ts.UTC()
			}
			run, err := scoreProfileWindow(c.Context, st, cfg, profile, at, c.Bool("save"), includeToday)
			if err != nil {
				return err
			}
			view := newScoreView(run, c.Bool("users"), c.Int("top"))
			view.Window = newWindowView(run, now)
			switch format {
			case "json":
				return writeJSON(c.App.Writer, view)
			case "csv":
				fmt.Fprintf(c.App.ErrWriter, "profile %s · window: %s\n", run.Profile, view.Window.Text)
				return view.writeCSV(c.App.Writer)
			}
			return view.writeText(c.App.Writer)
		},
	}
}

// scoringProfiles returns the default profile (the plan's weights) and the
// configured ones.
func scoringProfiles(plan *trackplan.Plan, cfg Config) ([]*trackplan.Profile, error) {
	out := []*trackplan.Profile{trackplan.DefaultProfile(plan)}
	for i := range cfg.Scoring.Profiles {
		p := cfg.Scoring.Profiles[i]
		if p.Name == trackplan.DefaultProfileName {
			// A configured default keeps the plan's weights, its own
			// events overriding them (0 leaves one out), with its window,
			// filter, activation and exclusions.
			out[0] = p.InheritPlanWeights(plan)
			continue
		}
		out = append(out, &p)
	}
	if err := out[0].Validate("plan weights"); err != nil {
		return nil, usage("the default scoring profile: %v", err)
	}
	return out, nil
}

func findProfile(ps []*trackplan.Profile, name string) *trackplan.Profile {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func profileNames(ps []*trackplan.Profile) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// runCapture keeps the run a scoring.Runner produced, saving it to the
// store too when asked.
type runCapture struct {
	st   store.Store
	save bool
	runs []*trackplan.ScoreRun
}

func (r *runCapture) SaveScores(ctx context.Context, run *trackplan.ScoreRun) error {
	r.runs = append(r.runs, run)
	if r.save {
		return r.st.SaveScores(ctx, run)
	}
	return nil
}

// scoreProfile computes one profile as of at, with trends from snapshots.
func scoreProfile(ctx context.Context, st store.Store, cfg Config, p *trackplan.Profile, at time.Time, save bool) (*trackplan.ScoreRun, error) {
	return scoreProfileWindow(ctx, st, cfg, p, at, save, false)
}

// scoreProfileWindow is scoreProfile; with includeToday the window takes
// in the day of at as far as it has gone: the run is made as of the end
// of that day (the model's window is the whole days before the day of a
// run, see trackplan.ScoreWindow), then dated at. Such a run is not meant
// to be saved: a later run that day would not see its window.
func scoreProfileWindow(ctx context.Context, st store.Store, cfg Config, p *trackplan.Profile, at time.Time, save, includeToday bool) (*trackplan.ScoreRun, error) {
	runAt := at
	if includeToday {
		runAt = at.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	capture := &runCapture{st: st, save: save}
	r := &scoring.Runner{Source: st, Saver: capture, History: st, Profiles: []*trackplan.Profile{p},
		AccountNameTrait: cfg.Scoring.AccountNameTrait, MembershipTrait: cfg.Scoring.MembershipTrait}
	if err := r.RunAt(ctx, runAt); err != nil {
		return nil, upstream(err)
	}
	if len(capture.runs) != 1 {
		return nil, fmt.Errorf("score %s: the model produced %d runs", p.Name, len(capture.runs))
	}
	run := capture.runs[0]
	run.At = at.UTC()
	return run, nil
}

// scoreView is the stable JSON of `trackplan score`. The list shown,
// accounts or users, is always there ([] when empty); the other is left
// out.
type scoreView struct {
	Profile    string        `json:"profile"`
	At         time.Time     `json:"at"`
	WindowDays int           `json:"window_days"`
	Window     windowView    `json:"window"`
	P90        float64       `json:"p90"`
	Accounts   []accountView `json:"accounts,omitzero"`
	Users      []userView    `json:"users,omitzero"`
}

// windowView is the days a run scored: [start, end), first_day to
// last_day inclusive.
type windowView struct {
	Days     int       `json:"days"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	FirstDay string    `json:"first_day"`
	LastDay  string    `json:"last_day"`
	// IncludeToday says the window holds the day of the run so far
	// (--include-today); otherwise that day counts from the next day.
	IncludeToday bool   `json:"include_today"`
	Text         string `json:"text"`
}

func newWindowView(run *trackplan.ScoreRun, now time.Time) windowView {
	start, end := run.WindowStart.UTC(), run.WindowEnd.UTC()
	return windowView{Days: run.WindowDays, Start: start, End: end, FirstDay: start.Format(time.DateOnly),
		LastDay: end.AddDate(0, 0, -1).Format(time.DateOnly), IncludeToday: end.After(run.At.UTC()),
		Text: run.WindowText(now)}
}

type accountView struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	AverageScore float64    `json:"average_score"`
	TotalScore   int64      `json:"total_score"`
	Band         string     `json:"band"`
	Trend        float64    `json:"trend"`
	TrendFlag    string     `json:"trend_flag,omitempty"`
	ActiveUsers  int        `json:"active_users"`
	TotalUsers   int        `json:"total_users"`
	ActivePct    float64    `json:"active_pct"`
	Frequency    int        `json:"frequency"`
	LastActive   *time.Time `json:"last_active"`
	Adoption     float64    `json:"adoption"`
	// AdoptionAllTime is the % of scored events ever done.
	AdoptionAllTime float64  `json:"adoption_all_time"`
	Activation      *float64 `json:"activation"`
}

type userView struct {
	ID         string     `json:"id"`
	Raw        int64      `json:"raw"`
	Score      int        `json:"score"`
	Active     bool       `json:"active"`
	Frequency  int        `json:"frequency"`
	LastActive *time.Time `json:"last_active"`
	Band       string     `json:"band"`
	Trend      float64    `json:"trend"`
	TrendFlag  string     `json:"trend_flag,omitempty"`
	Accounts   []string   `json:"accounts"`
	// Adoption is the % of scored events done in the window,
	// AdoptionAllTime ever; Activation the % of the profile's activation
	// criteria met (null when it has none).
	Adoption        float64  `json:"adoption"`
	AdoptionAllTime float64  `json:"adoption_all_time"`
	Activation      *float64 `json:"activation"`
}

func newScoreView(run *trackplan.ScoreRun, users bool, top int) *scoreView {
	v := &scoreView{Profile: run.Profile, At: run.At, WindowDays: run.WindowDays, P90: run.P90}
	if users {
		us := slices.Clone(run.Users)
		slices.SortStableFunc(us, func(a, b trackplan.UserScore) int {
			if a.Score != b.Score {
				return b.Score - a.Score
			}
			return int(b.Raw - a.Raw)
		})
		v.Users = []userView{}
		for _, u := range us {
			if top > 0 && len(v.Users) == top {
				break
			}
			v.Users = append(v.Users, userView{ID: u.ID, Raw: u.Raw, Score: u.Score, Active: u.Active, Frequency: u.Frequency,
				LastActive: u.LastActive, Band: string(u.Band), Trend: u.Trend.Change, TrendFlag: string(u.Trend.Flag),
				Accounts: nonNil(u.Accounts), Adoption: u.Adoption.Window, AdoptionAllTime: u.Adoption.AllTime,
				Activation: u.Activation})
		}
		return v
	}
	as := slices.Clone(run.Accounts)
	slices.SortStableFunc(as, func(a, b trackplan.AccountScore) int {
		switch {
		case a.AverageScore != b.AverageScore:
			if a.AverageScore > b.AverageScore {
				return -1
			}
			return 1
		case a.TotalScore != b.TotalScore:
			return int(b.TotalScore - a.TotalScore)
		}
		return strings.Compare(a.ID, b.ID)
	})
	v.Accounts = []accountView{}
	for _, a := range as {
		if top > 0 && len(v.Accounts) == top {
			break
		}
		v.Accounts = append(v.Accounts, accountView{ID: a.ID, Name: a.Name, AverageScore: a.AverageScore, TotalScore: a.TotalScore,
			Band: string(a.Band), Trend: a.Trend.Change, TrendFlag: string(a.Trend.Flag), ActiveUsers: a.ActiveUsers,
			TotalUsers: a.TotalUsers, ActivePct: a.ActivePct, Frequency: a.Frequency, LastActive: a.LastActive,
			Adoption: a.Adoption.Window, AdoptionAllTime: a.Adoption.AllTime, Activation: a.Activation})
	}
	return v
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func (v *scoreView) writeText(w io.Writer) error {
	fmt.Fprintf(w, "profile %s · %d-day window · as of %s · P90 %.1f\nwindow: %s\n\n", v.Profile, v.WindowDays,
		v.At.Format("2006-01-02 15:04 MST"), v.P90, v.Window.Text)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if v.Users != nil {
		fmt.Fprintln(tw, "#\tUSER\tSCORE\tBAND\tTREND\tRAW\tFREQUENCY\tLAST ACTIVE")
		for i, u := range v.Users {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", i+1, oneLine(u.ID, 40), u.Score,
				trackplan.Band(u.Band).Label(), trend(u.Trend, u.TrendFlag), u.Raw, u.Frequency, day(u.LastActive))
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "#\tACCOUNT\tSCORE\tBAND\tTREND\tACTIVE/TOTAL\tFREQUENCY\tLAST ACTIVE")
	for i, a := range v.Accounts {
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%s\t%s\t%d/%d\t%d\t%s\n", i+1, oneLine(a.Name, 40), a.AverageScore,
			trackplan.Band(a.Band).Label(), trend(a.Trend, a.TrendFlag), a.ActiveUsers, a.TotalUsers, a.Frequency, day(a.LastActive))
	}
	return tw.Flush()
}

func (v *scoreView) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	if v.Users != nil {
		cw.Write([]string{"id", "score", "raw", "active", "band", "trend", "frequency", "last_active", "accounts",
			"adoption", "adoption_all_time", "activation"})
		for _, u := range v.Users {
			cw.Write([]string{report.CSVCell(u.ID), strconv.Itoa(u.Score), strconv.FormatInt(u.Raw, 10), strconv.FormatBool(u.Active),
				u.Band, f(u.Trend), strconv.Itoa(u.Frequency), rfc(u.LastActive), report.CSVCell(strings.Join(u.Accounts, ";")),
				f(u.Adoption), f(u.AdoptionAllTime), optional(u.Activation)})
		}
	} else {
		cw.Write([]string{"id", "name", "average_score", "total_score", "band", "trend", "active_users", "total_users",
			"active_pct", "frequency", "last_active", "adoption", "adoption_all_time", "activation"})
		for _, a := range v.Accounts {
			cw.Write([]string{report.CSVCell(a.ID), report.CSVCell(a.Name), f(a.AverageScore), strconv.FormatInt(a.TotalScore, 10), a.Band, f(a.Trend),
				strconv.Itoa(a.ActiveUsers), strconv.Itoa(a.TotalUsers), f(a.ActivePct), strconv.Itoa(a.Frequency),
				rfc(a.LastActive), f(a.Adoption), f(a.AdoptionAllTime), optional(a.Activation)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// optional renders a value that may be absent (an empty cell).
func optional(x *float64) string {
	if x == nil {
		return ""
	}
	return strconv.FormatFloat(*x, 'f', -1, 64)
}

func trend(change float64, flag string) string {
	s := strconv.FormatFloat(change, 'f', -1, 64)
	if change > 0 {
		s = "+" + s
	}
	if flag != "" {
		s += " " + flag
	}
	return s
}

func day(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.Format(time.DateOnly)
}

func rfc(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}
