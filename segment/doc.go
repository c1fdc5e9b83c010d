// Package segment speaks the Segment protocol: it decodes and normalises
// messages (ids, clock-skew correction, limits), serves the collector's HTTP
// Tracking API and Webhooks endpoints, and wraps analytics-go for sending
// (simulated traffic and score pushes). It is the only importer of
// github.com/segmentio/analytics-go/v3.
package segment
