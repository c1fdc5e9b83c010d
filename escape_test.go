package trackplan

import "testing"

// TestDottedKeysStayApart: a key holding a dot and the nested key it
// spells are two observed paths, in the schema and in the verdicts.
func TestDottedKeysStayApart(t *testing.T) {
	var paths []string
	Flatten(map[string]any{"a.b": 1, "a": map[string]any{"b": 2}, `x[]`: 3, `c\d`: 4}, func(f Field) { paths = append(paths, f.Path) })
	want := []string{"a", "a.b", `a\.b`, `c\\d`, `x\[\]`}
	if len(paths) != len(want) {
		t.Fatalf("paths = %q, want %q", paths, want)
	}
	for i := range want {
		if paths[i] != want[i] {
			t.Errorf("paths = %q, want %q", paths, want)
			break
		}
	}
	plan := &Plan{Events: []*Event{{Name: "E", Type: Track, Properties: []*Property{
		{Name: "a", Type: PropObject}, {Name: "a.b", Type: PropInteger}}}}}
	vs := NewChecker(plan).Check(&Message{Type: Track, Event: "E", Properties: map[string]any{"a.b": 1, "a": map[string]any{"b": 2}}})
	if len(vs) != 1 || vs[0].Code != UnplannedProperty || vs[0].Path != `a\.b` {
		t.Errorf("violations = %+v; want the dotted key unplanned as a\\.b, the nested a.b planned", vs)
	}
}
