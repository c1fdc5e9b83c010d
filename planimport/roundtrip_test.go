package planimport_test

import (
	"bytes"
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/export"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/planimport"
	"github.com/trackplan/trackplan/templates"
)

// roundTripPlans are every template and the export package's plan with
// nested paths, nullable, numeric constraints and a deprecated event.
func roundTripPlans(t *testing.T) map[string]*trackplan.Plan {
	t.Helper()
	out := map[string]*trackplan.Plan{}
	for _, name := range templates.Names() {
		p, err := templates.Plan(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	nested, err := planfile.Load(filepath.Join("..", "export", "testdata", "nested.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out["nested"] = nested
	return out
}

// exported renders p in format, as the files plan export writes.
func exported(t *testing.T, format planimport.Format, p *trackplan.Plan) []planimport.File {
	t.Helper()
	var buf bytes.Buffer
	switch format {
	case planimport.JSONSchema:
		if err := export.WriteJSONSchema(&buf, p); err != nil {
			t.Fatal(err)
		}
		return []planimport.File{{Name: "plan.schema.json", Data: buf.Bytes()}}
	case planimport.Segment:
		if err := export.WriteSegmentRules(&buf, p, "Web"); err != nil {
			t.Fatal(err)
		}
		return []planimport.File{{Name: "plan.json", Data: buf.Bytes()}}
	case planimport.RudderStack:
		files, _, err := export.RudderStack(p, "web")
		if err != nil {
			t.Fatal(err)
		}
		var out []planimport.File
		for _, f := range files {
			out = append(out, planimport.File{Name: f.Name, Data: f.Data})
		}
		return out
	case planimport.Amplitude:
		var users bytes.Buffer
		if err := export.WriteAmplitudeCSV(&buf, p); err != nil {
			t.Fatal(err)
		}
		if err := export.WriteAmplitudeUserPropertiesCSV(&users, p); err != nil {
			t.Fatal(err)
		}
		return []planimport.File{{Name: "events.csv", Data: buf.Bytes()}, {Name: "users.csv", Data: users.Bytes()}}
	}
	t.Fatalf("no export for %s", format)
	return nil
}

// TestRoundTrip exports every plan in every format and imports it back:
// the plan comes back as it was, except for what the format does not keep
// (kept below, one function per format, and in the README's table).
func TestRoundTrip(t *testing.T) {
	for name, p := range roundTripPlans(t) {
		for _, format := range planimport.Formats {
			t.Run(name+"/"+string(format), func(t *testing.T) {
				res, err := planimport.Import(format, exported(t, format, p), planimport.Options{})
				if err != nil {
					t.Fatal(err)
				}
				want := kept(format, p)
				if diff := gocmp.Diff(yamlOf(t, want), yamlOf(t, res.Plan)); diff != "" {
					t.Errorf("round trip (-what the format keeps +imported):\n%s", diff)
				}
				// Nothing a trackplan export writes is lost on the way back.
				for _, n := range res.Lost {
					if !(format == planimport.RudderStack && strings.Contains(n.Msg, "imported as deprecated")) {
						t.Errorf("lost: %s", n)
					}
				}
			})
		}
	}
}

func yamlOf(t *testing.T, p *trackplan.Plan) string {
	t.Helper()
	var buf bytes.Buffer
	if err := planfile.Write(&buf, p, planfile.YAML); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// kept is p reduced to what format keeps.
func kept(format planimport.Format, p *trackplan.Plan) *trackplan.Plan {
	out := &trackplan.Plan{Version: trackplan.PlanVersion}
	var deprecated []*trackplan.Event
	for _, e0 := range p.Events {
		e := *e0
		e.Why, e.Owner, e.Weight = "", "", 0
		if e.Status != trackplan.StatusDeprecated {
			e.Status = planimport.DefaultStatus
		}
		if format != planimport.Amplitude {
			e.Tags, e.Platforms = nil, nil
		}
		e.Type = e.CallType()
		var props []*trackplan.Property
		for _, pr0 := range e0.Properties {
			pr := *pr0
			pr.PII = false
			if pr.EffectiveType() == trackplan.PropAny {
				pr.Type = ""
			}
			props = append(props, &pr)
		}
		e.Properties = props
		switch format {
		case planimport.JSONSchema, planimport.Segment:
			e.Properties = treeOrder(withParents(e.Properties))
		case planimport.RudderStack:
			if e.Status == trackplan.StatusDeprecated {
				e.Properties = nil // no rule: the catalog keeps the event only
				deprecated = append(deprecated, &e)
				continue
			}
			e.Properties = withParents(e.Properties)
			for _, pr := range e.Properties {
				if strings.HasSuffix(pr.Name, "[]") {
					pr.Description = "" // items are described on their array
				}
				if len([]rune(pr.Description)) < 3 {
					pr.Description = ""
				}
			}
		case planimport.Amplitude:
			switch e.Type {
			case trackplan.Group:
				continue
			case trackplan.Identify:
				e.Description, e.Tags, e.Platforms = "", nil, nil
				defer func(e trackplan.Event) { out.Events = append(out.Events, amplitudeKept(&e)) }(e)
				continue
			}
			e.Type = trackplan.Track
			e = *amplitudeKept(&e)
		}
		out.Events = append(out.Events, &e)
	}
	if format == planimport.RudderStack {
		sharedCatalog(out)
		out.Events = append(out.Events, deprecated...)
	}
	return out
}

// amplitudeKept reduces an event's properties to what Amplitude's CSV
// keeps: datetime is string, object is any, no nullable, array items only
// through their array's row, identify traits not required.
func amplitudeKept(e *trackplan.Event) *trackplan.Event {
	var props []*trackplan.Property
	for _, pr := range e.Properties {
		switch pr.EffectiveType() {
		case trackplan.PropDatetime:
			pr.Type = trackplan.PropString
		case trackplan.PropObject:
			pr.Type = ""
		}
		pr.Nullable = false
		if e.Type == trackplan.Identify {
			pr.Required = false
		}
		if strings.HasSuffix(pr.Name, "[]") {
			pr.Description, pr.Required = "", false
			if pr.EffectiveType() == trackplan.PropAny && len(pr.Enum) == 0 && pr.Pattern == "" {
				continue
			}
		}
		props = append(props, pr)
	}
	e.Properties = props
	return e
}

// withParents declares the objects and arrays that nested paths imply,
// before their first member: JSON Schema and RudderStack cannot tell an
// undeclared parent from a declared one without a description. Array
// items holding objects stay undeclared.
func withParents(props []*trackplan.Property) []*trackplan.Property {
	declared := map[string]bool{}
	for _, pr := range props {
		declared[pr.Name] = true
	}
	var out []*trackplan.Property
	for _, pr := range props {
		var parents []*trackplan.Property
		for path := pr.Name; ; {
			parent, ok := trackplan.ParentPath(path)
			if !ok {
				break
			}
			child := path
			path = parent
			if strings.HasSuffix(parent, "[]") || declared[parent] {
				continue
			}
			declared[parent] = true
			t := trackplan.PropObject
			if strings.HasPrefix(child, parent+"[]") {
				t = trackplan.PropArray
			}
			parents = append([]*trackplan.Property{{Name: parent, Type: t}}, parents...)
		}
		out = append(out, parents...)
		out = append(out, pr)
	}
	return out
}

// treeOrder sorts properties as a JSON object's keys come out of
// encoding/json: each level sorted, parents before their members.
func treeOrder(props []*trackplan.Property) []*trackplan.Property {
	key := func(p *trackplan.Property) []string {
		steps, _ := trackplan.ParsePath(p.Name)
		var k []string
		for _, s := range steps {
			if s.Elem {
				k = append(k, "")
			} else {
				k = append(k, s.Key)
			}
		}
		return k
	}
	out := slices.Clone(props)
	slices.SortStableFunc(out, func(a, b *trackplan.Property) int { return slices.Compare(key(a), key(b)) })
	return out
}

// sharedCatalog applies RudderStack's one catalog property per name, type
// and item type: constraints that differ between its uses are dropped,
// and the first description is everyone's.
func sharedCatalog(p *trackplan.Plan) {
	type sig struct{ name, typ string }
	groups := map[sig][]*trackplan.Property{}
	var order []sig
	for _, e := range p.Events {
		items := map[string]string{}
		for _, pr := range e.Properties {
			if arr, ok := strings.CutSuffix(pr.Name, "[]"); ok {
				items[arr] = string(pr.EffectiveType())
			}
		}
		for _, pr := range e.Properties {
			if strings.HasSuffix(pr.Name, "[]") {
				continue
			}
			name := pr.Name[strings.LastIndexByte(pr.Name, '.')+1:]
			k := sig{name, fmt.Sprint(pr.EffectiveType(), pr.Nullable, items[pr.Name])}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], pr)
		}
	}
	for _, k := range order {
		g := groups[k]
		first := g[0]
		for _, pr := range g[1:] {
			pr.Description = first.Description
			if !slices.Equal(pr.Enum, first.Enum) {
				for _, q := range g {
					q.Enum = nil
				}
			}
			if pr.Pattern != first.Pattern {
				for _, q := range g {
					q.Pattern = ""
				}
			}
			if !sameBound(pr.Min, first.Min) {
				for _, q := range g {
					q.Min = nil
				}
			}
			if !sameBound(pr.Max, first.Max) {
				for _, q := range g {
					q.Max = nil
				}
			}
		}
	}
}

func sameBound(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return cmp.Compare(*a, *b) == 0
}
