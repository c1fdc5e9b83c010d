package notion_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/notion/notiontest"
)

// TestContractPushComparesAllowedValuesAsValues: the team writes Allowed
// values as "csv, pdf, xlsx"; a plan pulled from that workspace, pushed
// back unchanged, writes nothing (Push writes them one per line, but the
// values are the same). Different values are still written.
func TestContractPushComparesAllowedValuesAsValues(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		text := func(s string) map[string]any {
			return map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": s}}}}
		}
		format, err := srv.PageID(res.PropertiesDB, "format")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.UpdatePage(format, map[string]any{"Allowed values": text("csv, pdf, xlsx")}); err != nil {
			t.Fatal(err)
		}

		pulled, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(canonical(samplePlan()), pulled.Plan); diff != "" {
			t.Fatalf("pulled plan (-want +got):\n%s", diff)
		}
		for _, plan := range []string{"pulled", "sample"} {
			p := pulled.Plan
			if plan == "sample" {
				p = samplePlan()
			}
			srv.ResetCounts()
			changes, err := c.Push(ctx, p, notion.PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 0 || srv.Writes() != 0 {
				t.Errorf("push of the %s plan: %d writes, changes %v; want none", plan, srv.Writes(), changes)
			}
		}
		rows, err := srv.Rows(res.PropertiesDB)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Name == "format" && r.Values["Allowed values"] != "csv, pdf, xlsx" {
				t.Errorf("the team's cell was rewritten: %q", r.Values["Allowed values"])
			}
		}

		// Another value, or another order, is a change.
		p := samplePlan()
		p.Events[1].Properties[2].Enum = []string{"csv", "pdf", "docx"}
		srv.ResetCounts()
		changes, err := c.Push(ctx, p, notion.PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || srv.Writes() != 1 {
			t.Errorf("push of changed values: %d writes, changes %v; want one", srv.Writes(), changes)
		}
	})
}
