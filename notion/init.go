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
	cols := c.cfg.Columns
	res := &InitResult{}

	evSchema := schemaConfigs(eventSpecs(cols.Events), "")
	ev, err := c.sdk.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: "page_id", PageID: notionapi.PageID(parentPageID)},
		Title:      []notionapi.RichText{{Type: "text", Text: &notionapi.Text{Content: opts.EventsTitle}}},
		Properties: evSchema,
	})
	if err != nil {
		return nil, c.red.err(parentError("events", parentPageID, fromSDK(http.MethodPost, "/v1/databases", err)))
	}
	res.EventsDB = string(ev.ID)

	prSchema := schemaConfigs(propertySpecs(cols.Properties), res.EventsDB)
	pr, err := c.sdk.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: "page_id", PageID: notionapi.PageID(parentPageID)},
		Title:      []notionapi.RichText{{Type: "text", Text: &notionapi.Text{Content: opts.PropertiesTitle}}},
		Properties: prSchema,
	})
	if err != nil {
		return res, c.red.err(parentError("properties", parentPageID, fromSDK(http.MethodPost, "/v1/databases", err)))
	}
	res.PropertiesDB = string(pr.ID)

	if err := c.nameBackRelation(ctx, res.EventsDB, res.PropertiesDB); err != nil {
		// Cosmetic: the Properties database is found by the relation's type.
		c.log.Warn("notion back-relation column not renamed", "err", c.red.err(err))
	}

	changes, err := c.withDatabases(res.EventsDB, res.PropertiesDB).Push(ctx, plan, PushOptions{})
	res.Changes = changes
	if err != nil {
		return res, fmt.Errorf("init notion plan: %w", err)
	}
	return res, nil
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
