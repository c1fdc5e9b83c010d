// Package web serves trackplan's dashboard: plan health (planned events by
// observed status, top findings, unplanned events), engagement (the score
// distribution, accounts by band, risers and fallers), a ranked account
// list, a page per account, a page per user (scores, accounts, traits and
// the ids merged into the user) and a page listing every planned and
// observed event with its properties. A search page finds events,
// property paths, accounts and users; the overview and the events page can
// be narrowed to one source and a time window, kept in the URL, and draw
// the window's errors and warnings over time with the plan's edits marked.
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
// identity), UserTraitSource, SearchSource (accounts and users found) and
// DriftSource (other windows than the default, and the violations charts)
// add detail where they are available, and
// Options.Rechecking puts a banner on every page while the traffic is
// re-checked against a new plan. An Auth (NewAuth) guards it: with
// credentials, browsers sign in on a login page and carry a session cookie,
// scripts send a bearer token or basic auth, and every POST is checked
// against cross-site request forgery; without, it is open on loopback only.
// RequireAuth guards the endpoints only scripts read.
package web
