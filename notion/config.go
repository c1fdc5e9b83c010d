package notion

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// DefaultBaseURL is the Notion API's address.
const DefaultBaseURL = "https://api.notion.com"

// Notion API versions spoken here.
const (
	// Version20250903 is the version with data sources: a database is a
	// container of one or more data sources, each with its own columns and
	// rows. It is the default.
	Version20250903 = "2025-09-03"
	// Version20220628 is the last version with one schema per database,
	// the one notionapi v1.13.3 speaks. A database with a second data
	// source can no longer be read, queried or written with it.
	Version20220628 = "2022-06-28"
	// DefaultAPIVersion is the version used when Config.APIVersion is empty.
	DefaultAPIVersion = Version20250903
)

// Defaults of Config.
const (
	DefaultRate        = 3.0 // requests per second, Notion's documented average
	DefaultBurst       = 3
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// Config configures a Client. Zero fields take the defaults above;
// DefaultConfig returns them filled in.
type Config struct {
	// Token is the integration token. It is sent in the Authorization header
	// and never appears in errors or logs.
	Token string
	// BaseURL replaces https://api.notion.com (a proxy, a test server). A path
	// is kept as a prefix.
	BaseURL string
	// APIVersion is the Notion-Version sent: Version20250903 (default) or
	// Version20220628.
	APIVersion string
	// EventsDB locates the Events database: its id (with or without
	// dashes), the id of one of its data sources, or a Notion URL of either
	// (see ParseID).
	EventsDB string
	// EventsSource picks the data source of the Events database that holds
	// the plan, by name or id, when the database has several (API
	// 2025-09-03). Empty: the first; the choice is logged.
	EventsSource string
	// PropertiesDB locates the Properties database like EventsDB. When empty
	// it is found through the Events data source's relation to it.
	PropertiesDB string
	// Columns names the columns of both databases.
	Columns ColumnNames

	// Rate is the sustained request rate in requests per second (default 3);
	// math.Inf(1) turns throttling off. Burst is the bucket size (default 3).
	Rate  float64
	Burst int
	// Timeout bounds one attempt of one request, body included (default 30s).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one request, the first included
	// (default 8).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts when the server gave no Retry-After (defaults 500ms and 30s).
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Logger receives debug lines about retries and warnings about values
	// that could not be written. Default: discard.
	Logger *slog.Logger
	// HTTPTransport carries the requests (default http.DefaultTransport).
	HTTPTransport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits for d or until ctx is done (default: a timer). Tests inject
	// a recorder to make backoff and throttling instant.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1) used to spread backoff delays
	// (default math/rand/v2).
	Jitter func() float64
}

// ColumnNames names the columns of the two databases. The defaults are the
// layout `trackplan plan init` creates.
type ColumnNames struct {
	Events     EventColumns
	Properties PropertyColumns
}

// EventColumns names the columns of the Events database. Name is the title
// column; a database has exactly one, and it is found by its type when the
// name differs.
type EventColumns struct {
	Name        string // title
	Type        string // select: track, identify, group, page, screen
	Description string // text
	Why         string // text
	Status      string // select: proposed, planned, implemented, live, deprecated
	Owner       string // people (read as emails, else names); text also works
	Tags        string // multi-select
	Platforms   string // multi-select
	Weight      string // number, 0–10
	// Properties is the relation back from the Properties database (the
	// synced side of its Events column), used to find that database.
	Properties string

	// Columns trackplan owns and writes.
	FirstSeen string // date
	LastSeen  string // date
	Volume7d  string // number
	Observed  string // select: Live, Not seen, Unplanned, Violations, Deprecated but seen
	Drift     string // text, at most 2,000 characters
	Synced    string // date and time of the last write-back that changed the row
}

// PropertyColumns names the columns of the Properties database.
type PropertyColumns struct {
	Name          string // title
	Events        string // relation to the Events database
	Type          string // select: string, number, integer, boolean, object, array, datetime, any
	Required      string // checkbox
	Nullable      string // checkbox
	AllowedValues string // text, one value per line or comma-separated
	Pattern       string // text
	Min           string // number
	Max           string // number
	PII           string // checkbox
	Description   string // text

	// Columns trackplan owns and writes.
	ObservedTypes string // multi-select
	PresencePct   string // number, 0–100
	LastSeen      string // date
}

// DefaultColumns returns the column names of the default Notion layout.
func DefaultColumns() ColumnNames {
	return ColumnNames{
		Events: EventColumns{
			Name: "Name", Type: "Type", Description: "Description", Why: "Why",
			Status: "Status", Owner: "Owner", Tags: "Tags", Platforms: "Platforms",
			Weight: "Weight", Properties: "Properties",
			FirstSeen: "First seen", LastSeen: "Last seen", Volume7d: "Volume 7d",
			Observed: "Observed", Drift: "Drift", Synced: "Synced",
		},
		Properties: PropertyColumns{
			Name: "Name", Events: "Events", Type: "Type", Required: "Required",
			Nullable: "Nullable", AllowedValues: "Allowed values", Pattern: "Pattern",
			Min: "Min", Max: "Max", PII: "PII", Description: "Description",
			ObservedTypes: "Observed types", PresencePct: "Presence %", LastSeen: "Last seen",
		},
	}
}

// DefaultConfig returns a Config with every default filled in and no token
// or database ids.
func DefaultConfig() Config {
	return Config{
		BaseURL:     DefaultBaseURL,
		APIVersion:  DefaultAPIVersion,
		Columns:     DefaultColumns(),
		Rate:        DefaultRate,
		Burst:       DefaultBurst,
		Timeout:     DefaultTimeout,
		MaxAttempts: DefaultMaxAttempts,
		MinBackoff:  DefaultMinBackoff,
		MaxBackoff:  DefaultMaxBackoff,
	}
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.APIVersion == "" {
		c.APIVersion = d.APIVersion
	}
	c.Columns = c.Columns.withDefaults()
	if c.Rate <= 0 || math.IsNaN(c.Rate) {
		c.Rate = d.Rate
	}
	if c.Burst <= 0 {
		c.Burst = d.Burst
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = d.MinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPTransport == nil {
		c.HTTPTransport = http.DefaultTransport
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepTimer
	}
	return c
}

// withDefaults fills empty column names from DefaultColumns.
func (n ColumnNames) withDefaults() ColumnNames {
	d := DefaultColumns()
	fill := func(dst *string, def string) {
		if strings.TrimSpace(*dst) == "" {
			*dst = def
		}
	}
	e, de := &n.Events, d.Events
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&e.Name, de.Name}, {&e.Type, de.Type}, {&e.Description, de.Description}, {&e.Why, de.Why},
		{&e.Status, de.Status}, {&e.Owner, de.Owner}, {&e.Tags, de.Tags}, {&e.Platforms, de.Platforms},
		{&e.Weight, de.Weight}, {&e.Properties, de.Properties}, {&e.FirstSeen, de.FirstSeen},
		{&e.LastSeen, de.LastSeen}, {&e.Volume7d, de.Volume7d}, {&e.Observed, de.Observed},
		{&e.Drift, de.Drift}, {&e.Synced, de.Synced},
	} {
		fill(f.dst, f.def)
	}
	p, dp := &n.Properties, d.Properties
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&p.Name, dp.Name}, {&p.Events, dp.Events}, {&p.Type, dp.Type}, {&p.Required, dp.Required},
		{&p.Nullable, dp.Nullable}, {&p.AllowedValues, dp.AllowedValues}, {&p.Pattern, dp.Pattern},
		{&p.Min, dp.Min}, {&p.Max, dp.Max}, {&p.PII, dp.PII}, {&p.Description, dp.Description},
		{&p.ObservedTypes, dp.ObservedTypes}, {&p.PresencePct, dp.PresencePct}, {&p.LastSeen, dp.LastSeen},
	} {
		fill(f.dst, f.def)
	}
	return n
}

// Validate reports the problems of c as a *trackplan.ValidationError with
// field-qualified messages. Database ids are not required here: Init creates
// the databases, the other operations check for them.
func (c Config) Validate() error {
	var v trackplan.ValidationError
	if strings.TrimSpace(c.Token) == "" {
		v.Add("notion.token", "is required")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Add("notion.base_url", fmt.Sprintf("%q is not an http(s) URL", c.BaseURL))
		}
	}
	switch c.APIVersion {
	case "", Version20250903, Version20220628:
	default:
		v.Add("notion.api_version", fmt.Sprintf("%q is not a version trackplan speaks (%s or %s)", c.APIVersion, Version20250903, Version20220628))
	}
	for field, id := range map[string]string{"notion.events_db": c.EventsDB, "notion.properties_db": c.PropertiesDB} {
		if id == "" {
			continue
		}
		if _, err := ParseID(id); err != nil {
			v.Add(field, err.Error())
		}
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) {
		v.Add("notion.rate", "must be positive")
	}
	if c.Burst < 0 {
		v.Add("notion.burst", "must not be negative")
	}
	if c.Timeout < 0 {
		v.Add("notion.timeout", "must not be negative")
	}
	if c.MaxAttempts < 0 {
		v.Add("notion.max_attempts", "must not be negative")
	}
	seen := map[string]string{}
	cols := c.Columns.withDefaults()
	for field, name := range cols.eventFields() {
		if prev, ok := seen[name]; ok {
			v.Add("notion.columns.events."+field, fmt.Sprintf("%q is also the name of events.%s", name, prev))
		}
		seen[name] = field
	}
	seen = map[string]string{}
	for field, name := range cols.propertyFields() {
		if prev, ok := seen[name]; ok {
			v.Add("notion.columns.properties."+field, fmt.Sprintf("%q is also the name of properties.%s", name, prev))
		}
		seen[name] = field
	}
	return v.Err()
}

func (n ColumnNames) eventFields() map[string]string {
	e := n.Events
	return map[string]string{
		"name": e.Name, "type": e.Type, "description": e.Description, "why": e.Why,
		"status": e.Status, "owner": e.Owner, "tags": e.Tags, "platforms": e.Platforms,
		"weight": e.Weight, "properties": e.Properties, "first_seen": e.FirstSeen,
		"last_seen": e.LastSeen, "volume_7d": e.Volume7d, "observed": e.Observed,
		"drift": e.Drift, "synced": e.Synced,
	}
}

func (n ColumnNames) propertyFields() map[string]string {
	p := n.Properties
	return map[string]string{
		"name": p.Name, "events": p.Events, "type": p.Type, "required": p.Required,
		"nullable": p.Nullable, "allowed_values": p.AllowedValues, "pattern": p.Pattern,
		"min": p.Min, "max": p.Max, "pii": p.PII, "description": p.Description,
		"observed_types": p.ObservedTypes, "presence_pct": p.PresencePct, "last_seen": p.LastSeen,
	}
}

// validID reports whether s is a Notion id: 32 hex digits, dashes optional.
func validID(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r == '-':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f', r >= 'A' && r <= 'F':
			n++
		default:
			return false
		}
	}
	return n == 32
}

// ParseID returns the id a database or data source reference names, with
// dashes: a bare id (32 hex digits, dashes optional), a Notion URL of a
// database or a data source (https://www.notion.so/workspace/Title-<id>?v=…,
// notion.site links included), or a data source's collection://<id>.
func ParseID(ref string) (string, error) {
	s := strings.TrimSpace(ref)
	if rest, ok := strings.CutPrefix(s, "collection://"); ok {
		s = rest
	} else if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		s = ""
		// The id is the end of the last path segment that ends in one.
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		for i := len(segs) - 1; i >= 0 && s == ""; i-- {
			s = trailingID(segs[i])
		}
		if s == "" {
			return "", fmt.Errorf("%q: no Notion id in the URL", ref)
		}
	}
	if !validID(s) {
		return "", fmt.Errorf("%q is not a Notion id (32 hex digits, dashes optional) nor a Notion URL", ref)
	}
	return dashedID(s), nil
}

// trailingID returns the id ending seg ("Tracking-plan-Events-<32 hex>",
// or a dashed UUID), or "".
func trailingID(seg string) string {
	if len(seg) >= 36 && validID(seg[len(seg)-36:]) && strings.Count(seg[len(seg)-36:], "-") == 4 {
		return seg[len(seg)-36:]
	}
	if len(seg) >= 32 && validID(seg[len(seg)-32:]) {
		return seg[len(seg)-32:]
	}
	return ""
}

// dashedID formats a valid id as a dashed UUID.
func dashedID(id string) string {
	n := normID(id)
	return n[:8] + "-" + n[8:12] + "-" + n[12:16] + "-" + n[16:20] + "-" + n[20:]
}

// normID returns id in a form fit for comparison: lowercase, no dashes.
func normID(id string) string {
	return strings.ToLower(strings.ReplaceAll(id, "-", ""))
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
