package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// propNode is one level of a payload described by a plan: a property path
// split at "." and "[]". Intermediate objects the plan does not list have a
// nil prop.
type propNode struct {
	name     string
	prop     *trackplan.Property
	children []*propNode // object members, in plan order
	elem     *propNode   // array element, for paths with "[]"
	presence float64     // how often an optional member is sent
	pattern  *regexp.Regexp
}

// buildTree arranges planned properties into a payload tree.
func buildTree(r *rand.Rand, props []*trackplan.Property) *propNode {
	root := &propNode{}
	for _, p := range props {
		if p == nil || p.Name == "" {
			continue
		}
		n := root
		for _, tok := range splitPath(p.Name) {
			if tok == "[]" {
				if n.elem == nil {
					n.elem = &propNode{name: "[]"}
				}
				n = n.elem
				continue
			}
			var next *propNode
			for _, c := range n.children {
				if c.name == tok {
					next = c
					break
				}
			}
			if next == nil {
				next = &propNode{name: tok, presence: 0.35 + 0.6*r.Float64()}
				n.children = append(n.children, next)
			}
			n = next
		}
		n.prop = p
		if p.Pattern != "" {
			if re, err := patternMatcher(p.Pattern); err == nil {
				n.pattern = re
			}
		}
	}
	return root
}

// splitPath splits "products[].sku" into "products", "[]", "sku".
func splitPath(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, ".") {
		name := seg
		n := 0
		for strings.HasSuffix(name, "[]") {
			name = strings.TrimSuffix(name, "[]")
			n++
		}
		if name != "" {
			out = append(out, name)
		}
		for range n {
			out = append(out, "[]")
		}
	}
	return out
}

// required reports whether the plan requires n or anything below it.
func (n *propNode) required() bool {
	if n.prop != nil && n.prop.Required {
		return true
	}
	for _, c := range n.children {
		if c.required() {
			return true
		}
	}
	return n.elem != nil && n.elem.required()
}

// child returns the member named name, or nil.
func (n *propNode) child(name string) *propNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// valueCtx is what semantic value generation knows about a call.
type valueCtx struct {
	call    trackplan.CallType
	event   string
	at      time.Time
	user    *user
	acct    *account
	invitee *user  // Invite Sent and friends
	page    string // page and screen calls: the page's name
}

// payloadOptions tweaks one payload.
type payloadOptions struct {
	always  func(name string) bool // top-level members always sent
	include string                 // a top-level member always sent
	omit    string                 // a top-level member never sent
}

// object generates a payload for the members of n.
func (vg *valueGen) object(n *propNode, vc *valueCtx, opts payloadOptions, top bool) map[string]any {
	out := make(map[string]any, len(n.children))
	for _, c := range n.children {
		if top && c.name == opts.omit {
			continue
		}
		send := c.required() || vg.r.Float64() < c.presence ||
			(top && (c.name == opts.include || (opts.always != nil && opts.always(c.name))))
		if !send {
			continue
		}
		v, ok := vg.node(c, vc)
		if !ok {
			continue
		}
		out[c.name] = v
	}
	return out
}

// node generates the value of one payload node.
func (vg *valueGen) node(n *propNode, vc *valueCtx) (any, bool) {
	switch {
	case n.elem != nil:
		count := 1 + vg.r.IntN(3)
		arr := make([]any, 0, count)
		for range count {
			if v, ok := vg.node(n.elem, vc); ok {
				arr = append(arr, v)
			}
		}
		return arr, true
	case len(n.children) > 0:
		return vg.object(n, vc, payloadOptions{}, false), true
	case n.prop == nil:
		return vg.r.IntN(100), true
	}
	switch n.prop.Type {
	case trackplan.PropObject:
		return map[string]any{}, true
	case trackplan.PropArray:
		return []any{}, true
	}
	return vg.scalar(n, vc)
}

// valueGen generates property values from one random source.
type valueGen struct {
	r *rand.Rand
}

// scalar generates a value of n's planned type that satisfies its enum,
// pattern and range, starting from a value that makes sense for its name.
func (vg *valueGen) scalar(n *propNode, vc *valueCtx) (any, bool) {
	p := n.prop
	cand := vg.semantic(snakeName(n.name), vc)
	switch p.Type {
	case trackplan.PropInteger, trackplan.PropNumber:
		return vg.number(p, cand)
	case trackplan.PropBoolean:
		if b, ok := cand.(bool); ok {
			return b, true
		}
		return vg.r.IntN(3) > 0, true
	case trackplan.PropDatetime:
		var t time.Time
		switch x := cand.(type) {
		case time.Time:
			t = x
		default:
			t = vc.at.Add(-time.Duration(vg.r.Int64N(int64(90 * 24 * time.Hour))))
		}
		s := t.UTC().Truncate(time.Second).Format(time.RFC3339)
		if len(p.Enum) > 0 {
			s = pick(vg.r, p.Enum)
		}
		return s, true
	}
	// string, any, or an unknown type: a string.
	return vg.str(n, cand)
}

func (vg *valueGen) str(n *propNode, cand any) (any, bool) {
	p := n.prop
	var s string
	switch x := cand.(type) {
	case string:
		s = x
	case time.Time:
		s = x.UTC().Truncate(time.Second).Format(time.RFC3339)
	case int:
		s = strconv.Itoa(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		s = vg.word()
	}
	matches := func(v string) bool { return n.pattern == nil || n.pattern.MatchString(v) }
	if len(p.Enum) > 0 {
		if slices.Contains(p.Enum, s) && matches(s) {
			return s, true
		}
		var ok []string
		for _, e := range p.Enum {
			if matches(e) {
				ok = append(ok, e)
			}
		}
		if len(ok) == 0 {
			return pick(vg.r, p.Enum), false
		}
		return pick(vg.r, ok), true
	}
	if matches(s) {
		return s, true
	}
	if g, ok := fromPattern(vg.r, p.Pattern); ok {
		return g, true
	}
	return s, false
}

func (vg *valueGen) word() string {
	return strings.ToLower(pick(vg.r, docWords)) + "-" + randomID(vg.r, "", 4)
}

// number generates an integer or a number within the property's enum and
// range, close to cand when cand is a number.
func (vg *valueGen) number(p *trackplan.Property, cand any) (any, bool) {
	integer := p.Type == trackplan.PropInteger
	if len(p.Enum) > 0 {
		var vals []float64
		for _, e := range p.Enum {
			if f, err := strconv.ParseFloat(e, 64); err == nil && (!integer || f == math.Trunc(f)) && inRange(p, f) {
				vals = append(vals, f)
			}
		}
		if len(vals) == 0 {
			return pick(vg.r, p.Enum), false
		}
		f := pick(vg.r, vals)
		if c, ok := asFloat(cand); ok && slices.Contains(vals, c) {
			f = c
		}
		if integer {
			return int(f), true
		}
		return f, true
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if p.Min != nil {
		lo = *p.Min
	}
	if p.Max != nil {
		hi = *p.Max
	}
	if integer {
		lo, hi = math.Ceil(lo), math.Floor(hi)
	}
	if lo > hi {
		return 0, false
	}
	f, ok := asFloat(cand)
	if !ok {
		switch {
		case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
			f = lo + vg.r.Float64()*(hi-lo)
		case !math.IsInf(lo, 0):
			f = lo + vg.r.Float64()*100
		case !math.IsInf(hi, 0):
			f = hi - vg.r.Float64()*100
		default:
			f = vg.r.Float64() * 100
		}
	}
	if integer {
		f = math.Round(f)
	} else {
		f = math.Round(f*100) / 100
	}
	f = math.Max(lo, math.Min(hi, f))
	if integer {
		return int(f), true
	}
	return f, true
}

func inRange(p *trackplan.Property, f float64) bool {
	return (p.Min == nil || f >= *p.Min) && (p.Max == nil || f <= *p.Max)
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// semantic returns a realistic value for a property or trait by its name, or
// nil when the name means nothing in particular. The caller conforms it to
// the planned type and constraints.
func (vg *valueGen) semantic(name string, vc *valueCtx) any {
	r := vg.r
	u, a := vc.user, vc.acct
	who := u
	if strings.HasPrefix(name, "invitee_") && vc.invitee != nil {
		who = vc.invitee
		name = "user_" + strings.TrimPrefix(name, "invitee_")
	}
	switch name {
	case "email", "user_email":
		if vc.call == trackplan.Group && a != nil {
			return "billing@" + a.domain
		}
		if who != nil {
			return who.email
		}
	case "name", "full_name", "user_name", "user_full_name":
		switch {
		case vc.call == trackplan.Group && a != nil:
			return a.name
		case vc.call == trackplan.Identify && who != nil, name != "name" && who != nil:
			return who.first + " " + who.last
		}
		return docTitle(r)
	case "first_name", "firstname", "given_name", "user_first_name":
		if who != nil {
			return who.first
		}
	case "last_name", "lastname", "family_name", "surname", "user_last_name":
		if who != nil {
			return who.last
		}
	case "username", "user_username":
		if who != nil {
			return who.username
		}
	case "title", "job_title", "user_title":
		if vc.call == trackplan.Identify && who != nil {
			return who.title
		}
		if vc.page != "" {
			return vc.page
		}
		return docTitle(r)
	case "role", "user_role":
		if who != nil {
			return who.role
		}
	case "plan", "plan_name", "trial_plan_name", "subscription_plan", "current_plan", "new_plan", "to_plan":
		if a != nil {
			return a.plan
		}
	case "previous_plan", "previous_plan_name", "old_plan", "from_plan":
		if a != nil {
			return a.previousPlan
		}
	case "status", "account_status", "subscription_status":
		if a != nil {
			return a.status
		}
	case "created_at", "signed_up_at", "signup_date", "joined_at":
		switch {
		case vc.call == trackplan.Group && a != nil:
			return a.createdAt
		case u != nil && vc.call == trackplan.Identify:
			return u.createdAt
		}
		return vc.at
	case "trial_start_date", "trial_started_at", "trial_start":
		if a != nil {
			return trialEnd(a, vc.at).Add(-trialLength)
		}
	case "trial_end_date", "trial_ended_at", "trial_end", "trial_ends_at":
		if a != nil {
			return trialEnd(a, vc.at)
		}
	case "mrr", "monthly_revenue":
		if a != nil {
			return a.mrr
		}
	case "previous_mrr", "old_mrr":
		if a != nil {
			return math.Round(a.mrr * 0.7)
		}
	case "arr", "annual_revenue":
		if a != nil {
			return math.Round(a.mrr * 12)
		}
	case "employees", "employee_count", "company_size", "num_employees", "headcount":
		if a != nil {
			return a.employees
		}
	case "industry":
		if a != nil {
			return a.industry
		}
	case "website", "company_website", "homepage":
		if a != nil {
			return "https://www." + a.domain
		}
	case "domain", "company_domain":
		if a != nil {
			return a.domain
		}
	case "company", "company_name", "account_name", "organization_name", "organisation_name", "workspace_name", "team_name":
		if a != nil {
			return a.name
		}
	case "account_id", "group_id", "company_id", "organization_id", "workspace_id", "team_id":
		if a != nil {
			return a.id
		}
	case "user_id", "user_user_id":
		if who != nil {
			return who.id
		}
	case "phone", "phone_number", "user_phone":
		return fmt.Sprintf("+1 415 555 %04d", r.IntN(10000))
	case "seats", "seat_count", "quantity", "licenses", "user_count", "users", "member_count":
		if a != nil {
			return max(1, len(a.users)+r.IntN(5))
		}
		return 1 + r.IntN(20)
	case "currency":
		return "USD"
	case "amount", "price", "revenue", "value", "total", "subtotal":
		if a != nil && a.mrr > 0 {
			return a.mrr
		}
		return math.Round(r.Float64()*50000) / 100
	case "format", "file_format", "export_format", "file_type":
		return pick(r, formats)
	case "url", "page_url":
		return "https://app.example.com" + pagePath(r, vc.page)
	case "path", "page_path":
		return pagePath(r, vc.page)
	case "referrer", "referring_url":
		return pick(r, []string{"https://www.google.com/", "https://www.linkedin.com/", "https://app.example.com/home"})
	case "search", "query", "search_term":
		return strings.ToLower(pick(r, docWords))
	case "integration", "integration_name", "provider", "destination", "source", "app", "tool":
		return pick(r, integrations)
	case "feature", "feature_name", "module":
		return pick(r, features)
	case "reason", "cancel_reason", "churn_reason", "cancellation_reason":
		return pick(r, reasons)
	case "type", "signup_type", "signup_method", "method":
		if vc.invitee != nil || (u != nil && u.invited) {
			return "invited"
		}
		return "organic"
	case "duration", "duration_seconds", "time_spent", "seconds":
		return math.Round(r.ExpFloat64()*9000) / 100
	case "duration_ms", "load_time", "load_time_ms", "latency_ms":
		return int(r.ExpFloat64() * 800)
	case "country", "country_code":
		return pick(r, countries)
	case "timezone", "time_zone":
		return pick(r, timezones)
	case "locale", "language":
		return pick(r, []string{"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP"})
	case "ip", "ip_address":
		return fmt.Sprintf("192.0.2.%d", 1+r.IntN(254))
	}
	switch {
	case strings.HasSuffix(name, "_email"):
		return slug(pick(r, firstNames), "") + "@" + domainOf(a)
	case strings.HasSuffix(name, "_id"):
		prefix := strings.TrimSuffix(name, "_id")
		if len(prefix) > 3 {
			prefix = prefix[:3]
		}
		return randomID(r, prefix+"_", 8)
	case strings.HasSuffix(name, "_at"), strings.HasSuffix(name, "_date"), strings.HasSuffix(name, "_time"):
		return vc.at
	case strings.HasSuffix(name, "_count"), strings.HasPrefix(name, "num_"), strings.HasSuffix(name, "_rows"), name == "count", name == "rows":
		return int(r.ExpFloat64() * 40)
	case strings.HasSuffix(name, "_url"):
		return "https://app.example.com/" + randomID(r, "", 6)
	case strings.HasSuffix(name, "_name"), strings.HasSuffix(name, "_title"):
		return docTitle(r)
	case strings.HasPrefix(name, "is_"), strings.HasPrefix(name, "has_"), strings.HasSuffix(name, "_enabled"), name == "enabled":
		return r.IntN(3) > 0
	}
	return nil
}

func domainOf(a *account) string {
	if a == nil {
		return "example.com"
	}
	return a.domain
}

// trialLength is how long simulated trials last.
const trialLength = 14 * 24 * time.Hour

// trialEnd is when the account's trial ends, as seen at: two weeks after
// sign-up for accounts that signed up recently, otherwise at (a trial event
// of an older account concerns a trial ending now).
func trialEnd(a *account, at time.Time) time.Time {
	end := a.trialStart.Add(trialLength)
	if end.Before(at.Add(-24 * time.Hour)) {
		return at.UTC().Truncate(time.Second)
	}
	return end
}

func pagePath(r *rand.Rand, page string) string {
	if page == "" {
		page = pick(r, pageNames)
	}
	return "/" + slug(page, "-")
}
