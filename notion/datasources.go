package notion

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/trackplan/trackplan"
)

// Location says where a plan was read: the databases and the data sources
// whose rows are the plan.
type Location struct {
	// APIVersion is the Notion-Version spoken.
	APIVersion string
	Events     Source
	Properties Source // empty when the Properties database was not read
}

// Source is the data source of a database that holds the plan's rows. On
// API version 2022-06-28 the database is its own only source.
type Source struct {
	Database string // the database's id
	ID       string // the data source's id (the database's on 2022-06-28)
	Name     string // the data source's name (the database's title on 2022-06-28)
	// Sources is how many data sources the database has; 0 when not known
	// (a Properties data source found through the Events relation).
	Sources int
}

// IDs returns the ids of the source and its database, without duplicates.
func (s Source) IDs() []string {
	var out []string
	for _, id := range []string{s.Database, s.ID} {
		if id != "" && (len(out) == 0 || normID(out[0]) != normID(id)) {
			out = append(out, id)
		}
	}
	return out
}

// source describes t's database and data source.
func (t *table) source() Source {
	return Source{Database: t.dbID, ID: t.id, Name: t.db.name(), Sources: t.db.sources}
}

// resolve returns the schema of the database ref locates (an id or URL of
// a database or of a data source, see ParseID). On 2022-06-28 that is the
// database itself. On 2025-09-03 a database is a container of data
// sources: selector picks one by name or id, else prefer (an id) when it is
// one of them, else the first, and a database with several says which it
// took in the log. A data source id is taken as it is.
func (c *Client) resolve(ctx context.Context, label, ref, selector, prefer string) (*database, error) {
	id, err := ParseID(ref)
	if err != nil {
		return nil, &DatabaseError{Database: label, ID: ref, Err: err}
	}
	// Errors name the database as the configuration does.
	named := strings.TrimSpace(ref)
	if !c.api.sources() {
		db, err := c.api.getDatabase(ctx, id)
		if err != nil {
			return nil, &DatabaseError{Database: label, ID: named, Err: err}
		}
		return db, nil
	}
	db, err := c.api.getDatabase(ctx, id)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			return nil, &DatabaseError{Database: label, ID: named, Err: err}
		}
		// Not a database: perhaps one of its data sources.
		ds, dsErr := c.api.getDataSource(ctx, id)
		if dsErr != nil {
			return nil, &DatabaseError{Database: label, ID: named, Err: err}
		}
		ds.sources = 1
		if parent, perr := c.api.getDatabase(ctx, ds.dbID); perr == nil {
			ds.sources = len(parent.DataSources)
		}
		return ds, nil
	}
	if len(db.DataSources) == 0 {
		return nil, &DatabaseError{Database: label, ID: named, Err: errors.New("the database has no data source (is it a linked view of another database? use the id of the original)")}
	}
	pick, err := pickSource(label, db, selector, prefer)
	if err != nil {
		return nil, err
	}
	if len(db.DataSources) > 1 {
		how := "the first"
		switch {
		case selector != "":
			how = "notion." + label + "_source"
		case prefer != "" && normID(prefer) == normID(pick.ID):
			how = "the one the events relate to"
		}
		c.log.Info("notion database has several data sources; the plan is read from one of them",
			"database", label, "id", db.ID, "data_source", pick.Name, "data_source_id", pick.ID,
			"chosen", how, "sources", sourceNames(db.DataSources))
	}
	ds, err := c.api.getDataSource(ctx, pick.ID)
	if err != nil {
		return nil, &DatabaseError{Database: label, ID: named, Err: err}
	}
	if ds.dbID == "" || normID(ds.dbID) == normID(ds.ID) {
		ds.dbID = db.ID
	}
	ds.sources = len(db.DataSources)
	return ds, nil
}

// openSource returns the schema of the data source id, which a relation of
// the database dbID (for messages) points at: one request, the number of
// data sources of its database left unknown (0).
func (c *Client) openSource(ctx context.Context, label, id, dbID string) (*database, error) {
	ds, err := c.api.getDataSource(ctx, id)
	if err != nil {
		return nil, &DatabaseError{Database: label, ID: cmp.Or(dbID, id), Err: err}
	}
	return ds, nil
}

// pickSource chooses a data source of db: by selector (an id, else a name,
// exactly then ignoring case), else prefer, else the first.
func pickSource(label string, db *database, selector, prefer string) (dataSourceRef, error) {
	srcs := db.DataSources
	if selector = strings.TrimSpace(selector); selector != "" {
		if id, err := ParseID(selector); err == nil {
			for _, s := range srcs {
				if normID(s.ID) == normID(id) {
					return s, nil
				}
			}
		}
		for _, s := range srcs {
			if s.Name == selector {
				return s, nil
			}
		}
		for _, s := range srcs {
			if strings.EqualFold(s.Name, selector) {
				return s, nil
			}
		}
		v := &trackplan.ValidationError{}
		v.Add("notion."+label+"_source", fmt.Sprintf("the %s database %s has no data source named %q; it has %s",
			label, db.ID, selector, sourceNames(srcs)))
		return dataSourceRef{}, v
	}
	for _, s := range srcs {
		if prefer != "" && normID(s.ID) == normID(prefer) {
			return s, nil
		}
	}
	return srcs[0], nil
}

func sourceNames(srcs []dataSourceRef) string {
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = fmt.Sprintf("%q (%s)", s.Name, s.ID)
	}
	return strings.Join(names, ", ")
}
