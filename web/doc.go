// Package web serves trackplan's dashboard: plan health (planned events by
// observed status, top findings, unplanned events), engagement (the score
// distribution, accounts by band, risers and fallers), a ranked account
// list, a page per account, a page per user (scores, accounts, traits and
// the ids merged into the user) and a page listing every planned and
// observed event with its properties.
//
// Pages are rendered on the server with html/template from the templates
// embedded in package templates; charts are inline SVG drawn by the server,
// so the dashboard works offline with no build step. A small script adds
// sorting to the tables that are not paginated; every page works without it.
//
// The dashboard reads through Data, a small interface the wiring adapts to
// the store and the drift reconciliation; the optional VolumeSource,
// TraitSource, ActivitySource, PlanSource (plan edits marked in the
// volume charts), IdentitySource (merged ids, resolved with package
// identity) and UserTraitSource add detail where they are available, and
// Options.Rechecking puts a banner on every page while the traffic is
// re-checked against a new plan. RequireAuth protects it when it listens
// beyond loopback.
package web
