// Package sync holds trackplan's synchronisation jobs: reconciliation of
// the plan with what was observed, the Notion write-back, and the score
// push. Each job exposes Run(ctx), used alike by the scheduler and by the
// one-shot commands, and declares the small store interface it needs.
//
// # The score push
//
// Push sends the latest score snapshot of each configured profile to a
// Segment-compatible endpoint: a group call per account and an identify
// call per user, with the engagement traits. Only what changed is sent.
//
// The ledger (store.Ledger) keeps, per profile and entity, the traits of
// the last message the endpoint acknowledged, and apart from it the
// entities whose latest push failed. A run compares each entity of the
// snapshot with its acknowledged traits:
//
//   - added: never acknowledged, sent;
//   - changed: a trait value differs, sent; with a threshold, only when
//     the score moved by at least the threshold or the tier changed
//     (otherwise held, not sent, and compared again next run against the
//     same acknowledged value, so small moves add up);
//   - retried: in the failed-keys ledger, sent with its current traits
//     whatever they are, since a failed message may still have landed;
//   - unchanged: not sent (with Full, sent all the same).
//
// A changed entity is sent with its full trait set, not only the changed
// traits: every call is self-contained, so a destination that missed or
// reordered an earlier call still converges, and the acknowledged state is
// exactly the last message accepted.
//
// A value counts as acknowledged only when the client reports the
// message's own success; until then the ledger keeps the previous value.
// A failure lands in the failed-keys ledger with its reason, status and
// attempt count: pending when the endpoint could not take the message (no
// answer, a timeout, 408, 429, 5xx, or no outcome before the run ended) and
// rejected when it refused it for good (another 4xx, a message over
// 32,000 bytes). Both are retried on every run until accepted.
//
// Every messageId is derived from the profile, the entity, its traits, the
// model version and the digest of the entity's last acknowledged traits.
// A retry of an unacknowledged message therefore carries the same
// messageId, and Segment's deduplication keeps one copy even when the
// first attempt did land; a value that returns to an earlier one later
// gets a new messageId, so it is not mistaken for a duplicate.
package sync
