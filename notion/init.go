package notion

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jomei/notionapi"

	"github.com/trackplan/trackplan"
)

// InitOptions configures Init.
type InitOptions struct {
	// EventsTitle and PropertiesTitle name the two databases (defaults
	// "Tracking plan: Events" and "Tracking plan: Properties").
	EventsTitle     string
	PropertiesTitle string
}

// InitResult is what Init created.
type InitResult struct {
	EventsDB     string
	PropertiesDB string
	// EventsSource and PropertiesSource are the databases' data sources
	// (2025-09-03); on 2022-06-28, the databases' ids.
	EventsSource     string
	PropertiesSource string
	// Changes are the rows written from the plan.
	Changes Changes
}

// Init creates the Events and Properties databases under the Notion page
// parentPageID, with every column of the layout (select options included,
// the Properties database's Events column related both ways), then fills
// them from plan with Push. The page must be shared with the integration.
//
// When Init fails after creating the databases, the result holds their ids
// with the error; Push with those ids finishes the work. A database create
// that fails without a clear answer (5xx, timeout) is not retried, since it
// may have landed: look under the page before running Init again.
func (c *Client) Init(ctx context.Context, parentPageID string, plan *trackplan.Plan, opts InitOptions) (*InitResult, error) {
	if err := checkPlan(plan); err != nil {
		return nil, fmt.Errorf("init notion plan: %w", err)
	}
	if opts.EventsTitle == "" {
		opts.EventsTitle = "Tracking plan: Events"
	}
	if opts.PropertiesTitle == "" {
		opts.PropertiesTitle = "Tracking plan: Properties"
	}
	res := &InitResult{}
	if c.api.sources() {
		if err := c.initSources(ctx, parentPageID, opts, res); err != nil {
			return res, err
		}
	} else if err := c.initDatabases(ctx, parentPageID, opts, res); err != nil {
		return res, err
	}

	changes, err := c.withDatabases(res.EventsDB, res.PropertiesDB).Push(ctx, plan, PushOptions{})
	res.Changes = changes
	if err != nil {
		return res, fmt.Errorf("init notion plan: %w", err)
	}
	return res, nil
}

// initDatabases creates the two databases with notionapi (2022-06-28).
func (c *Client) initDatabases(ctx context.Context, parentPageID string, opts InitOptions, res *InitResult) error {
	cols := c.cfg.Columns
	evSchema := schemaConfigs(eventSpecs(cols.Events), "")
	ev, err := c.sdk.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: "page_id", PageID: notionapi.PageID(parentPageID)},
		Title:      []notionapi.RichText{{Type: "text", Text: &notionapi.Text{Content: opts.EventsTitle}}},
		Properties: evSchema,
	})
	if err != nil {
		return c.red.err(parentError("events", parentPageID, fromSDK(http.MethodPost, "/v1/databases", err)))
	}
	res.EventsDB, res.EventsSource = string(ev.ID), string(ev.ID)

	prSchema := schemaConfigs(propertySpecs(cols.Properties), res.EventsDB)
	pr, err := c.sdk.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: "page_id", PageID: notionapi.PageID(parentPageID)},
		Title:      []notionapi.RichText{{Type: "text", Text: &notionapi.Text{Content: opts.PropertiesTitle}}},
		Properties: prSchema,
	})
	if err != nil {
		return c.red.err(parentError("properties", parentPageID, fromSDK(http.MethodPost, "/v1/databases", err)))
	}
	res.PropertiesDB, res.PropertiesSource = string(pr.ID), string(pr.ID)
	if err := c.nameBackRelation(ctx, res.EventsDB, res.PropertiesDB); err != nil {
		// Cosmetic: the Properties database is found by the relation's type.
		c.log.Warn("notion back-relation column not renamed", "err", c.red.err(err))
	}
	return nil
}

// initSources creates the two databases with their initial data sources
// (2025-09-03), which notionapi cannot: the schema goes under
// initial_data_source, and the relation names the Events data source.
func (c *Client) initSources(ctx context.Context, parentPageID string, opts InitOptions, res *InitResult) error {
	cols := c.cfg.Columns
	ev, err := c.api.createDatabase(ctx, parentPageID, opts.EventsTitle, sourceSchema(eventSpecs(cols.Events), ""))
	if err != nil {
		return c.red.err(parentError("events", parentPageID, err))
	}
	res.EventsDB, res.EventsSource = ev.ID, ev.DataSources[0].ID
	pr, err := c.api.createDatabase(ctx, parentPageID, opts.PropertiesTitle, sourceSchema(propertySpecs(cols.Properties), res.EventsSource))
	if err != nil {
		return c.red.err(parentError("properties", parentPageID, err))
	}
	res.PropertiesDB, res.PropertiesSource = pr.ID, pr.DataSources[0].ID
	if err := c.nameBackRelationSource(ctx, res.EventsSource, res.PropertiesSource); err != nil {
		c.log.Warn("notion back-relation column not renamed", "err", c.red.err(err))
	}
	return nil
}

// sourceSchema is schemaConfigs for a data source: the same column
// configs, the relation pointing at the data source eventsSource.
func sourceSchema(specs []colSpec, eventsSource string) map[string]any {
	out := map[string]any{}
	for name, cfg := range schemaConfigs(specs, "") {
		out[name] = cfg
	}
	for _, s := range specs {
		if s.kind == kindRelation {
			out[s.name] = map[string]any{"relation": map[string]any{
				"data_source_id": eventsSource, "type": "dual_property", "dual_property": map[string]any{},
			}}
		}
	}
	return out
}

// nameBackRelationSource is nameBackRelation for data sources.
func (c *Client) nameBackRelationSource(ctx context.Context, eventsSource, propsSource string) error {
	ds, err := c.api.getDataSource(ctx, eventsSource)
	if err != nil {
		return err
	}
	want := c.cfg.Columns.Events.Properties
	if _, taken := ds.Properties[want]; taken {
		return nil
	}
	for _, cc := range ds.Properties {
		if cc.Type == "relation" && cc.Relation != nil && normID(cc.target()) == normID(propsSource) {
			if err := c.api.updateSchema(ctx, eventsSource, map[string]any{cc.Name: map[string]string{"name": want}}); err != nil {
				return fmt.Errorf("rename column %q of notion events data source %s: %w", cc.Name, eventsSource, err)
			}
			return nil
		}
	}
	return fmt.Errorf("notion events data source %s has no relation to the properties data source %s", eventsSource, propsSource)
}

// parentError explains a failure to create a database under a page.
func parentError(db, parent string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("create notion %s database: page %s not found (404 %s): check the page id and that the page is shared with the integration (••• menu → Connections): %w",
			db, parent, ae.Code, trackplan.ErrNotFound)
	}
	return fmt.Errorf("create notion %s database under page %s: %w", db, parent, err)
}

// schemaConfigs returns the column configs of a database to create; a
// relation column relates to eventsDB, both ways.
func schemaConfigs(specs []colSpec, eventsDB string) notionapi.PropertyConfigs {
	out := notionapi.PropertyConfigs{}
	for _, s := range specs {
		switch s.kind {
		case kindTitle:
			out[s.name] = notionapi.TitlePropertyConfig{Type: notionapi.PropertyConfigTypeTitle}
		case kindText:
			out[s.name] = notionapi.RichTextPropertyConfig{Type: notionapi.PropertyConfigTypeRichText}
		case kindSelect:
			out[s.name] = notionapi.SelectPropertyConfig{Type: notionapi.PropertyConfigTypeSelect, Select: notionapi.Select{Options: sdkOptions(s.options)}}
		case kindMulti:
			out[s.name] = notionapi.MultiSelectPropertyConfig{Type: notionapi.PropertyConfigTypeMultiSelect, MultiSelect: notionapi.Select{Options: sdkOptions(s.options)}}
		case kindNumber:
			out[s.name] = notionapi.NumberPropertyConfig{Type: notionapi.PropertyConfigTypeNumber, Number: notionapi.NumberFormat{Format: "number"}}
		case kindCheckbox:
			out[s.name] = notionapi.CheckboxPropertyConfig{Type: notionapi.PropertyConfigTypeCheckbox}
		case kindDate, kindDateTime:
			out[s.name] = notionapi.DatePropertyConfig{Type: notionapi.PropertyConfigTypeDate}
		case kindPeople:
			// Owners are teams and addresses more often than workspace
			// members, whom a people column is limited to: a new
			// database holds them as text. A team that switches the
			// column to people gets it read and written as people.
			out[s.name] = notionapi.RichTextPropertyConfig{Type: notionapi.PropertyConfigTypeRichText}
		case kindRelation:
			out[s.name] = notionapi.RelationPropertyConfig{Type: notionapi.PropertyConfigTypeRelation, Relation: notionapi.RelationConfig{
				DatabaseID: notionapi.DatabaseID(eventsDB), Type: "dual_property", DualProperty: &notionapi.DualProperty{},
			}}
		}
	}
	return out
}

func sdkOptions(opts []option) []notionapi.Option {
	out := make([]notionapi.Option, 0, len(opts))
	for _, o := range opts {
		out = append(out, notionapi.Option{Name: o.name, Color: o.color})
	}
	return out
}

// renameColumn is a column config that only renames; notionapi has none.
type renameColumn struct {
	Name string `json:"name"`
}

func (renameColumn) GetType() notionapi.PropertyConfigType { return "" }
func (renameColumn) GetID() notionapi.PropertyID           { return "" }

// nameBackRelation gives the Events database's side of the two-way
// relation (which Notion names "Related to …") the configured name.
func (c *Client) nameBackRelation(ctx context.Context, eventsDB, propsDB string) error {
	db, err := c.api.getDatabase(ctx, eventsDB)
	if err != nil {
		return err
	}
	want := c.cfg.Columns.Events.Properties
	if _, taken := db.Properties[want]; taken {
		return nil
	}
	for _, cc := range db.Properties {
		if cc.Type == "relation" && cc.Relation != nil && normID(cc.Relation.DatabaseID) == normID(propsDB) {
			_, err := c.sdk.Database.Update(ctx, notionapi.DatabaseID(eventsDB), &notionapi.DatabaseUpdateRequest{
				Properties: notionapi.PropertyConfigs{cc.Name: renameColumn{Name: want}},
			})
			if err != nil {
				return fmt.Errorf("rename column %q of notion events database %s: %w", cc.Name, eventsDB, fromSDK(http.MethodPatch, "/v1/databases/"+eventsDB, err))
			}
			return nil
		}
	}
	return fmt.Errorf("notion events database %s has no relation to the properties database %s", eventsDB, propsDB)
}
