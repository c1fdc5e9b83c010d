package sync

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
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

// MaskExamples readies the store's observations to be shown: the example
// values of every path a plan marks pii (and of the paths under it) are
// replaced by Masked. The store keeps examples without knowing the plan
// (they are derived before any plan is applied), so whatever shows them
// masks them with the plans at hand; a path any of plans marks pii is
// masked. o is not modified: the result shares nothing that was changed.
func MaskExamples(o *store.Observed, plans ...*trackplan.Plan) *store.Observed {
	if o == nil {
		return nil
	}
	pii := map[string]map[string]bool{}
	for _, p := range plans {
		if p == nil {
			continue
		}
		for k, paths := range piiPaths(p) {
			if pii[k] == nil {
				pii[k] = map[string]bool{}
			}
			for path := range paths {
				pii[k][path] = true
			}
		}
	}
	out := *o
	out.Events = slices.Clone(o.Events)
	for i, e := range out.Events {
		paths := pii[planKey(e.Type, e.Name)]
		if len(paths) == 0 {
			continue
		}
		props := slices.Clone(e.Properties)
		for j, p := range props {
			if len(p.Examples) > 0 && underPII(p.Path, paths) {
				props[j].Examples = []string{Masked}
			}
		}
		out.Events[i].Properties = props
	}
	return &out
}

// underPII reports whether path is one of the pii paths or lies under one
// (a member or an element of a pii object or array).
func underPII(path string, pii map[string]bool) bool {
	if pii[path] {
		return true
	}
	for p := range pii {
		if rest, ok := strings.CutPrefix(path, p); ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "[]")) {
			return true
		}
	}
	return false
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
