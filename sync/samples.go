package sync

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/trackplan/trackplan"
)

// Masked replaces the value of a property marked pii in a sample.
const Masked = "(pii)"

// piiPaths lists, per plan key, the property paths the plan marks pii.
func piiPaths(p *trackplan.Plan) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, e := range p.Events {
		for _, pr := range e.Properties {
			if pr != nil && pr.PII {
				k := planKey(e.CallType(), e.Name)
				if out[k] == nil {
					out[k] = map[string]bool{}
				}
				out[k][pr.Name] = true
			}
		}
	}
	return out
}

// MaskSample readies a logged message to be shown: write keys go (wherever
// a client put one) and the values at pii paths are replaced by Masked, in
// the message's properties or traits (context.traits too). A sample that is
// not a JSON object is returned as it is.
func MaskSample(raw json.RawMessage, pii map[string]bool) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return raw
	}
	dropWriteKeys(m)
	for path := range pii {
		steps, err := trackplan.ParsePath(path)
		if err != nil {
			continue
		}
		for _, at := range []string{"properties", "traits"} {
			mask(m[at], steps)
		}
		if ctx, ok := m["context"].(map[string]any); ok {
			mask(ctx["traits"], steps)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

func dropWriteKeys(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			if strings.EqualFold(k, "writeKey") || strings.EqualFold(k, "write_key") {
				delete(x, k)
				continue
			}
			dropWriteKeys(vv)
		}
	case []any:
		for _, vv := range x {
			dropWriteKeys(vv)
		}
	}
}

// mask replaces the value at steps under v.
func mask(v any, steps []trackplan.PathStep) {
	if len(steps) == 0 {
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	s := steps[0]
	next, ok := obj[s.Key]
	if !ok {
		return
	}
	rest := steps[1:]
	if s.Elem {
		arr, ok := next.([]any)
		if !ok {
			return
		}
		for i := range arr {
			if len(rest) == 0 {
				arr[i] = Masked
			} else {
				mask(arr[i], rest)
			}
		}
		return
	}
	if len(rest) == 0 {
		obj[s.Key] = Masked
		return
	}
	mask(next, rest)
}
