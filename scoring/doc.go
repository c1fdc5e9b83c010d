// Package scoring computes Sherlock-style engagement scores: pure functions
// over an in-memory Input of activity rollups, and a Runner that loads the
// Input through an ActivitySource, scores every profile and saves each run
// through a SnapshotSaver.
//
// # Rules
//
// For a profile and a run at time `at`:
//
//   - Time frame: the N whole UTC days before the UTC day of `at`, the
//     half-open interval [start, end) with end = `at` truncated to midnight
//     UTC (trackplan.ScoreWindow). An event at exactly start is in; one at
//     exactly end is out. Events on the day of `at` itself wait for the next
//     day's runs, so every run on one day scores the same days, and a run at
//     midnight scores exactly [at − N days, at).
//   - Population: every known user, minus the excluded ones (by user id, by
//     email domain or subdomain, or through any excluded account), minus
//     those failing the filter. Everything below is computed over the
//     population only, the percentile included.
//   - Raw score: Σ count × weight over the scored events in the time frame
//     (capped at 2^50).
//   - Active: raw > 0. P90: the 90th percentile of the active users' raw
//     scores, linear interpolation between closest ranks (numpy's default,
//     PERCENTILE.INC), computed exactly in tenths; 0 when no one is active.
//   - Score: min(100, raw/P90 × 100) rounded half up, at least 1 when active;
//     0 when inactive.
//   - Frequency: days of the time frame with a scored event (an account: of
//     any of its users). Last active: the last scored event before `at` (so
//     possibly on the day of `at`, outside the time frame).
//   - Adoption: scored events done in the time frame, and ever before `at`,
//     ÷ scored events, in percent with one decimal; an account counts the
//     events any of its users did.
//   - Activation: criteria met ÷ criteria, in percent with one decimal; nil
//     without criteria. Event criteria count an event ever done before `at`.
//     For a user, an account-trait criterion is met if any of the user's
//     accounts meets it; for an account, an event or user-trait criterion is
//     met if any of its users meets it.
//   - Accounts: average score = mean score of the active users, rounded half
//     up to one decimal (band and trend use it); total score = sum of the
//     users' scores; total users = users active or with any event in the 90
//     days before `at`; % active = active ÷ total users.
//   - Bands: most engaged ≥ 75, engaged ≥ 50, passive ≥ 25, least engaged
//     below; inactive entities are "inactive".
//   - Trend: score now − score one time frame earlier (an entity without an
//     earlier score counts as 0); 🔥 at +10 or more, ❄️ at −10 or less. The
//     earlier scores come from the snapshot of the run whose time frame
//     ended at the current start, or are recomputed from the rollups over
//     [start − N, start) for the current population.
//   - Flags: new = created_at in [start, at]; mature = created_at more than
//     180 days before `at`; recently inactive = last active 30 to 60 days
//     (inclusive) before `at`; multi-user = an account with more than one
//     total user. A user without a created_at trait uses their first event;
//     an account without one uses its earliest user's.
//   - Listing: a run lists the population users that are active, had any
//     event in the last 90 days or had an earlier score above 0; the others
//     score 0. It lists the accounts with at least one listed user.
//
// The all-time rollups give first and last times per (user, event); a filter
// "did E within D days" holds when the first occurrence is before `at` and
// the last is at or after at − D days, which is exact whenever the rollups
// do not extend past `at` (the normal case: `at` is now).
//
// # Memory
//
// An Input interns users, accounts and events and keeps rollups as flat
// slices of fixed-size rows (12 bytes per daily rollup, 24 per all-time
// rollup); per-user working state is a few words. One million users in
// 100,000 accounts with 30 scored events over two 30-day time frames fit in
// well under 2 GB; see BenchmarkScore1M.
package scoring
