package trackplan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scored-event counts the best practice asks for.
const (
	MinScoredEvents = 10
	MaxScoredEvents = 30
)

// Lint checks the content of a plan, without traffic, and returns its
// findings ordered by severity, code, event and path:
//
//   - NAMING, info: event names, or property paths, equal but for case or
//     separators ("Signed Up" and "signed_up"); the first well-formed
//     spelling is taken as the intended one and the others are reported,
//     each naming the spelling it collides with.
//   - NAMING, info: track event names that are not "Object Action" in
//     Title Case, property names that are not snake_case, and page/screen
//     entries not named "Page Viewed"/"Screen Viewed" (the names their calls
//     are observed under, so such entries would never match).
//
// NAMING is a documentation rule and always info, so that `--fail-on`
// never fails a build on it; what breaks the traffic's contract is found
// on the traffic (UNPLANNED_EVENT, UNPLANNED_PROPERTY).
//   - BEST_PRACTICE, warning: a property name used with different types
//     across events (the types other than the most common one are
//     reported); fewer than MinScoredEvents or more than MaxScoredEvents
//     scored events.
//   - BEST_PRACTICE, info: events without a description or an owner.
//
// Each event and each (event, path) gets at most one finding per code, so
// fingerprints are unique. Lint expects a plan that passes Validate; it
// skips entries it cannot make sense of.
func Lint(p *Plan) []Finding {
	if p == nil {
		return nil
	}
	l := linter{}
	l.eventNames(p)
	l.propertyNames(p)
	l.propertyTypes(p)
	l.documentation(p)
	l.scoredEvents(p)
	slices.SortStableFunc(l.out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Severity.Rank(), b.Severity.Rank()),
			strings.Compare(string(a.Code), string(b.Code)),
			strings.Compare(a.Event, b.Event),
			strings.Compare(a.Path, b.Path),
		)
	})
	return l.out
}

type linter struct {
	out []Finding
}

func (l *linter) add(code Code, sev Severity, e *Event, path, expected, observed string) {
	f := Finding{Code: code, Severity: sev, Path: path, Expected: expected, Observed: observed}
	if e != nil {
		f.Event, f.Owner = e.Name, e.Owner
	}
	f.Fingerprint = Fingerprint(string(code), "", f.Event, path)
	l.out = append(l.out, f)
}

// eventNames reports event-name collisions, Title Case problems and
// misnamed page/screen entries.
func (l *linter) eventNames(p *Plan) {
	var named []*Event
	for _, e := range p.Events {
		if e == nil || e.Name == "" {
			continue
		}
		switch e.CallType() {
		case Track:
			named = append(named, e)
		case Page, Screen:
			want := PageViewed
			if e.CallType() == Screen {
				want = ScreenViewed
			}
			if e.Name != want {
				l.add(Naming, SeverityInfo, e, "", want, e.Name)
			}
		}
	}
	collided := map[*Event]bool{}
	for _, group := range collisions(named, func(e *Event) string { return e.Name }, normalizeName,
		func(e *Event) bool { return objectActionProblem(e.Name) == "" }) {
		canonical := group[0].Name
		for _, e := range group[1:] {
			collided[e] = true
			l.add(Naming, SeverityInfo, e, "", "one spelling per name, ignoring case and separators", collision(canonical))
		}
	}
	for _, e := range named {
		if collided[e] {
			continue
		}
		if problem := objectActionProblem(e.Name); problem != "" {
			l.add(Naming, SeverityInfo, e, "", "Object Action in Title Case", problem)
		}
	}
}

// use is one property of one event.
type use struct {
	event *Event
	prop  *Property
}

func uses(p *Plan) []use {
	var out []use
	for _, e := range p.Events {
		if e == nil {
			continue
		}
		for _, pr := range e.Properties {
			if pr != nil && pr.Name != "" {
				out = append(out, use{e, pr})
			}
		}
	}
	return out
}

// propertyNames reports property-path collisions and names that are not
// snake_case.
func (l *linter) propertyNames(p *Plan) {
	all := uses(p)
	collided := map[use]bool{}
	for _, group := range collisions(all, func(u use) string { return u.prop.Name }, normalizePath,
		func(u use) bool { return snakeProblem(u.prop.Name) == "" }) {
		canonical := group[0].prop.Name
		for _, u := range group[1:] {
			collided[u] = true
			l.add(Naming, SeverityInfo, u.event, u.prop.Name, "one spelling per name, ignoring case and separators", collision(canonical))
		}
	}
	for _, u := range all {
		if collided[u] {
			continue
		}
		if bad := snakeProblem(u.prop.Name); bad != "" {
			l.add(Naming, SeverityInfo, u.event, u.prop.Name, "snake_case", bad)
		}
	}
}

// collision is the observed text of a name that collides with canonical.
func collision(canonical string) string {
	return fmt.Sprintf("case collision: same as %q but for case or separators (tracked as two names)", canonical)
}

// collisions groups items whose names differ but normalise alike. Each group
// starts with the intended spelling: the first well-formed one, else the
// first seen; it then lists the items spelled otherwise, in plan order.
func collisions[T any](items []T, name func(T) string, normalize func(string) string, wellFormed func(T) bool) [][]T {
	byKey := map[string][]T{}
	var keys []string
	for _, it := range items {
		k := normalize(name(it))
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], it)
	}
	var out [][]T
	for _, k := range keys {
		group := byKey[k]
		canon := group[0]
		if i := slices.IndexFunc(group, wellFormed); i >= 0 {
			canon = group[i]
		}
		others := []T{canon}
		for _, it := range group {
			if name(it) != name(canon) {
				others = append(others, it)
			}
		}
		if len(others) > 1 {
			out = append(out, others)
		}
	}
	return out
}

// normalizeName folds case and drops separators: "Signed Up", "signed_up"
// and "SignedUp" all become "signedup".
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// normalizePath normalises each key of a property path, keeping its shape.
func normalizePath(path string) string {
	steps, err := ParsePath(path)
	if err != nil {
		return path
	}
	var b strings.Builder
	for i, s := range steps {
		switch {
		case s.Elem:
			b.WriteString("[]")
		case i > 0:
			b.WriteByte('.')
			fallthrough
		default:
			b.WriteString(normalizeName(s.Key))
		}
	}
	return b.String()
}

// titleCaseMinor lists the short words Title Case leaves in lower case
// ("Product Added to Cart").
var titleCaseMinor = map[string]bool{
	"a": true, "an": true, "and": true, "as": true, "at": true, "by": true, "for": true,
	"from": true, "in": true, "into": true, "of": true, "on": true, "or": true,
	"the": true, "to": true, "via": true, "with": true,
}

// objectActionProblem says why name is not "Object Action" in Title Case, or
// returns "" when it is.
func objectActionProblem(name string) string {
	if i := strings.IndexFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' '
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Sprintf("contains %q", r)
	}
	if strings.Contains(name, "  ") || strings.TrimSpace(name) != name {
		return "extra spaces"
	}
	words := strings.Split(name, " ")
	if len(words) < 2 {
		return "a single word"
	}
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsUpper(r) || unicode.IsDigit(r) || (i > 0 && titleCaseMinor[w]) {
			continue
		}
		return fmt.Sprintf("word %q not capitalised", w)
	}
	return ""
}

// snakeProblem returns the first key of path that is not snake_case, or "".
func snakeProblem(path string) string {
	steps, err := ParsePath(path)
	if err != nil {
		return ""
	}
	for _, s := range steps {
		if !s.Elem && !isSnake(s.Key) {
			return s.Key
		}
	}
	return ""
}

// isSnake reports whether s is lower-case words of letters and digits joined
// by single underscores, starting with a letter.
func isSnake(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && s[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// propertyTypes reports property names planned with different types in
// different events. Properties typed any are compatible with every type.
func (l *linter) propertyTypes(p *Plan) {
	byName := map[string][]use{}
	var names []string
	for _, u := range uses(p) {
		if u.prop.EffectiveType() == PropAny || !u.prop.EffectiveType().Valid() {
			continue
		}
		if _, ok := byName[u.prop.Name]; !ok {
			names = append(names, u.prop.Name)
		}
		byName[u.prop.Name] = append(byName[u.prop.Name], u)
	}
	for _, name := range names {
		group := byName[name]
		counts := map[PropertyType]int{}
		var order []PropertyType
		for _, u := range group {
			t := u.prop.EffectiveType()
			if counts[t] == 0 {
				order = append(order, t)
			}
			counts[t]++
		}
		if len(order) < 2 {
			continue
		}
		common := order[0]
		for _, t := range order[1:] {
			if counts[t] > counts[common] {
				common = t
			}
		}
		for _, u := range group {
			if t := u.prop.EffectiveType(); t != common {
				l.add(BestPractice, SeverityWarning, u.event, name, string(common), string(t))
			}
		}
	}
}

// documentation reports events without a description or an owner.
func (l *linter) documentation(p *Plan) {
	for _, e := range p.Events {
		if e == nil || e.Name == "" {
			continue
		}
		var missing []string
		if strings.TrimSpace(e.Description) == "" {
			missing = append(missing, "no description")
		}
		if strings.TrimSpace(e.Owner) == "" {
			missing = append(missing, "no owner")
		}
		if len(missing) > 0 {
			l.add(BestPractice, SeverityInfo, e, "", "description and owner", strings.Join(missing, ", "))
		}
	}
}

// scoredEvents reports a number of scored events outside the 10–30 the
// scoring model works best with.
func (l *linter) scoredEvents(p *Plan) {
	n := 0
	for _, e := range p.Events {
		if e == nil || !e.Scored() {
			continue
		}
		switch e.CallType() {
		case Track, Page, Screen:
			n++
		}
	}
	if n < MinScoredEvents || n > MaxScoredEvents {
		l.add(BestPractice, SeverityWarning, nil, "",
			fmt.Sprintf("%d to %d scored events", MinScoredEvents, MaxScoredEvents),
			fmt.Sprintf("%d scored events", n))
	}
}
