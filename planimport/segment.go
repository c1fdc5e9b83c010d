package planimport

import (
	"fmt"
	"strings"

	"github.com/trackplan/trackplan"
)

// segmentRule is one rule of a Segment tracking plan file.
type segmentRule struct {
	n       *node
	typ     string
	key     string
	version float64
	schema  *node
}

// segment reads a Segment Protocols tracking plan: the Public API's
// tracking plan or rules response ({"data": {"rules": [...]}}), a
// tracking plan with its rules ({"id", "name", "rules": [...]}, as the
// Public API returns it, Typewriter keeps it in plan.json and trackplan
// exports it), Typewriter's older Config API plan.json ({"rules":
// {"events": [...]}}), or a bare array of rules. Of each event only the
// latest version is imported; COMMON rules (checks on every message) are
// reported and left out.
func (im *importer) segment(f File) {
	root, err := parseJSON(f.Data)
	if err != nil {
		im.bad(f.Name, lineOfErr(err), "", "%v", trimLine(err))
		return
	}
	r := &schemaReader{im: im, file: f.Name, root: root}
	rules := root
	if root.kind == kObject {
		if d := root.get("data"); d != nil {
			rules = d
			if tp := d.get("trackingPlan"); tp != nil && d.get("rules") == nil {
				rules = tp
			}
		}
		rules = rules.get("rules")
	}
	if rules == nil {
		r.bad(root, "no rules: want a tracking plan with \"rules\" (Segment's Public API or Typewriter's plan.json)")
		return
	}
	if rules.kind == kObject { // Typewriter's Config API plan.json
		evs := rules.get("events")
		if evs == nil || evs.kind != kArray {
			r.bad(rules, "rules must be an array of rules (or, in a Config API plan, {\"events\": [...]})")
			return
		}
		var list []segmentRule
		for _, ev := range evs.arr {
			name, ok := ev.get("name").str()
			if !ok || name == "" {
				r.bad(ev, "event without a name")
				continue
			}
			v, _ := ev.get("version").number()
			list = append(list, segmentRule{n: ev, typ: "TRACK", key: name, version: v, schema: ev.get("rules")})
		}
		r.segmentRules(list)
		return
	}
	if rules.kind != kArray {
		r.bad(rules, "rules must be an array, not %s", rules.kind)
		return
	}
	var list []segmentRule
	for _, n := range rules.arr {
		if n.kind != kObject {
			r.bad(n, "a rule must be an object, not %s", n.kind)
			continue
		}
		typ, _ := n.get("type").str()
		key, _ := n.get("key").str()
		v := 1.0
		if vn := n.get("version"); vn != nil {
			var ok bool
			if v, ok = vn.number(); !ok {
				r.bad(vn, "version must be a number, not %s", vn.kind)
				continue
			}
		}
		list = append(list, segmentRule{n: n, typ: typ, key: key, version: v, schema: n.get("jsonSchema")})
	}
	r.segmentRules(list)
}

func (r *schemaReader) segmentRules(list []segmentRule) {
	type id struct{ typ, key string }
	latest := map[id]int{}
	var order []id
	for i, rule := range list {
		switch rule.typ {
		case "TRACK", "PAGE", "SCREEN", "IDENTIFY", "GROUP":
		case "COMMON":
			r.lose(rule.n, "COMMON rule (checks on every message, such as context fields) is not in the plan model; left out")
			continue
		default:
			r.bad(rule.n.get("type"), "unknown rule type %q (want TRACK, IDENTIFY, GROUP, PAGE, SCREEN or COMMON)", rule.typ)
			continue
		}
		if rule.typ == "TRACK" && rule.key == "" {
			r.bad(rule.n, "TRACK rule without a key (the event name)")
			continue
		}
		if rule.schema == nil || rule.schema.kind != kObject {
			r.bad(rule.n, "rule without a jsonSchema object")
			continue
		}
		k := id{rule.typ, rule.key}
		if rule.typ == "IDENTIFY" || rule.typ == "GROUP" {
			k.key = ""
		}
		j, seen := latest[k]
		switch {
		case !seen:
			latest[k] = i
			order = append(order, k)
		case list[j].version == rule.version:
			r.bad(rule.n, "duplicate %s rule %q version %v (also at line %d)", rule.typ, rule.key, rule.version, list[j].n.line)
		case list[j].version < rule.version:
			r.lose(list[j].n, "%s %q version %v left out: version %v is imported (the plan holds one version per event)", rule.typ, rule.key, list[j].version, rule.version)
			latest[k] = i
		default:
			r.lose(rule.n, "%s %q version %v left out: version %v is imported (the plan holds one version per event)", rule.typ, rule.key, rule.version, list[j].version)
		}
	}
	for _, k := range order {
		rule := list[latest[k]]
		t := trackplan.CallType(strings.ToLower(rule.typ))
		name := rule.key
		switch {
		case t == trackplan.Identify || t == trackplan.Group:
			name = string(t)
		case t == trackplan.Page && name == "":
			name = trackplan.PageViewed
		case t == trackplan.Screen && name == "":
			name = trackplan.ScreenViewed
		case t == trackplan.Page && name != trackplan.PageViewed, t == trackplan.Screen && name != trackplan.ScreenViewed:
			r.lose(rule.n.get("key"), "%s rule %q keeps its name, but trackplan observes %s calls as %q: the entry matches no call until it is renamed (plan lint says so too)",
				rule.typ, name, t, map[trackplan.CallType]string{trackplan.Page: trackplan.PageViewed, trackplan.Screen: trackplan.ScreenViewed}[t])
		}
		before := len(r.im.events)
		r.event(rule.schema, name, t, Note{File: r.file, Line: rule.n.line, Path: rule.n.path})
		if len(r.im.events) == before {
			continue // a duplicate, reported
		}
		e := r.im.events[len(r.im.events)-1]
		if e.Description == "" {
			e.Description, _ = rule.n.get("description").str()
		}
		if d, ok := rule.n.get("deprecatedAt").str(); ok && d != "" && !strings.HasPrefix(d, "0001-01-01") {
			delete(r.im.defaulted, e)
			e.Status = trackplan.StatusDeprecated
		}
		for _, labels := range []*node{rule.n.get("labels"), rule.schema.get("labels")} {
			for _, k := range labels.keysOrNil() {
				v, _ := labels.obj[k].scalar()
				e.Tags = append(e.Tags, fmt.Sprintf("%s:%s", k, v))
			}
		}
	}
}

func (n *node) keysOrNil() []string {
	if n == nil || n.kind != kObject {
		return nil
	}
	return n.keys
}
