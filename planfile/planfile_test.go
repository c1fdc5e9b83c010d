package planfile_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func write(t *testing.T, p *trackplan.Plan, f planfile.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := planfile.Write(&buf, p, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden reads each valid file, writes it in both formats, compares
// with the golden files and reads them back: read → write → read is the
// identity.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid files: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			p, err := planfile.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(name, filepath.Ext(name))
			for _, f := range []planfile.Format{planfile.YAML, planfile.JSON} {
				out := write(t, p, f)
				golden(t, filepath.Join("testdata", "golden", base+"."+string(f)), out)
				again, err := planfile.Parse(out, f)
				if err != nil {
					t.Fatalf("read back %s: %v", f, err)
				}
				if diff := cmp.Diff(p, again); diff != "" {
					t.Errorf("%s round trip (-first +second):\n%s", f, diff)
				}
				if out2 := write(t, again, f); !bytes.Equal(out, out2) {
					t.Errorf("%s: writing again changed the output", f)
				}
			}
		})
	}
}

func TestParseProductExample(t *testing.T) {
	p, err := planfile.Load(filepath.Join("testdata", "valid", "product-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	want := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Report Exported", Type: trackplan.Track, Description: "A user exported a report.", Status: trackplan.StatusLive,
			Owner: "data@example.com", Weight: 6, Properties: []*trackplan.Property{
				{Name: "format", Type: trackplan.PropString, Required: true, Enum: []string{"csv", "pdf", "xlsx"}},
				{Name: "row_count", Type: trackplan.PropInteger, Min: &zero},
			}},
		{Name: "identify", Type: trackplan.Identify, Properties: []*trackplan.Property{
			{Name: "email", Type: trackplan.PropString, Required: true},
			{Name: "created_at", Type: trackplan.PropDatetime},
		}},
		{Name: "group", Type: trackplan.Group, Properties: []*trackplan.Property{
			{Name: "name", Type: trackplan.PropString, Required: true},
			{Name: "plan", Type: trackplan.PropString, Enum: []string{"free", "pro", "enterprise"}},
		}},
	}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestBadFiles checks that each bad file fails with a clear error: every
// listed part must appear in the message.
func TestBadFiles(t *testing.T) {
	tests := []struct {
		file       string
		validation bool // a *trackplan.ValidationError
		want       []string
	}{
		{"unknown-top-key.yaml", true, []string{`event: unknown key "event" in the plan; known keys: version, events (line 2)`}},
		{"unknown-event-key.yaml", true, []string{`events[0].colour: unknown key "colour" in an event`, "(line 5)"}},
		{"misspelt-property-key.json", true, []string{`events[0].properties[0].Required: unknown key "Required" in a property; did you mean "required"? (line 7)`}},
		{"duplicate-key.yaml", true, []string{`events[0].name: key "name" given twice in an event (first at line 3) (line 4)`}},
		{"events-not-a-list.yaml", true, []string{"events: must be a list, not a mapping (line 3)"}},
		{"bad-scalars.yaml", true, []string{
			`events[0].weight: must be an integer, not "high" (line 4)`,
			"events[0].tags[1]: must be a string, not a list (line 5)",
			`events[0].properties[0].required: must be true or false, not "yes" (line 7)`,
			`events[0].properties[1].min: must be a number, not "abc" (line 8)`,
			`events[0].properties[2].max: must be a finite number, not ".inf" (line 9)`,
			`events[0].properties[3]: a property is a mapping, not "just a string" (line 10)`,
		}},
		{"version-2.yaml", true, []string{"version: unsupported version 2 (want 1) (line 1)"}},
		{"missing-version.json", true, []string{"version: version is missing (want version: 1) (line 1)"}},
		{"not-a-mapping.yaml", true, []string{"a plan is a mapping with version and events, not a list (line 1)"}},
		{"merge-key.yaml", true, []string{"events[1]: merge keys (<<) are not supported (line 6)"}},
		{"invalid-plan.yaml", true, []string{
			`events[0].weight: event "Signed Up": weight 12 is outside 0–10 (line 5)`,
			`events[1].name: event "Signed Up": duplicate track event (also events[0]) (line 6)`,
			`events[1].properties[0].min: event "Signed Up", property "seats": min 10 is greater than max 1 (line 10)`,
			`events[1].properties[1].enum: event "Signed Up", property "at": enum applies to string, number, integer and any properties, not datetime (line 14)`,
			`events[2].type: event "Bad Type": unknown call type "click"`,
		}},
		{"syntax.yaml", false, []string{"yaml: line 2:"}},
		{"syntax.json", false, []string{"invalid JSON at line 4:"}},
		{"trailing.json", false, []string{"invalid JSON at line 2: data after the plan"}},
		{"two-documents.yaml", false, []string{"line 3: a plan file holds one YAML document"}},
		{"empty.yaml", false, []string{"empty plan"}},
		{"alias-bomb.yaml", false, []string{"aliases expand to more than 100000 values"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			p, err := planfile.Load(path)
			if err == nil {
				t.Fatalf("Load() = %+v, want an error", p)
			}
			if !strings.HasPrefix(err.Error(), "parse plan "+path+": ") {
				t.Errorf("error %q does not name the file", err)
			}
			var verr *trackplan.ValidationError
			if got := errors.As(err, &verr); got != tt.validation {
				t.Errorf("errors.As(*ValidationError) = %v, want %v (%v)", got, tt.validation, err)
			}
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error does not contain %q:\n%v", part, err)
				}
			}
		})
	}
	if _, err := planfile.Load(filepath.Join("testdata", "bad", "alias-bomb.yaml")); !errors.Is(err, trackplan.ErrTooLarge) {
		t.Errorf("alias bomb: %v, want ErrTooLarge", err)
	}
}

func TestFormats(t *testing.T) {
	for path, want := range map[string]planfile.Format{"plan.yaml": planfile.YAML, "a/plan.YML": planfile.YAML, "plan.json": planfile.JSON} {
		got, err := planfile.FormatOf(path)
		if err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, path := range []string{"plan", "plan.toml"} {
		if _, err := planfile.FormatOf(path); err == nil {
			t.Errorf("FormatOf(%q): no error", path)
		}
	}
	if _, err := planfile.ParseFormat("xml"); err == nil {
		t.Error(`ParseFormat("xml"): no error`)
	}
	if _, err := planfile.Load("plan.txt"); err == nil || !strings.Contains(err.Error(), "unknown extension .txt") {
		t.Errorf("Load(plan.txt) = %v", err)
	}
	if _, err := planfile.Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	// An empty format sniffs the content.
	for _, data := range []string{`{"version": 1, "events": []}`, "version: 1\nevents: []\n", "\n  {\"version\":1}"} {
		if _, err := planfile.Parse([]byte(data), ""); err != nil {
			t.Errorf("Parse(%q, \"\") = %v", data, err)
		}
	}
	// A JSON plan is also YAML, but not the other way round.
	if _, err := planfile.Parse([]byte("version: 1\n"), planfile.JSON); err == nil {
		t.Error("YAML parsed as JSON")
	}
}

func TestWriteFile(t *testing.T) {
	p, err := planfile.Load(filepath.Join("testdata", "valid", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"plan.yaml", "plan.json"} {
		path := filepath.Join(dir, name)
		if err := planfile.WriteFile(path, p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v; want 0644", name, fi.Mode(), err)
		}
		got, err := planfile.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteEmptyAndNil(t *testing.T) {
	for _, p := range []*trackplan.Plan{nil, {}, {Events: []*trackplan.Event{nil}}} {
		out := write(t, p, planfile.YAML)
		if string(out) != "version: 1\nevents: []\n" {
			t.Errorf("Write(%v) = %q", p, out)
		}
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives a write and a read in both formats unchanged.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []planfile.Format{planfile.YAML, planfile.JSON} {
			p, err := planfile.Parse(data, format)
			if err != nil {
				continue
			}
			for _, out := range []planfile.Format{planfile.YAML, planfile.JSON} {
				var buf bytes.Buffer
				if err := planfile.Write(&buf, p, out); err != nil {
					t.Fatalf("write %s: %v", out, err)
				}
				again, err := planfile.Parse(buf.Bytes(), out)
				if err != nil {
					t.Fatalf("read back %s: %v\n%s", out, err, buf.Bytes())
				}
				if diff := cmp.Diff(p, again); diff != "" {
					t.Fatalf("%s round trip (-first +second):\n%s\n%s", out, diff, buf.Bytes())
				}
			}
		}
	})
}
