package notion

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jomei/notionapi"

	"github.com/trackplan/trackplan"
)

// APIError is an error answer of the Notion API. It unwraps to the
// trackplan sentinel matching its status: 401 and 403 to ErrUnauthorized,
// 404 to ErrNotFound, 409 to ErrConflict, 429, 503 and 529 to ErrOverloaded.
type APIError struct {
	Method  string
	Path    string
	Status  int    // HTTP status; 0 when unknown
	Code    string // Notion's error code, e.g. object_not_found
	Message string // Notion's message
}

// Error renders the method, path, status, code and message on one line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notion %s %s: ", e.Method, e.Path)
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else if e.Status != 0 {
		b.WriteString(strings.ToLower(http.StatusText(e.Status)))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the trackplan sentinel for the status, or nil.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return trackplan.ErrUnauthorized
	case http.StatusNotFound:
		return trackplan.ErrNotFound
	case http.StatusConflict:
		return trackplan.ErrConflict
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, 529:
		return trackplan.ErrOverloaded
	}
	return nil
}

// newAPIError decodes Notion's error body {"object":"error","status":…,
// "code":…,"message":…}; a body that is not JSON (a proxy's HTML page) is
// summarised on one line.
func newAPIError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status}
	var nb struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &nb) == nil {
		e.Code, e.Message = nb.Code, oneLine(nb.Message, 300)
	} else {
		e.Message = oneLine(string(body), 120)
	}
	return e
}

// fromSDK translates an error returned by notionapi into an *APIError where
// it carries an answer of the API.
func fromSDK(method, path string, err error) error {
	var ne *notionapi.Error
	if errors.As(err, &ne) {
		return &APIError{Method: method, Path: path, Status: ne.Status, Code: string(ne.Code), Message: oneLine(ne.Message, 300)}
	}
	var rl *notionapi.RateLimitedError
	if errors.As(err, &rl) {
		return &APIError{Method: method, Path: path, Status: http.StatusTooManyRequests, Code: "rate_limited", Message: rl.Message}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// notionapi decodes every non-200 body as JSON and loses the status
		// when it is not.
		return fmt.Errorf("notion %s %s: answer is not JSON: %w", method, path, err)
	}
	return err
}

// DatabaseError is a failure to reach one of the two databases. Its message
// is one line that names the database and says what to check; it unwraps to
// the underlying error (and so to trackplan.ErrNotFound or
// trackplan.ErrUnauthorized for a 404 or a 401/403).
type DatabaseError struct {
	Database string // "events" or "properties"
	ID       string
	Err      error
}

// Error names the database and says what to check, on one line.
func (e *DatabaseError) Error() string {
	var ae *APIError
	if errors.As(e.Err, &ae) {
		switch ae.Status {
		case http.StatusNotFound:
			return fmt.Sprintf("notion %s database %s not found (404 %s): check the database id and that the database is shared with the integration (••• menu → Connections)",
				e.Database, e.ID, ae.Code)
		case http.StatusUnauthorized:
			return fmt.Sprintf("notion %s database %s: the token was rejected (401 %s): check the integration token",
				e.Database, e.ID, ae.Code)
		case http.StatusForbidden:
			return fmt.Sprintf("notion %s database %s: access denied (403 %s): give the integration the read, update and insert content capabilities and share the database with it",
				e.Database, e.ID, ae.Code)
		case http.StatusBadRequest:
			if SeveralSources(e.Err) {
				pick := ""
				if e.Database == "events" {
					pick = " and, when the plan is not the database's first data source, notion.events_source to its name"
				}
				return fmt.Sprintf("notion %s database %s has several data sources, which Notion API version %s cannot read or write (400 %s): set notion.api_version to %s (the default)%s",
					e.Database, e.ID, Version20220628, ae.Code, Version20250903, pick)
			}
		}
	}
	return fmt.Sprintf("notion %s database %s: %s", e.Database, e.ID, oneLine(e.Err.Error(), 500))
}

// Unwrap returns the underlying error.
func (e *DatabaseError) Unwrap() error { return e.Err }

// SeveralSources reports whether err is Notion's answer to a 2022-06-28
// request on a database that has several data sources.
func SeveralSources(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(ae.Message), "multiple data sources")
}

// SchemaError lists what is missing from a database's columns for an
// operation. It unwraps to a *trackplan.ValidationError with one problem per
// column.
type SchemaError struct {
	Database string
	ID       string
	Problems *trackplan.ValidationError
}

// Error lists the unusable columns.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("notion %s database %s: %s (add the columns or set their names in the notion columns config)",
		e.Database, e.ID, e.Problems.Error())
}

// Unwrap returns the validation error.
func (e *SchemaError) Unwrap() error { return e.Problems }

// RowError is a problem with one row of a database: a value trackplan
// cannot use. Reading collects them instead of failing.
type RowError struct {
	Database string // "events" or "properties"
	Row      string // the row's name; empty for a database-wide problem
	PageID   string
	Column   string // empty for a problem with the whole row
	Message  string
}

// Error names the database, the row and the column.
func (e RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notion %s", e.Database)
	if e.Row != "" {
		fmt.Fprintf(&b, " row %q", e.Row)
	} else if e.PageID != "" {
		fmt.Fprintf(&b, " row %s", e.PageID)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, " column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// redactor removes a secret from error messages.
type redactor struct{ secret string }

// redactedError replaces the text of an error whose message would show the
// token, keeping the chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// err returns err unchanged unless its message contains the secret.
func (r redactor) err(err error) error {
	if err == nil || len(r.secret) < 4 {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, r.secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(msg, r.secret, "[REDACTED]"), err: err}
}

// oneLine collapses whitespace and cuts s to n bytes on a rune boundary.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func newValidation(field, msg string) *trackplan.ValidationError {
	v := &trackplan.ValidationError{}
	v.Add(field, msg)
	return v
}
