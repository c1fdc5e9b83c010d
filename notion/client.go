package notion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jomei/notionapi"
)

// Client reads and writes a tracking plan kept in two Notion databases
// (Events and Properties). Every request goes through one Transport:
// throttled, retried, counted. A Client holds no state between calls other
// than the Transport's counters and rate limiter, and is safe for concurrent
// use.
type Client struct {
	cfg Config
	tr  *Transport
	api *api
	sdk *notionapi.Client
	log *slog.Logger
	red redactor
}

// New returns a Client for cfg. It makes no request.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("notion token is required")
	}
	tr, err := NewTransport(cfg)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: tr}
	return &Client{
		cfg: cfg,
		tr:  tr,
		api: &api{hc: hc, token: cfg.Token, version: cfg.APIVersion},
		// notionapi's own 429 loop re-sends a drained body and WithRetry(0)
		// retries forever: one attempt, the Transport retries.
		sdk: notionapi.NewClient(notionapi.Token(cfg.Token),
			notionapi.WithHTTPClient(hc), notionapi.WithRetry(1), notionapi.WithVersion(cfg.APIVersion)),
		log: cfg.Logger,
		red: redactor{secret: cfg.Token},
	}, nil
}

// Requests returns the attempts made so far by method and status, retries
// included.
func (c *Client) Requests() RequestCounts { return c.tr.Counts() }

// Transport returns the Client's Transport.
func (c *Client) Transport() *Transport { return c.tr }

// withDatabases returns a Client sharing c's Transport for other databases.
func (c *Client) withDatabases(events, props string) *Client {
	d := *c
	d.cfg.EventsDB, d.cfg.PropertiesDB = events, props
	return &d
}

// row is one page of a database, its values by field.
type row struct {
	id     string
	name   string // title, trimmed
	edited time.Time
	cells  map[field]cell
}

// snapshot is what a read found: both databases bound, their rows.
type snapshot struct {
	loc       Location
	events    *table
	props     *table // nil when not read
	eventRows []*row
	propRows  []*row
	problems  []RowError
}

// read opens the Events database (and the Properties database when
// withProps) and reads every row.
func (c *Client) read(ctx context.Context, withProps bool) (*snapshot, error) {
	ev, err := c.openEvents(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{events: ev}
	s.loc = Location{APIVersion: c.cfg.APIVersion, Events: ev.source()}
	s.problems = append(s.problems, missingColumns(ev)...)
	if withProps {
		if s.props, err = c.openProperties(ctx, ev); err != nil {
			return nil, err
		}
		s.loc.Properties = s.props.source()
		s.problems = append(s.problems, missingColumns(s.props)...)
	}
	rows, probs, err := c.readRows(ctx, ev)
	if err != nil {
		return nil, err
	}
	s.eventRows, s.problems = rows, append(s.problems, probs...)
	if withProps {
		rows, probs, err := c.readRows(ctx, s.props)
		if err != nil {
			return nil, err
		}
		s.propRows, s.problems = rows, append(s.problems, probs...)
	}
	return s, nil
}

// missingColumns reports the team columns a database lacks: their values
// read as empty.
func missingColumns(t *table) []RowError {
	var out []RowError
	for _, s := range t.specs {
		if why, ok := t.missing[s.field]; ok && !s.owned {
			out = append(out, RowError{Database: t.label, Column: s.name, Message: why + "; read as empty"})
		}
	}
	return out
}

func (c *Client) openEvents(ctx context.Context) (*table, error) {
	if c.cfg.EventsDB == "" {
		return nil, errors.New("notion events database id is not configured")
	}
	db, err := c.resolve(ctx, "events", c.cfg.EventsDB, c.cfg.EventsSource, "")
	if err != nil {
		return nil, err
	}
	return bind("events", db, eventSpecs(c.cfg.Columns.Events)), nil
}

// propertiesRef returns the configured Properties database, or the
// relation column of the Events database to it: the relation column named
// like the Properties column of the config, else the only relation to
// another database.
func (c *Client) propertiesRef(ev *table) (string, *columnConfig, error) {
	if c.cfg.PropertiesDB != "" {
		return c.cfg.PropertiesDB, nil, nil
	}
	var cands []columnConfig
	for _, cc := range ev.db.Properties {
		if cc.Type == "relation" && cc.Relation != nil && !cc.relatesTo(ev) {
			cands = append(cands, cc)
		}
	}
	slices.SortFunc(cands, func(a, b columnConfig) int { return strings.Compare(a.Name, b.Name) })
	for _, cc := range cands {
		if cc.Name == c.cfg.Columns.Events.Properties {
			return cc.target(), &cc, nil
		}
	}
	switch len(cands) {
	case 1:
		return cands[0].target(), &cands[0], nil
	case 0:
		return "", nil, fmt.Errorf("notion events database %s has no relation column to a properties database: set the properties database id", ev.id)
	}
	names := make([]string, len(cands))
	for i, cc := range cands {
		names[i] = fmt.Sprintf("%q", cc.Name)
	}
	return "", nil, fmt.Errorf("notion events database %s has several relation columns (%s): set the properties database id or name the right column in the columns config",
		ev.id, strings.Join(names, ", "))
}

func (c *Client) openProperties(ctx context.Context, ev *table) (*table, error) {
	ref, rel, err := c.propertiesRef(ev)
	if err != nil {
		return nil, err
	}
	var db *database
	switch {
	case rel != nil && rel.Relation.DataSourceID != "":
		// 2025-09-03: the relation names the data source.
		db, err = c.openSource(ctx, "properties", rel.Relation.DataSourceID, rel.Relation.DatabaseID)
	default:
		db, err = c.resolve(ctx, "properties", ref, "", "")
	}
	if err != nil {
		return nil, err
	}
	t := bind("properties", db, propertySpecs(c.cfg.Columns.Properties))
	if cl := t.cols[fEvents]; cl != nil && !db.Properties[cl.actual].relatesTo(ev) {
		delete(t.cols, fEvents)
		t.missing[fEvents] = fmt.Sprintf("column %q relates to another database than the events database %s", cl.actual, ev.id)
	}
	if t.cols[fEvents] == nil {
		// Fall back on the only relation to the Events database.
		var found []columnConfig
		for _, cc := range db.Properties {
			if cc.relatesTo(ev) {
				found = append(found, cc)
			}
		}
		if len(found) == 1 {
			spec := propertySpecs(c.cfg.Columns.Properties)[1]
			t.cols[fEvents] = &col{colSpec: spec, actual: found[0].Name, id: found[0].ID, typ: found[0].Type}
			delete(t.missing, fEvents)
		}
	}
	if t.cols[fEvents] == nil {
		var v = newValidation(c.cfg.Columns.Properties.Events, t.missing[fEvents])
		return nil, &SchemaError{Database: "properties", ID: t.id, Problems: v}
	}
	return t, nil
}

// readRows reads every live row of t, decoding the bound columns. Relations
// Notion truncated are completed through the page property item endpoint.
func (c *Client) readRows(ctx context.Context, t *table) ([]*row, []RowError, error) {
	var rows []*row
	var probs []RowError
	err := c.api.queryAll(ctx, t.id, nil, func(p page) error {
		if p.Archived || p.InTrash {
			return nil
		}
		r := &row{id: p.ID, edited: p.Edited, cells: map[field]cell{}}
		for _, s := range t.specs {
			cl := t.cols[s.field]
			if cl == nil {
				continue
			}
			raw, ok := p.Properties[cl.actual]
			if !ok {
				continue
			}
			v, more, err := cl.decode(raw)
			if err != nil {
				probs = append(probs, RowError{Database: t.label, Row: r.name, PageID: p.ID, Column: cl.actual, Message: err.Error()})
				continue
			}
			if more {
				ids, err := c.api.relationItems(ctx, p.ID, cl.id)
				if err != nil {
					return fmt.Errorf("read relation %q of row %s: %w", cl.actual, p.ID, err)
				}
				v.list = ids
			}
			r.cells[s.field] = v
			if s.field == fName {
				r.name = strings.TrimSpace(v.s)
			}
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, nil, &DatabaseError{Database: t.label, ID: t.id, Err: err}
	}
	return rows, probs, nil
}

// userDirectory resolves owners (emails or names) to Notion users, listing
// the workspace's users once, on first need.
type userDirectory struct {
	c      *Client
	loaded bool
	err    error
	byKey  map[string]dirUser
}

// dirUser is a workspace member.
type dirUser struct {
	id    string
	label string // what a people column reads as: the email, else the name
}

func (d *userDirectory) load(ctx context.Context) error {
	if d.loaded {
		return d.err
	}
	d.loaded = true
	d.byKey = map[string]dirUser{}
	pg := &notionapi.Pagination{PageSize: pageSize}
	for {
		resp, err := d.c.sdk.User.List(ctx, pg)
		if err != nil {
			d.err = fmt.Errorf("list notion users: %w", fromSDK(http.MethodGet, "/v1/users", err))
			return d.err
		}
		for _, u := range resp.Results {
			if u.Type == "bot" {
				continue
			}
			du := dirUser{id: string(u.ID), label: u.Name}
			if u.Person != nil && u.Person.Email != "" {
				du.label = u.Person.Email
				d.byKey[strings.ToLower(u.Person.Email)] = du
			}
			if k := strings.ToLower(u.Name); k != "" {
				if _, taken := d.byKey[k]; !taken {
					d.byKey[k] = du
				}
			}
		}
		if !resp.HasMore || resp.NextCursor == "" {
			return nil
		}
		pg.StartCursor = resp.NextCursor
	}
}

// resolve returns the users named by owner, a comma-separated list of
// emails or names.
func (d *userDirectory) resolve(ctx context.Context, owner string) ([]dirUser, error) {
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	var out []dirUser
	for _, k := range splitOwners(owner) {
		u, ok := d.byKey[strings.ToLower(k)]
		if !ok {
			return nil, fmt.Errorf("no Notion user with the email or name %q", k)
		}
		out = append(out, u)
	}
	return out, nil
}

// people returns the request value of a people column naming owner.
func (d *userDirectory) people(ctx context.Context, owner string) ([]notionapi.User, error) {
	us, err := d.resolve(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]notionapi.User, len(us))
	for i, u := range us {
		out[i] = notionapi.User{Object: "user", ID: notionapi.UserID(u.id)}
	}
	return out, nil
}

func splitOwners(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// normOwner renders an owner list the way a people column reads back.
func normOwner(s string) string { return strings.Join(splitOwners(s), ", ") }

// create makes a row and returns its id. A create that failed without a
// clear answer (5xx, timeout) may have been applied: before trying again
// the row is looked up by name, and a page of that name that was not known
// before (known: the ids read or created in this run) is taken as the one
// created. So a retry never leaves two rows for one name.
func (c *Client) create(ctx context.Context, t *table, name string, props map[string]any, known map[string]bool) (string, error) {
	for attempt := 1; ; attempt++ {
		id, err := c.api.createPage(ctx, t.id, props)
		if err == nil {
			known[normID(id)] = true
			return id, nil
		}
		if !maybeApplied(err) || attempt >= 3 || ctx.Err() != nil {
			return "", err
		}
		c.log.Debug("notion create failed, looking for the row", "database", t.label, "row", name, "err", c.red.err(err))
		ids, qerr := c.findByTitle(ctx, t, name)
		if qerr != nil {
			return "", fmt.Errorf("%w (looking for the row afterwards failed too: %v)", err, qerr)
		}
		for _, id := range ids {
			if !known[normID(id)] {
				known[normID(id)] = true
				return id, nil
			}
		}
	}
}

// maybeApplied reports whether a failed write may nevertheless have landed.
func maybeApplied(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusConflict
	}
	var se *sendError
	return errors.As(err, &se)
}

// findByTitle returns the ids of the live rows of t whose title is name.
func (c *Client) findByTitle(ctx context.Context, t *table, name string) ([]string, error) {
	title := t.cols[fName]
	filter := map[string]any{"property": title.actual, "title": map[string]string{"equals": name}}
	var ids []string
	err := c.api.queryAll(ctx, t.id, filter, func(p page) error {
		if !p.Archived && !p.InTrash {
			ids = append(ids, p.ID)
		}
		return nil
	})
	return ids, err
}
