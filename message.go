package trackplan

import (
	"math"
	"sort"
	"strings"
	"time"
)

// CallType is the Segment call type of a message.
type CallType string

// The Segment call types trackplan accepts.
const (
	Track    CallType = "track"
	Identify CallType = "identify"
	Group    CallType = "group"
	Page     CallType = "page"
	Screen   CallType = "screen"
	Alias    CallType = "alias"
)

// Valid reports whether t is one of the accepted call types.
func (t CallType) Valid() bool {
	switch t {
	case Track, Identify, Group, Page, Screen, Alias:
		return true
	}
	return false
}

// Names under which page and screen calls are observed, as Segment Protocols
// does.
const (
	PageViewed   = "Page Viewed"
	ScreenViewed = "Screen Viewed"
)

// Message is one accepted Segment message, normalised: ids resolved, the event
// time corrected for client clock skew, and page/screen calls named.
type Message struct {
	Source      string   // the named source whose write key sent it
	Type        CallType // track, identify, group, page, screen, alias
	MessageID   string
	UserID      string
	AnonymousID string
	// GroupID is the group call's groupId, or context.groupId of other calls.
	GroupID    string
	Event      string // track: the event name
	Name       string // page/screen: the page or screen name
	PreviousID string // alias: the previous id

	Timestamp  time.Time // event time, skew-corrected
	ReceivedAt time.Time // when the collector received it
	// TimestampClamped is set when the client's time was before 2000 or
	// more than a day after ReceivedAt: Timestamp is then ReceivedAt.
	TimestampClamped bool

	// Properties are the track/page/screen properties; Traits the
	// identify/group traits.
	Properties map[string]any
	Traits     map[string]any

	// Raw is the message's JSON as received, for samples and the reservoir.
	Raw []byte

	// BatchDefaults are the context and integrations of the batch that
	// carried the message, as {"context":…,"integrations":…}: they apply
	// to it where it does not set them (nil when there were none).
	BatchDefaults []byte

	// ClientIP and UserAgent describe the request that carried the
	// message (its sender's address and User-Agent header), so a
	// forwarded copy can carry them as Segment would have seen them.
	ClientIP  string
	UserAgent string
}

// EventName is the name under which the message is observed: the event name
// for track, "Page Viewed"/"Screen Viewed" for page/screen, and the call type
// itself for identify, group and alias.
func (m *Message) EventName() string {
	switch m.Type {
	case Track:
		return m.Event
	case Page:
		return PageViewed
	case Screen:
		return ScreenViewed
	default:
		return string(m.Type)
	}
}

// Payload is the object the plan describes for this message: traits for
// identify and group, properties otherwise.
func (m *Message) Payload() map[string]any {
	if m.Type == Identify || m.Type == Group {
		return m.Traits
	}
	return m.Properties
}

// JSON value types as trackplan observes them. Integral numbers are observed
// as "integer", other numbers as "number".
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
	TypeObject  = "object"
	TypeArray   = "array"
	TypeNull    = "null"
)

// JSONType names the JSON type of a decoded value.
func JSONType(v any) string {
	switch x := v.(type) {
	case nil:
		return TypeNull
	case string:
		return TypeString
	case bool:
		return TypeBoolean
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return TypeInteger
		}
		return TypeNumber
	case int, int64:
		return TypeInteger
	case map[string]any:
		return TypeObject
	case []any:
		return TypeArray
	}
	return "unknown"
}

// Field is one property path of a payload with one value found there.
type Field struct {
	Path  string // dot path; array elements as "[]", e.g. products[].sku
	Type  string // JSONType of Value
	Value any
}

// MaxFlattenDepth bounds how deep Flatten descends into nested objects and
// arrays; deeper values are reported at the path where the bound was hit.
const MaxFlattenDepth = 16

// Flatten lists every path of payload with its values, objects before their
// members, in a deterministic order (keys sorted); keys are written with
// EscapeKey. Arrays yield the array
// itself and each element under "path[]". It calls fn once per value.
func Flatten(payload map[string]any, fn func(Field)) {
	flattenObject("", payload, 0, fn)
}

func flattenObject(prefix string, obj map[string]any, depth int, fn func(Field)) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := EscapeKey(k)
		if prefix != "" {
			path = prefix + "." + path
		}
		flattenValue(path, obj[k], depth, fn)
	}
}

// EscapeKey writes an object key as one step of an observed path: a key
// holding ".", "[", "]" or "\" has them escaped with "\", so the key
// "a.b" (path a\.b) and the key b inside the key a (path a.b) stay two
// paths. A plan cannot name such a key (ParsePath splits at dots and
// refuses brackets), so an escaped path is always unplanned.
func EscapeKey(k string) string {
	if !strings.ContainsAny(k, `.[]\`) {
		return k
	}
	return keyEscaper.Replace(k)
}

var keyEscaper = strings.NewReplacer(`\`, `\\`, ".", `\.`, "[", `\[`, "]", `\]`)

func flattenValue(path string, v any, depth int, fn func(Field)) {
	fn(Field{Path: path, Type: JSONType(v), Value: v})
	if depth >= MaxFlattenDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		flattenObject(path, x, depth+1, fn)
	case []any:
		for _, e := range x {
			flattenValue(path+"[]", e, depth+1, fn)
		}
	}
}

// RejectionSample keeps the start of a refused message, at most 512
// bytes, as a Rejection's Sample.
func RejectionSample(raw []byte) []byte {
	const n = 512
	if len(raw) <= n {
		return raw
	}
	return raw[:n]
}

// Rejection is a message the collector refused, with a short machine-readable
// reason (no_user_anon_id, missing_event, …). It is counted, never stored.
type Rejection struct {
	Source     string
	Reason     string
	Sample     []byte // the offending message as received, possibly truncated
	ReceivedAt time.Time
}
