// Package simulate generates realistic, deterministic B2B SaaS traffic from a
// tracking plan, for demos, load tests and end-to-end tests of the collector,
// the drift report and the scoring.
//
// A Generator builds a population from a seed: accounts with skewed
// activity (a few power accounts, a long tail, some dormant accounts that
// have been silent for the last 7 days, a few that sign up inside the
// window) and their users, with realistic names, emails, titles, plans and
// revenue. It then replays their days: users who existed before the window
// identify and join their account at its start, new users sign up (identify,
// group, Signed Up, Account Created, Invite Sent, … when the plan has these
// events), and sessions start with a sign-in followed by a few of the plan's
// events picked by frequency (heavier-weighted events and account lifecycle
// events are rarer). Traits and properties are generated from the plan:
// required ones always, optional ones at a per-property rate, values of the
// planned type within its enum, pattern and min/max, datetimes as RFC 3339.
// Every track call carries context.groupId.
//
// Without Options.Drift the traffic satisfies the plan; with it the
// Generator injects an unplanned event, a wrong-typed property, a missing
// required property and a live event that is never sent, and lists them in
// Generator.Drift so that a drift report can be checked against them.
//
// The package is pure: it reads no clock (Options.Now anchors the window)
// and does no I/O; sending is the caller's business.
package simulate
