package segment

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/trackplan/trackplan"
)

// Limits bound what the collector accepts. The defaults mirror Segment's.
type Limits struct {
	MaxMessageBytes  int // one message; default 32 KB
	MaxRequestBytes  int // one request body; default 500 KB
	MaxInflatedBytes int // a gzip request body once inflated; default 500 KB
	MaxBatchMessages int // messages in one batch; default 2,500
	MaxDepth         int // nesting of objects and arrays in one message; default 64
	// MaxIDBytes bounds messageId, userId, anonymousId, groupId and
	// previousId (default 512); MaxNameBytes an event or page name (default
	// 256); MaxKeyBytes a property or trait key at any depth (default 256).
	// They keep every stored key far below what a database index takes
	// (PostgreSQL's B-tree refuses rows over about 2.7 KB).
	MaxIDBytes, MaxNameBytes, MaxKeyBytes int
}

// DefaultLimits returns Segment's limits.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes:  32 << 10,
		MaxRequestBytes:  500 << 10,
		MaxInflatedBytes: 500 << 10,
		MaxBatchMessages: 2500,
		MaxDepth:         64,
		MaxIDBytes:       512,
		MaxNameBytes:     256,
		MaxKeyBytes:      256,
	}
}

// Earliest is the earliest event time taken as the client's: a timestamp
// before it, or more than MaxAhead after the message was received, is
// replaced by the receive time (Message.TimestampClamped).
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxAhead is how far after its receipt a message's timestamp may be.
const MaxAhead = 24 * time.Hour

// Rejection reasons: stable, machine-readable, counted per source.
const (
	ReasonMalformed       = "malformed_message"
	ReasonTooLarge        = "message_too_large"
	ReasonInvalidUTF8     = "invalid_utf8"
	ReasonTooDeep         = "nesting_too_deep"
	ReasonUnknownType     = "unknown_type"
	ReasonNoID            = "no_user_anon_id"
	ReasonMissingEvent    = "missing_event"
	ReasonMissingGroupID  = "missing_group_id"
	ReasonMissingPrevious = "missing_previous_id"
	ReasonBadTimestamp    = "bad_timestamp"
	ReasonTooLong         = "field_too_long"
	// ReasonNumberRange is a number beyond what a 64-bit float holds
	// (1e400): valid JSON that no destination could store.
	ReasonNumberRange = "number_out_of_range"
	// ReasonBadRequest counts a request refused as a whole (400: not
	// JSON, over a size limit, bad gzip) from a known write key.
	ReasonBadRequest = "bad_request"
)

// RequestError is a request the collector refuses as a whole (400): it is
// not JSON, or it is over a limit.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

// Request is a decoded request body: one batch envelope, or one message.
type Request struct {
	WriteKey string
	SentAt   string
	GroupID  string // batch-level context.groupId, applied to items without one
	Items    []json.RawMessage
	// Defaults are the batch envelope's context and integrations, which
	// apply to each item that does not set them, as a JSON object
	// {"context":…,"integrations":…}; nil when the envelope has neither
	// (or they are too large to repeat with every message).
	Defaults []byte
	// Type is the call type implied by the endpoint (/v1/track → track), or
	// empty for /v1/batch and webhooks, where each item names its own.
	Type trackplan.CallType
	// KeepReceivedAt makes a message's own receivedAt field win over the
	// receive time passed to Messages: for archives and backfills. A
	// message without one arrived at its sentAt (or the batch's), as far
	// as an archive can tell; only a message with neither takes the
	// receive time passed to Messages.
	KeepReceivedAt bool

	// badSentAt: the batch's sentAt is not a string (a Unix number, …);
	// every item is rejected as bad_timestamp.
	badSentAt bool
}

// ParseBatch decodes a /v1/batch body: {"batch":[…],"sentAt":…,"writeKey":…}.
func ParseBatch(body []byte, l Limits) (*Request, error) {
	var env struct {
		Batch        []json.RawMessage `json:"batch"`
		WriteKey     string            `json:"writeKey"`
		SentAt       wireTime          `json:"sentAt"`
		Context      json.RawMessage   `json:"context"`
		Integrations json.RawMessage   `json:"integrations"`
	}
	if err := gojson.Unmarshal(body, &env); err != nil {
		return nil, &RequestError{Msg: "body is not a JSON batch: " + jsonProblem(err)}
	}
	var ctx struct {
		GroupID flexString `json:"groupId"`
	}
	if len(env.Context) > 0 {
		if err := gojson.Unmarshal(env.Context, &ctx); err != nil {
			ctx.GroupID = "" // a context that is not an object has no groupId
		}
	}
	if env.Batch == nil {
		return nil, &RequestError{Msg: `body has no "batch" array`}
	}
	if len(env.Batch) > l.MaxBatchMessages {
		return nil, &RequestError{Msg: fmt.Sprintf("batch has %d messages; the limit is %d", len(env.Batch), l.MaxBatchMessages)}
	}
	return &Request{WriteKey: env.WriteKey, SentAt: env.SentAt.s, badSentAt: env.SentAt.bad,
		GroupID: string(ctx.GroupID), Items: env.Batch, Defaults: batchDefaults(env.Context, env.Integrations, l)}, nil
}

// batchDefaults keeps a batch envelope's context and integrations objects
// (analytics-go sends its library in the batch's context), without write
// keys, when they fit in a message.
func batchDefaults(ctx, integrations json.RawMessage, l Limits) []byte {
	isObject := func(v json.RawMessage) bool { v = bytes.TrimSpace(v); return len(v) > 0 && v[0] == '{' }
	if !isObject(ctx) && !isObject(integrations) {
		return nil
	}
	if isObject(ctx) && mayHoldWriteKey(ctx) {
		ctx = withoutWriteKey(ctx)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if isObject(ctx) {
		b.WriteString(`"context":`)
		b.Write(ctx)
	}
	if isObject(integrations) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"integrations":`)
		b.Write(integrations)
	}
	b.WriteByte('}')
	out := b.Bytes()
	if len(out) > l.MaxMessageBytes || !utf8.Valid(out) || !json.Valid(out) {
		return nil
	}
	return out
}

// ParseSingle decodes the body of a single-call endpoint (/v1/track, …) or a
// webhook: one message object. typ is the endpoint's call type, or empty when
// the message names its own.
func ParseSingle(body []byte, typ trackplan.CallType, l Limits) (*Request, error) {
	if len(body) > l.MaxMessageBytes {
		return nil, &RequestError{Msg: fmt.Sprintf("message is %d bytes; the limit is %d", len(body), l.MaxMessageBytes)}
	}
	var head struct {
		WriteKey string `json:"writeKey"`
	}
	if err := gojson.Unmarshal(body, &head); err != nil {
		// The standard decoder's errors say where the problem is.
		if err2 := json.Unmarshal(body, &head); err2 != nil {
			err = err2
		}
		return nil, &RequestError{Msg: "body is not a JSON message: " + jsonProblem(err)}
	}
	return &Request{WriteKey: head.WriteKey, Items: []json.RawMessage{body}, Type: typ}, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s has the wrong type (%s)", te.Field, te.Value)
	}
	return err.Error()
}

// wire is a message as clients send it: only the fields trackplan uses.
type wire struct {
	Type string `json:"type"`
	// WriteKey is only looked at: the decoder's own key matching says
	// whether the message holds a write key to strip.
	WriteKey          json.RawMessage `json:"writeKey"`
	MessageID         flexString      `json:"messageId"`
	UserID            flexString      `json:"userId"`
	AnonymousID       flexString      `json:"anonymousId"`
	GroupID           flexString      `json:"groupId"`
	PreviousID        flexString      `json:"previousId"`
	Event             string          `json:"event"`
	Name              string          `json:"name"`
	Timestamp         wireTime        `json:"timestamp"`
	OriginalTimestamp wireTime        `json:"originalTimestamp"`
	SentAt            wireTime        `json:"sentAt"`
	ReceivedAt        wireTime        `json:"receivedAt"`
	Properties        map[string]any  `json:"properties"`
	Traits            map[string]any  `json:"traits"`
	Context           struct {
		GroupID flexString `json:"groupId"`
	} `json:"context"`
}

// flexString accepts a JSON string or number (some clients send numeric
// user ids) and keeps it as a string.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0:
		// No escapes: the text between the quotes is the string (the
		// decoder calling us has checked it is valid JSON).
		*f = flexString(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	default:
		if _, err := strconv.ParseFloat(string(b), 64); err != nil {
			return fmt.Errorf("id must be a string or a number")
		}
		*f = flexString(b)
	}
	return nil
}

// wireTime is a time field as sent: its text when it is a JSON string, or
// bad when it is anything else but null (a Unix number, a boolean, an
// object). A bad time is not a decoding error: the message is well-formed
// JSON and is rejected as bad_timestamp, not malformed_message.
type wireTime struct {
	s   string
	bad bool
}

func (t *wireTime) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0:
		*t = wireTime{s: string(b[1 : len(b)-1])}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = wireTime{s: s}
	case bytes.Equal(b, []byte("null")):
		*t = wireTime{}
	default:
		*t = wireTime{bad: true}
	}
	return nil
}

// Messages normalises the request's items for a source: each item becomes an
// accepted Message or a Rejection with its reason. Nothing is dropped
// silently.
func (r *Request) Messages(source string, receivedAt time.Time, l Limits) ([]*trackplan.Message, []trackplan.Rejection) {
	msgs := make([]*trackplan.Message, 0, len(r.Items))
	var rejs []trackplan.Rejection
	for _, raw := range r.Items {
		m, reason := r.decodeItem(raw, l)
		if reason != "" {
			if mayHoldWriteKey(raw) {
				raw = withoutWriteKey(raw)
			}
			rejs = append(rejs, trackplan.Rejection{Source: source, Reason: reason, Sample: trackplan.RejectionSample(raw), ReceivedAt: receivedAt})
			continue
		}
		m.Source, m.ReceivedAt = source, receivedAt
		m.BatchDefaults = r.Defaults
		if !m.ownReceivedAt.IsZero() {
			m.ReceivedAt = m.ownReceivedAt
		}
		switch {
		case m.skewed:
			m.Timestamp = m.ReceivedAt.Add(-m.skew)
		case m.Timestamp.IsZero():
			m.Timestamp = m.ReceivedAt
		}
		if m.Timestamp.Before(Earliest) || m.Timestamp.After(m.ReceivedAt.Add(MaxAhead)) {
			// A clock far off (or a forged time) would land the message in
			// no report window, or pin "latest" values for ever.
			m.Timestamp, m.TimestampClamped = m.ReceivedAt, true
		}
		if m.MessageID == "" {
			// Segment gives every message an id: two identical calls
			// without one are two events, never deduplicated by content.
			m.MessageID = NewMessageID()
		}
		msgs = append(msgs, &m.Message)
	}
	return msgs, rejs
}

// decoded is a Message before the receive time is known. When skewed, the
// event time is receivedAt − skew, with skew = sentAt − originalTimestamp.
type decoded struct {
	trackplan.Message
	skewed        bool
	skew          time.Duration
	ownReceivedAt time.Time
}

func (r *Request) decodeItem(raw json.RawMessage, l Limits) (*decoded, string) {
	switch {
	case len(raw) > l.MaxMessageBytes:
		return nil, ReasonTooLarge
	case !utf8.Valid(raw):
		return nil, ReasonInvalidUTF8
	case depth(raw) > l.MaxDepth:
		return nil, ReasonTooDeep
	}
	var w wire
	if err := gojson.Unmarshal(raw, &w); err != nil {
		var te *gojson.UnmarshalTypeError
		if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") && te.Type != nil && te.Type.Kind() == reflect.Float64 {
			return nil, ReasonNumberRange // valid JSON, but no number a consumer can hold
		}
		return nil, ReasonMalformed
	}
	typ := trackplan.CallType(w.Type)
	if r.Type != "" && typ == "" {
		typ = r.Type
	}
	if !typ.Valid() {
		return nil, ReasonUnknownType
	}
	if len(w.WriteKey) > 0 || mayHoldWriteKey(raw) {
		raw = withoutWriteKey(raw)
	}
	if tooLong(&w, l) {
		return nil, ReasonTooLong
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		// No store keeps a NUL in text the same way (PostgreSQL refuses
		// it): every store gets U+FFFD in its place.
		withoutNUL(&w)
	}
	d := &decoded{Message: trackplan.Message{
		Type:        typ,
		MessageID:   string(w.MessageID),
		UserID:      string(w.UserID),
		AnonymousID: string(w.AnonymousID),
		Event:       w.Event,
		Name:        w.Name,
		PreviousID:  string(w.PreviousID),
		Properties:  w.Properties,
		Traits:      w.Traits,
		Raw:         raw,
	}}
	d.GroupID = string(w.Context.GroupID)
	if typ == trackplan.Group {
		d.GroupID = string(w.GroupID)
	}
	if d.GroupID == "" {
		d.GroupID = r.GroupID
	}
	switch {
	case d.UserID == "" && d.AnonymousID == "":
		return nil, ReasonNoID
	case typ == trackplan.Track && w.Event == "":
		return nil, ReasonMissingEvent
	case typ == trackplan.Group && w.GroupID == "":
		return nil, ReasonMissingGroupID
	case typ == trackplan.Alias && (w.PreviousID == "" || w.UserID == ""):
		return nil, ReasonMissingPrevious
	}
	if typ == trackplan.Page || typ == trackplan.Screen {
		// The name and properties.name are one field, as analytics.js
		// sends them: each fills the other, so the check and the observed
		// schema see a page's name under "name" however the client sent
		// it. A properties.name the client set is kept as it is.
		if _, has := w.Properties["name"]; d.Name != "" && !has {
			if d.Properties == nil {
				d.Properties = make(map[string]any, 1)
			}
			d.Properties["name"] = d.Name
		} else if n, ok := w.Properties["name"].(string); ok && d.Name == "" {
			d.Name = n
		}
	}
	if r.badSentAt || w.Timestamp.bad || w.OriginalTimestamp.bad || w.SentAt.bad || w.ReceivedAt.bad {
		return nil, ReasonBadTimestamp
	}
	if !d.setTime(w, r.SentAt) {
		return nil, ReasonBadTimestamp
	}
	if r.KeepReceivedAt {
		// An archive's message arrived at its receivedAt; without one, at
		// its sentAt (the batch's when it has none): the time it left the
		// client is closer to its arrival than the import's clock.
		at := w.ReceivedAt.s
		if at == "" {
			at = cmp.Or(w.SentAt.s, r.SentAt)
		}
		if at != "" {
			t, ok := parseTime(at)
			if !ok {
				return nil, ReasonBadTimestamp
			}
			d.ownReceivedAt = t
		}
	}
	return d, ""
}

// setTime applies Segment's rule: a timestamp the client set is the event
// time; otherwise timestamp = receivedAt − (sentAt − originalTimestamp).
func (d *decoded) setTime(w wire, batchSentAt string) bool {
	if w.Timestamp.s != "" {
		t, ok := parseTime(w.Timestamp.s)
		d.Timestamp = t
		return ok
	}
	if w.OriginalTimestamp.s == "" {
		return true // receivedAt
	}
	orig, ok := parseTime(w.OriginalTimestamp.s)
	if !ok {
		return false
	}
	sentAt := w.SentAt.s
	if sentAt == "" {
		sentAt = batchSentAt
	}
	if sentAt == "" {
		d.Timestamp = orig
		return true
	}
	sent, ok := parseTime(sentAt)
	if !ok {
		return false
	}
	d.skewed, d.skew = true, sent.Sub(orig)
	return true
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// depth returns the deepest nesting of objects and arrays in a JSON text,
// ignoring brackets inside strings. It stops counting past 1<<16.
func depth(b []byte) int {
	var d, maxD int
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			d++
			if d > maxD {
				maxD = d
			}
		case '}', ']':
			d--
		}
	}
	return maxD
}

// mayHoldWriteKey reports whether a message's JSON may have a write key
// field: "writeKey" in any case (the decoders match keys case-insensitively,
// as encoding/json does), any \u escape, which can spell it, or the Kelvin
// sign, which Unicode case folding matches with k.
func mayHoldWriteKey(raw []byte) bool {
	return containsFold(raw, "writekey") || bytes.Contains(raw, []byte(`\u`)) || bytes.Contains(raw, []byte("\u212a"))
}

// containsFold reports whether b contains the ASCII lower-case word w in
// any case, without allocating: it jumps between occurrences of w's first
// letter (lower and upper case, each found with bytes.IndexByte) rather
// than comparing at every byte.
func containsFold(b []byte, w string) bool {
	lo, up := w[0], w[0]-('a'-'A')
	// next returns the index of c at or after from, or len(b).
	next := func(c byte, from int) int {
		if j := bytes.IndexByte(b[from:], c); j >= 0 {
			return from + j
		}
		return len(b)
	}
	nl, nu := next(lo, 0), next(up, 0)
	for {
		i := min(nl, nu)
		if i+len(w) > len(b) {
			return false
		}
		if matchFold(b[i+1:i+len(w)], w[1:]) {
			return true
		}
		if i == nl {
			nl = next(lo, i+1)
		} else {
			nu = next(up, i+1)
		}
	}
}

// matchFold reports whether b equals the ASCII lower-case w in any case.
func matchFold(b []byte, w string) bool {
	for k := range len(w) {
		c := b[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[k] {
			return false
		}
	}
	return true
}

// withoutWriteKey removes every top-level key that spells "writeKey" (in
// any case, escaped or not) from a message's JSON, so the credential never
// reaches a sample, the reservoir or a report. A text that is not a JSON
// object is masked wholesale rather than kept.
func withoutWriteKey(raw []byte) []byte {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return []byte(`"(unreadable message containing a write key; not kept)"`)
	}
	found := false
	for k := range obj {
		if strings.EqualFold(k, "writeKey") {
			delete(obj, k)
			found = true
		}
	}
	if !found {
		return raw
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return []byte(`"(unreadable message containing a write key; not kept)"`)
	}
	return out
}

// tooLong reports whether a message carries an id, a name or a key past the
// limits.
func tooLong(w *wire, l Limits) bool {
	for _, id := range []flexString{w.MessageID, w.UserID, w.AnonymousID, w.GroupID, w.PreviousID, w.Context.GroupID} {
		if len(id) > l.MaxIDBytes {
			return true
		}
	}
	return len(w.Event) > l.MaxNameBytes || len(w.Name) > l.MaxNameBytes ||
		keysTooLong(w.Properties, l.MaxKeyBytes) || keysTooLong(w.Traits, l.MaxKeyBytes)
}

// keysTooLong reports whether an object has a key longer than max bytes, at
// any depth.
func keysTooLong(v any, max int) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if len(k) > max || keysTooLong(x, max) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if keysTooLong(x, max) {
				return true
			}
		}
	}
	return false
}

// NewMessageID returns a server-assigned messageId for a message that came
// without one: random, so two identical calls stay two.
func NewMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return "trackplan-" + hex.EncodeToString(b[:])
}

// withoutNUL replaces NUL characters in a message's ids, names, keys and
// string values with U+FFFD.
func withoutNUL(w *wire) {
	for _, id := range []*flexString{&w.MessageID, &w.UserID, &w.AnonymousID, &w.GroupID, &w.PreviousID, &w.Context.GroupID} {
		*id = flexString(noNUL(string(*id)))
	}
	w.Event, w.Name = noNUL(w.Event), noNUL(w.Name)
	if w.Properties != nil {
		w.Properties = noNULValue(w.Properties).(map[string]any)
	}
	if w.Traits != nil {
		w.Traits = noNULValue(w.Traits).(map[string]any)
	}
}

func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

func noNULValue(v any) any {
	switch v := v.(type) {
	case string:
		return noNUL(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[noNUL(k)] = noNULValue(x)
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = noNULValue(x)
		}
		return v
	}
	return v
}
