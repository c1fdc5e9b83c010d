package forward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// outgoing is the JSON a message is forwarded as: the message as the client
// sent it (trackplan's log keeps that copy, without any write key), with
// what the destination needs and the client's request carried:
//
//   - type, for a call sent to a single-call route (/v1/track has none);
//   - messageId, when trackplan gave the message one;
//   - timestamp, when the client set none: the event time trackplan
//     computed on receipt (Segment's rule, receipt − (sentAt −
//     originalTimestamp)), since the destination would otherwise compute it
//     from the time of forwarding, late by any outage;
//   - context.ip and context.userAgent, when the client did not set them,
//     from its request: otherwise every event would come from trackplan's
//     host;
//
// and without the strip paths (properties, or traits of identify and
// group calls, the plan does not name).
func outgoing(m *trackplan.Message, strip []string) (json.RawMessage, error) {
	raw := m.Raw
	if len(strip) > 0 {
		var err error
		if raw, err = stripped(m, raw, strip); err != nil {
			return nil, err
		}
	}
	ms, _, err := members(raw)
	if err != nil {
		return nil, fmt.Errorf("message %s: its logged JSON: %w", m.MessageID, err)
	}
	fields := []field{{key: "type", value: jsonString(string(m.Type))}, {key: "messageId", value: jsonString(m.MessageID)}}
	if !m.Timestamp.IsZero() {
		fields = append(fields, field{key: "timestamp", value: jsonString(m.Timestamp.UTC().Format(time.RFC3339Nano))})
	}
	var defaults []member
	if len(m.BatchDefaults) > 0 {
		defaults, _, _ = members(m.BatchDefaults) // kept only when an object
	}
	batch := func(key string) []byte {
		if d, ok := find(defaults, key); ok && m.BatchDefaults[d.start] == '{' {
			return m.BatchDefaults[d.start:d.end]
		}
		return nil
	}
	// context: the message's, with what the batch's adds, and the
	// request's ip and user agent where neither set them.
	var client []field
	if m.ClientIP != "" {
		client = append(client, field{key: "ip", value: jsonString(m.ClientIP)})
	}
	if m.UserAgent != "" {
		client = append(client, field{key: "userAgent", value: jsonString(m.UserAgent)})
	}
	if f, ok := merged(raw, ms, "context", batch("context"), client); ok {
		fields = append(fields, f)
	}
	if f, ok := merged(raw, ms, "integrations", batch("integrations"), nil); ok {
		fields = append(fields, f)
	}
	out, err := splice(raw, fields)
	if err != nil {
		return nil, fmt.Errorf("message %s: its logged JSON: %w", m.MessageID, err)
	}
	return out, nil
}

// merged is the message's object member key with the members of the
// batch's object (defaults) and then of extra that it lacks, and whether
// there is anything to set. A member that is neither an object nor empty is
// left as the client sent it.
func merged(raw []byte, ms []member, key string, defaults []byte, extra []field) (field, bool) {
	if defaults == nil && len(extra) == 0 {
		return field{}, false
	}
	obj := []byte("{}")
	if v, ok := find(ms, key); ok && present(raw[v.start:v.end]) {
		if raw[v.start] != '{' {
			return field{}, false
		}
		obj = raw[v.start:v.end]
	}
	if defaults != nil {
		dms, _, err := members(defaults)
		if err != nil {
			return field{}, false
		}
		var fs []field
		for _, d := range dms {
			fs = append(fs, field{key: d.key, value: defaults[d.start:d.end]})
		}
		if obj, err = splice(obj, fs); err != nil {
			return field{}, false
		}
	}
	obj, err := splice(obj, extra)
	if err != nil {
		return field{}, false
	}
	return field{key: key, value: obj, force: true}, true
}

// field is a member splice sets: its value replaces the member's when the
// member is absent, null or "", or always when force is set.
type field struct {
	key   string
	value []byte
	force bool
}

// splice returns the JSON object obj with fields set: a member's value is
// replaced where it stands (never a second member of the same name, which
// a decoder that keeps the first would read), and missing members are
// appended. The rest of the object is kept byte for byte.
func splice(obj []byte, fields []field) ([]byte, error) {
	ms, end, err := members(obj)
	if err != nil {
		return nil, err
	}
	type edit struct {
		start, end int
		value      []byte
	}
	var edits []edit
	var adds []field
	for _, f := range fields {
		v, ok := find(ms, f.key)
		switch {
		case !ok:
			adds = append(adds, f)
		case f.force || !present(obj[v.start:v.end]):
			edits = append(edits, edit{v.start, v.end, f.value})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(obj)+160)
	at := 0
	for _, e := range edits {
		out = append(out, obj[at:e.start]...)
		out = append(out, e.value...)
		at = e.end
	}
	out = append(out, obj[at:end]...)
	n := len(ms)
	for _, f := range adds {
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, jsonString(f.key)...)
		out = append(out, ':')
		out = append(out, f.value...)
	}
	return append(out, '}'), nil
}

// stripped returns the message's JSON without the strip paths.
func stripped(m *trackplan.Message, raw []byte, strip []string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, fmt.Errorf("message %s: its logged JSON is not an object", m.MessageID)
	}
	field := "properties"
	if m.Type == trackplan.Identify || m.Type == trackplan.Group {
		field = "traits"
	}
	p, ok := top[field]
	if !ok {
		return raw, nil
	}
	v, err := without(p, strip)
	if err != nil {
		return nil, fmt.Errorf("message %s: strip %s: %w", m.MessageID, field, err)
	}
	top[field] = v
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", m.MessageID, err)
	}
	return out, nil
}

// present reports whether a JSON value is there and not null or "".
func present(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`))
}

// jsonString is s as a JSON string. Ids and times are plain ASCII, which
// needs no escaping; anything else goes through the encoder.
func jsonString(s string) json.RawMessage {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return b
		}
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// without removes paths, as the checker names them, from a JSON object,
// keeping every number as written.
func without(raw json.RawMessage, paths []string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return raw, nil
	}
	for _, p := range paths {
		remove(obj, splitPath(p))
	}
	return json.Marshal(obj)
}

// step is one key of a path and how many array levels follow it
// ("items[]" is items, 1; "m[][]" is m, 2).
type step struct {
	key    string
	arrays int
}

// splitPath reads a path the way trackplan.Flatten writes it: keys joined
// by dots, "[]" for array elements, and `\` escaping a dot, a bracket or a
// backslash inside a key (trackplan.EscapeKey).
func splitPath(p string) []step {
	var steps []step
	var key strings.Builder
	arrays := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			key.WriteByte(p[i])
		case c == '[' && i+1 < len(p) && p[i+1] == ']':
			i++
			arrays++
		case c == '.':
			steps = append(steps, step{key.String(), arrays})
			key.Reset()
			arrays = 0
		default:
			key.WriteByte(c)
		}
	}
	return append(steps, step{key.String(), arrays})
}

// remove deletes the path's last key under v, following arrays.
func remove(v any, steps []step) {
	obj, ok := v.(map[string]any)
	if !ok || len(steps) == 0 {
		return
	}
	st := steps[0]
	if len(steps) == 1 {
		delete(obj, st.key) // "tags[]": the array itself goes
		return
	}
	next, ok := obj[st.key]
	if !ok {
		return
	}
	for _, el := range elements(next, st.arrays) {
		remove(el, steps[1:])
	}
}

// elements returns the values depth array levels down in v (v itself at
// depth 0).
func elements(v any, depth int) []any {
	if depth == 0 {
		return []any{v}
	}
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []any
	for _, el := range arr {
		out = append(out, elements(el, depth-1)...)
	}
	return out
}
