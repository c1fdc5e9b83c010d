package main

import (
	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
)

// loadNotionPlan reads the plan from the Notion Events database id.
func loadNotionPlan(c *cli.Context, cfg Config, eventsDB string) (*trackplan.Plan, error) {
	return nil, usage("--plan notion:%s: reading plans from Notion is not wired into this build yet", eventsDB)
}
