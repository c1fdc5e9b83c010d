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
	var top map[string]json.RawMessage
	if err := json.Unmarshal(m.Raw, &top); err != nil || top == nil {
		return nil, fmt.Errorf("message %s: its logged JSON is not an object", m.MessageID)
	}
	if _, ok := top["type"]; !ok {
		top["type"] = jsonString(string(m.Type))
	}
	if !present(top["messageId"]) {
		top["messageId"] = jsonString(m.MessageID)
	}
	if !present(top["timestamp"]) && !m.Timestamp.IsZero() {
		top["timestamp"] = jsonString(m.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if m.ClientIP != "" || m.UserAgent != "" {
		ctx, err := withClient(top["context"], m.ClientIP, m.UserAgent)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.MessageID, err)
		}
		top["context"] = ctx
	}
	if len(strip) > 0 {
		field := "properties"
		if m.Type == trackplan.Identify || m.Type == trackplan.Group {
			field = "traits"
		}
		if p, ok := top[field]; ok {
			stripped, err := without(p, strip)
			if err != nil {
				return nil, fmt.Errorf("message %s: strip %s: %w", m.MessageID, field, err)
			}
			top[field] = stripped
		}
	}
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

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// withClient adds ip and userAgent to a context object where it has none.
func withClient(raw json.RawMessage, ip, ua string) (json.RawMessage, error) {
	ctx := map[string]json.RawMessage{}
	if present(raw) {
		if err := json.Unmarshal(raw, &ctx); err != nil || ctx == nil {
			return raw, nil // not an object: left as the client sent it
		}
	}
	if ip != "" && !present(ctx["ip"]) {
		ctx["ip"] = jsonString(ip)
	}
	if ua != "" && !present(ctx["userAgent"]) {
		ctx["userAgent"] = jsonString(ua)
	}
	return json.Marshal(ctx)
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
