package codegen_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/codegen"
	"github.com/trackplan/trackplan/codegen/codegentest"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/templates"
)

// compilePlans are the plans the compile tests generate code for: the
// B2B SaaS template, and a plan that uses every property feature (with
// runtime validation).
func compilePlans(t *testing.T) []struct {
	name       string
	plan       *trackplan.Plan
	validation bool
} {
	t.Helper()
	b2b, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name       string
		plan       *trackplan.Plan
		validation bool
	}{
		{"b2b-saas", b2b, false},
		{"features", featuresPlan(t), true},
		{"bounds-only", boundsOnlyPlan(), true},
	}
}

// boundsOnlyPlan has runtime rules but no pattern and no page call: the
// generated code must hold no helper it does not use.
func boundsOnlyPlan() *trackplan.Plan {
	zero := 0.0
	return &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Seats Changed", Properties: []*trackplan.Property{{Name: "seats", Type: trackplan.PropInteger, Required: true, Min: &zero}}},
	}}
}

func featuresPlan(t testing.TB) *trackplan.Plan {
	t.Helper()
	p, err := planfile.Load(filepath.Join("testdata", "features.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func generate(t testing.TB, p *trackplan.Plan, o codegen.Options) codegen.File {
	t.Helper()
	files, err := codegen.Generate(p, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	return files[0]
}

// tsNegative holds calls that must not compile: each line after a
// @ts-expect-error comment must be an error, or tsc reports the unused
// directive (TS2578).
const tsNegative = `import { forBrowser, forNode, NodeAnalytics, BrowserAnalytics } from "./tracking";

declare const node: NodeAnalytics;
declare const browser: BrowserAnalytics;
const t = forNode(node);
const o = { userId: "u-1" };

// The same calls, right, compile.
t.group("acct-1", { name: "Acme", status: "active" }, o);
t.checkoutStepViewed({ step: 3 }, o);
t.signedOut({}, o);
t.identify({ email: "a@example.com", role: "admin" }, { anonymousId: "anon-1" });
forBrowser(browser).signedOut({});

// @ts-expect-error a value outside the enum
t.group("acct-1", { name: "Acme", status: "churned" }, o);
// @ts-expect-error a required property missing
t.checkoutStepViewed({}, o);
// @ts-expect-error a wrong type
t.checkoutStepViewed({ step: "3" }, o);
// @ts-expect-error null where the plan does not allow it
t.checkoutStepViewed({ step: null }, o);
// @ts-expect-error a property the plan does not have
t.signedOut({ reason: "idle" }, o);
// @ts-expect-error a required trait missing
t.identify({ role: "admin" }, o);
// @ts-expect-error a wrong enum value in a nested object
t.orderCompleted({ order_id: "ord_1", total: 1, item_count: 1, currency: "EUR", note: null, placed_at: new Date(), shipping: { address: { city: "Paris" }, method: "drone" }, products: [] }, o);
// @ts-expect-error a datetime as a number
t.orderCompleted({ order_id: "ord_1", total: 1, item_count: 1, currency: "EUR", note: null, placed_at: 1700000000, shipping: { address: { city: "Paris" } }, products: [] }, o);
// @ts-expect-error a call through analytics-node without a user
t.signedOut({}, {});
// @ts-expect-error a screen call through analytics.js
forBrowser(browser).screenViewed({ name: "Home" }, undefined);
// @ts-expect-error a proposed event is left out
t.wishlistShared({ channel: "email" }, o);
`

// TestTypeScriptCompiles compiles the generated TypeScript with tsc
// --strict, with a program that calls every planned event through
// analytics-node's real types, for the B2B SaaS template and the
// every-feature plan; the every-feature project also holds calls that must
// not compile.
func TestTypeScriptCompiles(t *testing.T) {
	t.Parallel()
	codegentest.RequireNode(t)
	for _, tc := range compilePlans(t) {
		t.Run(tc.name, func(t *testing.T) {
			o := codegen.Options{Lang: codegen.TypeScript, RuntimeValidation: tc.validation}
			files := []codegen.File{generate(t, tc.plan, o)}
			ex, err := codegen.Exercise(tc.plan, o, "")
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, ex)
			if tc.name == "features" {
				files = append(files, codegen.File{Name: "negative.ts", Data: []byte(tsNegative)},
					codegen.File{Name: "violations.ts", Data: []byte(tsViolations)},
					codegen.File{Name: "browser.ts", Data: []byte(tsBrowser)})
			}
			dir := codegentest.TSProject(t, files...)
			if out, err := codegentest.TSC(t, dir); err != nil {
				t.Fatalf("tsc --strict: %v\n%s", err, out)
			}
			if tc.name != "features" {
				return
			}
			node, _ := codegentest.RequireNode(t)
			out, err := codegentest.Run(t, dir, nil, node, filepath.Join("dist", "violations.js"))
			if err != nil {
				t.Fatalf("violations.js: %v\n%s", err, out)
			}
			if out != tsViolationsWant {
				t.Errorf("runtime validation reported\n%s\nwant\n%s", out, tsViolationsWant)
			}
		})
	}
}

// tsBrowser hands analytics.js instances, as @segment/analytics-next types
// them, to forBrowser: the snippet's AnalyticsBrowser and a loaded Analytics.
const tsBrowser = `import { AnalyticsBrowser } from "@segment/analytics-next";
import { forBrowser } from "./tracking";

export async function browser(): Promise<void> {
  const buffered = AnalyticsBrowser.load({ writeKey: "key" });
  const t = forBrowser(buffered);
  t.checkoutStepViewed({ step: 2 });
  t.identify({ email: "a@example.com" }, { userId: "u-1" });
  t.group("acct-1", { name: "Acme" });
  t.pageViewed({ path: "/reports" });
  const [loaded] = await buffered;
  forBrowser(loaded).signedOut({});
}
`

// tsViolations sends values the types allow and the plan does not through
// a fake analytics-node: runtime validation reports each, and every call
// is sent all the same.
const tsViolations = `import { forNode, NodeAnalytics } from "./tracking";

const sent: unknown[] = [];
const fake: NodeAnalytics = {
  track: (p) => void sent.push(p),
  identify: (p) => void sent.push(p),
  group: (p) => void sent.push(p),
  page: (p) => void sent.push(p),
  screen: (p) => void sent.push(p),
};
const t = forNode(fake, { onViolation: (v) => console.log(v.event, v.property, v.expected, JSON.stringify(v.value)) });
const o = { userId: "u-1" };
t.checkoutStepViewed({ step: 2.5 }, o);
t.checkoutStepViewed({ step: 9 }, o);
t.identify({ email: "not an email" }, o);
t.orderCompleted({ order_id: "ord_1", total: 1, item_count: 1, currency: "EUR", note: null, placed_at: new Date(),
  shipping: { address: { city: "Paris", zip: "750" } }, products: [{ sku: "a", price: 1 }, { sku: "b", price: -2 }] }, o);
t.checkoutStepViewed({ step: 3 }, o);
console.log("sent", sent.length);
`

const tsViolationsWant = `Checkout Step Viewed step integer 2.5
Checkout Step Viewed step <= 5 9
identify email pattern ^[^@\s]+@[^@\s]+$ "not an email"
Order Completed products[].price >= 0 -2
Order Completed shipping.address.zip pattern ^[0-9]{5}$ "750"
sent 5
`

// TestTypeScriptNegativeCasesError checks the negative file is not
// vacuous: without its directives, tsc reports an error on each of the
// lines they cover.
func TestTypeScriptNegativeCasesError(t *testing.T) {
	t.Parallel()
	codegentest.RequireNode(t)
	o := codegen.Options{Lang: codegen.TypeScript, RuntimeValidation: true}
	src := strings.ReplaceAll(tsNegative, "// @ts-expect-error", "// expect-error")
	dir := codegentest.TSProject(t, generate(t, featuresPlan(t), o), codegen.File{Name: "negative.ts", Data: []byte(src)})
	out, err := codegentest.TSC(t, dir)
	if err == nil {
		t.Fatal("tsc accepted the negative cases")
	}
	for i, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(line, "// expect-error") {
			continue
		}
		at := fmt.Sprintf("negative.ts(%d,", i+2)
		if !strings.Contains(out, at) {
			t.Errorf("no error at %s (%s)", at, strings.TrimPrefix(line, "// expect-error "))
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// goNegative are programs that must not compile, each with the line of
// its error.
var goNegative = []struct {
	name string
	body string
}{
	{"bare-enum-literal", `var _ tracking.GroupStatus = "active"`},
	{"enum-of-another-property", `var _ tracking.GroupStatus = tracking.IdentifyRoleAdmin`},
	{"required-missing", `func f(t *tracking.Tracker) error { return t.CheckoutStepViewed(tracking.Call{UserID: "u"}) }`},
	{"wrong-type", `func f(t *tracking.Tracker) error { return t.CheckoutStepViewed(tracking.Call{UserID: "u"}, "3") }`},
	{"float-for-integer", `func f(t *tracking.Tracker) error { return t.CheckoutStepViewed(tracking.Call{UserID: "u"}, 2.5) }`},
	{"unplanned-property", `var _ = tracking.LegacyExportedOptional{Fromat: tracking.Ptr("csv")}`},
	{"null-for-non-nullable", `var _ = tracking.OrderCompletedOptional{Gift: tracking.Ptr(tracking.Null[bool]())}`},
	{"nested-required-missing", `var _ = tracking.NewOrderCompletedShippingAddress(tracking.OrderCompletedShippingAddressOptional{})`},
	{"datetime-as-string", `var _ = tracking.IdentifyOptional{CreatedAt: tracking.Ptr("2026-11-20T10:00:00Z")}`},
	{"proposed-left-out", `func f(t *tracking.Tracker) error { return t.WishlistShared(tracking.Call{UserID: "u"}, "email") }`},
}

// goViolations sends values the types allow and the plan does not through
// a fake analytics-go client: runtime validation reports each and the
// calls are sent; a zero enum is an error and is not sent.
const goViolations = `package main

import (
	"fmt"
	"time"

	"github.com/segmentio/analytics-go/v3"

	"example.com/tracked/tracking"
)

type fake struct{ sent []analytics.Message }

func (f *fake) Enqueue(m analytics.Message) error { f.sent = append(f.sent, m); return nil }
func (f *fake) Close() error                      { return nil }

func main() {
	c := &fake{}
	t := tracking.New(c, func(v tracking.Violation) { fmt.Println(v.Event, v.Property, v.Expected, v.Value) })
	call := tracking.Call{UserID: "u-1"}
	_ = t.CheckoutStepViewed(call, 9)
	_ = t.Identify(call, "not an email", tracking.IdentifyOptional{})
	_ = t.Group(call, "acct-1", "Acme", tracking.GroupOptional{Mrr: tracking.Ptr(-1.5)})
	item := tracking.NewOrderCompletedProductsItem("b", -2, tracking.OrderCompletedProductsItemOptional{})
	_ = t.OrderCompleted(call, "ord_1", 1, 1, tracking.OrderCompletedCurrencyEUR, tracking.Null[string](), time.Now(),
		tracking.NewOrderCompletedShipping(tracking.NewOrderCompletedShippingAddress("Paris", tracking.OrderCompletedShippingAddressOptional{Zip: tracking.Ptr("750")}), tracking.OrderCompletedShippingOptional{}),
		[]tracking.OrderCompletedProductsItem{item}, tracking.OrderCompletedOptional{})
	err := t.Group(call, "acct-1", "Acme", tracking.GroupOptional{Status: &tracking.GroupStatus{}})
	fmt.Println("sent", len(c.sent), "then:", err)
}
`

const goViolationsWant = `Checkout Step Viewed step <= 5 9
identify email pattern ^[^@\s]+@[^@\s]+$ not an email
group mrr >= 0 -1.5
Order Completed products[].price >= 0 -2
Order Completed shipping.address.zip pattern ^[0-9]{5}$ 750
sent 4 then: group "group": GroupStatus has no value: use one of its values
`

// TestGoCompiles builds and vets the generated Go in a temporary module,
// with a program that calls every planned event through analytics-go, for
// the B2B SaaS template and the every-feature plan; for the every-feature
// plan, programs that misuse it must fail to compile, each at its line.
func TestGoCompiles(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module; skipped with -short")
	}
	for _, tc := range compilePlans(t) {
		t.Run(tc.name, func(t *testing.T) {
			o := codegen.Options{Lang: codegen.Go, RuntimeValidation: tc.validation}
			gen := generate(t, tc.plan, o)
			gen.Name = "tracking/" + gen.Name
			ex, err := codegen.Exercise(tc.plan, o, codegentest.GoModulePath+"/tracking")
			if err != nil {
				t.Fatal(err)
			}
			ex.Name = "cmd/exercise/" + ex.Name
			files := []codegen.File{gen, ex}
			if tc.name == "features" {
				files = append(files, codegen.File{Name: "cmd/violations/main.go", Data: []byte(goViolations)})
				for _, n := range goNegative {
					src := fmt.Sprintf("package neg\n\nimport \"%s/tracking\"\n\n%s\n", codegentest.GoModulePath, n.body)
					files = append(files, codegen.File{Name: "neg/" + n.name + "/neg.go", Data: []byte(src)})
				}
			}
			dir := codegentest.GoModule(t, files...)
			if out, err := codegentest.Go(t, dir, "vet", "./tracking", "./cmd/exercise"); err != nil {
				t.Fatalf("go vet: %v\n%s", err, out)
			}
			if tc.name != "features" {
				return
			}
			out, err := codegentest.Go(t, dir, "run", "./cmd/violations")
			if err != nil {
				t.Fatalf("violations: %v\n%s", err, out)
			}
			if out != goViolationsWant {
				t.Errorf("runtime validation reported\n%s\nwant\n%s", out, goViolationsWant)
			}
			for _, n := range goNegative {
				out, err := codegentest.Go(t, dir, "build", "./neg/"+n.name)
				if err == nil {
					t.Errorf("%s compiled:\n%s", n.name, n.body)
					continue
				}
				if !regexp.MustCompile(`neg\.go:5:\d+`).MatchString(out) {
					t.Errorf("%s: no compile error at its line:\n%s", n.name, out)
				}
			}
		})
	}
}
