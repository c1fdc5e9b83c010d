package forward

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	ms, end, err := members(raw)
	if err != nil {
		return nil, fmt.Errorf("message %s: its logged JSON: %w", m.MessageID, err)
	}
	out := make([]byte, 0, len(raw)+160)
	ctx, hasCtx := find(ms, "context")
	if hasCtx && (m.ClientIP != "" || m.UserAgent != "") && raw[ctx.start] == '{' {
		// The client's context, with what it lacks of the request's.
		out = append(out, raw[:ctx.start]...)
		out = withClient(out, raw[ctx.start:ctx.end], m.ClientIP, m.UserAgent)
		out = append(out, raw[ctx.end:end]...)
	} else {
		out = append(out, raw[:end]...)
	}
	n := len(ms)
	add := func(key string, value []byte) {
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"', ':')
		out = append(out, value...)
	}
	if _, ok := find(ms, "type"); !ok {
		add("type", jsonString(string(m.Type)))
	}
	if v, ok := find(ms, "messageId"); !ok || !present(raw[v.start:v.end]) {
		add("messageId", jsonString(m.MessageID))
	}
	if v, ok := find(ms, "timestamp"); (!ok || !present(raw[v.start:v.end])) && !m.Timestamp.IsZero() {
		add("timestamp", jsonString(m.Timestamp.UTC().Format(time.RFC3339Nano)))
	}
	if !hasCtx && (m.ClientIP != "" || m.UserAgent != "") {
		add("context", withClient(nil, []byte("{}"), m.ClientIP, m.UserAgent))
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

// withClient appends the context object ctx to out, with ip and userAgent
// added where it has none.
func withClient(out, ctx []byte, ip, ua string) []byte {
	ms, end, err := members(ctx)
	if err != nil {
		return append(out, ctx...) // not an object: left as the client sent it
	}
	out = append(out, ctx[:end]...)
	n := len(ms)
	for _, f := range []struct{ key, value string }{{"ip", ip}, {"userAgent", ua}} {
		if f.value == "" {
			continue
		}
		if v, ok := find(ms, f.key); ok && present(ctx[v.start:v.end]) {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, f.key...)
		out = append(out, '"', ':')
		out = append(out, jsonString(f.value)...)
	}
	return append(out, '}')
}

// without removes dot paths (array elements as "[]", as the checker names
// them: items[].sku) from a JSON object, keeping every number as written.
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
		remove(obj, strings.Split(p, "."))
	}
	return json.Marshal(obj)
}

// remove deletes the path's last key under v, following arrays where a
// step ends in "[]".
func remove(v any, steps []string) {
	obj, ok := v.(map[string]any)
	if !ok || len(steps) == 0 {
		return
	}
	key, each := strings.CutSuffix(steps[0], "[]")
	if len(steps) == 1 && !each {
		delete(obj, key)
		return
	}
	next, ok := obj[key]
	if !ok {
		return
	}
	if !each {
		remove(next, steps[1:])
		return
	}
	arr, ok := next.([]any)
	if !ok {
		return
	}
	if len(steps) == 1 {
		delete(obj, key) // "tags[]": the array itself is unplanned
		return
	}
	for _, el := range arr {
		remove(el, steps[1:])
	}
}
