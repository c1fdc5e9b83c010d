// Package forward sends every accepted message on to Segment (or any
// Segment-compatible HTTP API), from the event log: the log is the outbox.
//
// Each forwarding source has a cursor in the log, kept by the store
// (store.Forwarding). A source's messages leave in log order, in batches to
// {endpoint}/v1/batch, as their client sent them (not trackplan's
// normalised copy) with the source's forward write key, their original
// messageId (so Segment drops a batch sent twice after a crash), their
// event time, and context.ip and context.userAgent from the client's
// request when the client did not set them. The cursor moves after the
// destination acknowledged, so a crash sends a batch again, never loses
// one.
//
// An outage downstream never slows ingest: the collector only appends, and
// the forwarder catches up from the log with backoff. A batch the
// destination refuses (400) is split until the refused messages are found;
// they are held (kept in the log, counted, listed) and the rest goes on.
//
// Enforcement, per source, is Segment Protocols' blocking applied when
// forwarding (see Policy): blocked messages are held too, and Replay sends
// them once the plan accepts them.
package forward
