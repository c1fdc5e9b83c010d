package trackplan_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/trackplan/trackplan"

// TestDependencyDirection keeps the layout's rules: the domain imports
// nothing from the module, adapters import only the domain and the store
// contract, and each third-party SDK has exactly one importer.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	internal := func(pkg string) []string {
		var out []string
		for _, imp := range imports[pkg] {
			if rest, ok := strings.CutPrefix(imp, module); ok {
				out = append(out, rest)
			}
		}
		return out
	}
	allowed := map[string][]string{
		"":                     {},
		"/segment":             {"", "/internal/retryafter"},
		"/notion":              {"", "/internal/retryafter"},
		"/scoring":             {"", "/identity"},
		"/identity":            {},
		"/templates":           {"", "/planfile"},
		"/planfile":            {""},
		"/export":              {""},
		"/codegen":             {""},
		"/planimport":          {""},
		"/report":              {""},
		"/plandiff":            {""},
		"/simulate":            {""},
		"/schedule":            {""},
		"/metrics":             {},
		"/store":               {""},
		"/store/sqlite":        {"", "/store"},
		"/store/postgres":      {"", "/store"},
		"/ingest":              {"", "/store"},
		"/derive":              {"", "/store"},
		"/forward":             {"", "/store", "/internal/retryafter"},
		"/sync":                {"", "/store", "/segment", "/notion", "/report", "/scoring", "/identity"},
		"/web":                 {"", "/store", "/templates", "/identity", "/internal/retryafter"},
		"/alerts":              {"", "/store", "/sync", "/internal/retryafter"},
		"/internal/retryafter": {},
	}
	allowed["/codegen/codegentest"] = []string{"/codegen"} // test helpers: compile and run generated code
	for pkg, ok := range allowed {
		for _, imp := range internal(pkg) {
			if !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s; it may import only %q", module+pkg, module+imp, ok)
			}
		}
	}
	sdks := map[string]string{
		"github.com/jomei/notionapi":           "/notion",
		"github.com/segmentio/analytics-go/v3": "/segment",
		"github.com/jackc/pgx/v5":              "/store/postgres",
		"modernc.org/sqlite":                   "/store/sqlite",
		"github.com/robfig/cron/v3":            "/schedule",
		"github.com/prometheus/client_golang":  "/metrics",
		"github.com/urfave/cli/v2":             "/cmd/trackplan",
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			for sdk, owner := range sdks {
				if (imp == sdk || strings.HasPrefix(imp, sdk+"/")) && pkg != owner {
					t.Errorf("%s imports %s; only %s may", module+pkg, imp, module+owner)
				}
			}
		}
	}
}
