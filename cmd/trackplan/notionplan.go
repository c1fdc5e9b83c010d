package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/notion"
)

// notionToken reads the Notion token: NOTION_TOKEN, TRACKPLAN_NOTION_TOKEN,
// then the config file.
func notionToken(cfg Config) string {
	return cmp.Or(os.Getenv("TRACKPLAN_NOTION_TOKEN"), os.Getenv("NOTION_TOKEN"), string(cfg.Notion.Token))
}

// newNotionClient builds the Notion adapter for the Events database
// eventsDB (may be empty for `plan init`).
func newNotionClient(c *cli.Context, cfg Config, eventsDB string) (*notion.Client, error) {
	nc := notion.DefaultConfig()
	nc.Token = notionToken(cfg)
	if nc.Token == "" {
		return nil, usage("no Notion token: set NOTION_TOKEN (or notion.token in the config)")
	}
	nc.BaseURL = cmp.Or(c.String("notion-url"), cfg.Notion.BaseURL)
	nc.EventsDB = eventsDB
	nc.PropertiesDB = cmp.Or(c.String("notion-properties-db"), cfg.Notion.PropertiesDatabase)
	nc.APIVersion = cfg.Notion.APIVersion
	nc.EventsSource = cfg.Notion.EventsSource
	nc.Rate = cfg.Notion.Rate
	if c.IsSet("notion-rate") {
		nc.Rate = c.Float64("notion-rate")
	}
	if cfg.Notion.Timeout > 0 {
		nc.Timeout = time.Duration(cfg.Notion.Timeout)
	}
	nc.Logger = logger(c).With("component", "notion")
	if err := renameColumns(&nc.Columns, cfg.Notion); err != nil {
		return nil, err
	}
	client, err := notion.New(nc)
	if err != nil {
		return nil, usage("notion: %v", err)
	}
	return client, nil
}

// renameColumns applies the config's column renames (default name → the
// team's name) to the column set.
func renameColumns(cols *notion.ColumnNames, cfg NotionConfig) error {
	e, p := &cols.Events, &cols.Properties
	events := map[string]*string{e.Name: &e.Name, e.Type: &e.Type, e.Description: &e.Description, e.Why: &e.Why,
		e.Status: &e.Status, e.Owner: &e.Owner, e.Tags: &e.Tags, e.Platforms: &e.Platforms, e.Weight: &e.Weight,
		e.Properties: &e.Properties, e.FirstSeen: &e.FirstSeen, e.LastSeen: &e.LastSeen, e.Volume7d: &e.Volume7d,
		e.Observed: &e.Observed, e.Drift: &e.Drift, e.Synced: &e.Synced}
	props := map[string]*string{p.Name: &p.Name, p.Events: &p.Events, p.Type: &p.Type, p.Required: &p.Required,
		p.Nullable: &p.Nullable, p.AllowedValues: &p.AllowedValues, p.Pattern: &p.Pattern, p.Min: &p.Min, p.Max: &p.Max,
		p.PII: &p.PII, p.Description: &p.Description, p.ObservedTypes: &p.ObservedTypes, p.PresencePct: &p.PresencePct,
		p.LastSeen: &p.LastSeen}
	var v trackplan.ValidationError
	for from, to := range cfg.EventColumns {
		if dst, ok := events[from]; ok && to != "" {
			*dst = to
		} else {
			v.Add(fmt.Sprintf("notion.event_columns[%q]", from), "not a column of the Events layout")
		}
	}
	for from, to := range cfg.PropertyColumns {
		if dst, ok := props[from]; ok && to != "" {
			*dst = to
		} else {
			v.Add(fmt.Sprintf("notion.property_columns[%q]", from), "not a column of the Properties layout")
		}
	}
	if err := v.Err(); err != nil {
		return usage("%v", err)
	}
	return nil
}

// loadNotionPlan reads the plan from the Notion Events database.
func loadNotionPlan(c *cli.Context, cfg Config, eventsDB string) (*trackplan.Plan, error) {
	if eventsDB == "" {
		return nil, usage("--plan notion:<events-database-id>: the id is missing")
	}
	client, err := newNotionClient(c, cfg, eventsDB)
	if err != nil {
		return nil, err
	}
	res, err := client.ReadPlan(c.Context)
	reportNotionRequests(c, client)
	if err != nil {
		return nil, notionError(err)
	}
	for _, p := range res.Problems {
		logger(c).Warn("notion row left out or read as empty", "problem", p.Error())
	}
	logger(c).Debug("notion plan read", "api_version", res.Location.APIVersion,
		"events_database", res.Location.Events.Database, "events_data_source", res.Location.Events.ID,
		"properties_database", res.Location.Properties.Database, "properties_data_source", res.Location.Properties.ID)
	lastNotionPlan.Lock()
	lastNotionPlan.plan, lastNotionPlan.edited, lastNotionPlan.loc = res.Plan, res.EditedAt, res.Location
	lastNotionPlan.Unlock()
	return res.Plan, nil
}

// lastNotionPlan remembers the plan last read from Notion, when it was
// last edited there (for its plan version, see planVersion) and where it
// was read (the databases and data sources whose webhook events matter).
var lastNotionPlan struct {
	sync.Mutex
	plan   *trackplan.Plan
	edited time.Time
	loc    notion.Location
}

// notionPlanIDs returns the ids of the databases and data sources the plan
// was last read from (normalised), or nil when it has not been read.
func notionPlanIDs() map[string]bool {
	lastNotionPlan.Lock()
	defer lastNotionPlan.Unlock()
	loc := lastNotionPlan.loc
	if loc.Events.ID == "" {
		return nil
	}
	ids := map[string]bool{}
	for _, s := range []notion.Source{loc.Events, loc.Properties} {
		for _, id := range s.IDs() {
			ids[normNotionID(id)] = true
		}
	}
	return ids
}

// normNotionID makes a Notion id comparable: lowercase, no dashes.
func normNotionID(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

// notionError maps a Notion failure to exit code 3 (upstream); a plan the
// rows describe badly is a usage error (2).
func notionError(err error) error {
	var ve *trackplan.ValidationError
	if errors.As(err, &ve) {
		return usage("%v", err)
	}
	return upstream(err)
}

// notionRequestsKey is where the daemon puts its metrics for the Notion
// request counts (App.Metadata).
const notionRequestsKey = "notion-requests"

// reportNotionRequests logs a client's request counts at debug level and,
// in the daemon, adds them to the metrics.
func reportNotionRequests(c *cli.Context, client *notion.Client) {
	counts := client.Requests()
	logger(c).Debug("notion requests", "requests", counts)
	if m, ok := c.App.Metadata[notionRequestsKey].(*metrics.Metrics); ok {
		for k, n := range counts {
			m.NotionRequests(k.Method, k.Status, n)
		}
	}
}
