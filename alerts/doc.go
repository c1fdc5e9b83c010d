// Package alerts tells a team when tracking breaks or an account moves.
//
// A Notifier evaluates rules over what the store already holds — the
// hourly verdicts and volumes, the score snapshots, the run log — and
// sends what fires to Slack (an incoming webhook, Block Kit) and to a
// generic webhook (JSON signed with HMAC-SHA256 over a timestamp and the
// body). The rules:
//
//   - tracking: a finding whose fingerprint was never seen before, among
//     the messages derived since the last evaluation (a plan edit's
//     re-check never pages: what it brings in goes to the digest); a live
//     event whose volume fell against the same hours of the previous week,
//     or that stopped arriving; a spike of a known violation;
//   - engagement, per scoring profile: an account dropping a band or by
//     many points against the previous time frame (❄️), entering the top
//     band (🔥), or left with no active user;
//   - operations: a job failing several runs in a row, push failures, the
//     aggregator lagging behind the log.
//
// Delivery is made to be lived with: one alert per finding, event, account
// or job per evaluation, a cooldown per rule, a daily digest of what did
// not page, retries with backoff that honour Slack's Retry-After, and a
// record of every alert in the store.
package alerts
