// Package trackplan holds the domain vocabulary of trackplan: Segment messages
// as the collector sees them, the tracking plan, drift findings and engagement
// scores. It is pure: no I/O, and it imports nothing from the module.
//
// Adapters live in sub-packages named after what they adapt (segment, notion,
// store/sqlite, …); the wiring lives in cmd/trackplan.
package trackplan
