package sync_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// TestContractMaskExamplesPII: examples of the paths a plan marks pii: true
// (and of the paths under them) are masked when shown, whatever their
// values look like; other examples are left as they are, and the store's
// observations are not modified.
func TestContractMaskExamplesPII(t *testing.T) {
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Invite Sent", Properties: []*trackplan.Property{
			{Name: "invitee_name", Type: trackplan.PropString, PII: true},
			{Name: "address", Type: trackplan.PropObject, PII: true},
			{Name: "guests[].name", Type: trackplan.PropString, PII: true},
			{Name: "channel", Type: trackplan.PropString},
		}},
		{Name: "identify", Type: trackplan.Identify, Properties: []*trackplan.Property{
			{Name: "last_name", Type: trackplan.PropString, PII: true},
		}},
		{Name: "Page Viewed", Type: trackplan.Page, Properties: []*trackplan.Property{
			{Name: "search", Type: trackplan.PropString, PII: true},
		}},
	}}
	prop := func(path string, examples ...string) store.ObservedProperty {
		return store.ObservedProperty{Path: path, Types: map[string]int64{"string": 1}, Present: 1, Examples: examples}
	}
	obs := &store.Observed{Events: []store.ObservedEvent{
		{Source: "web", Type: trackplan.Track, Name: "Invite Sent", Count: 1, Properties: []store.ObservedProperty{
			prop("address"), // an object: no examples
			prop("address.city", "Paris"),
			prop("channel", "email"),
			prop("guests[].name", "Bo"),
			prop("guests[].role", "admin"),
			prop("invitee_name", "Ada Lovelace", "Grace Hopper"),
			prop("invitee_name_length", "12"),
		}},
		{Source: "web", Type: trackplan.Identify, Name: "identify", Count: 1, Properties: []store.ObservedProperty{
			prop("last_name", "Lovelace"), prop("plan", "pro"),
		}},
		{Source: "web", Type: trackplan.Page, Name: trackplan.PageViewed, Count: 1, Properties: []store.ObservedProperty{
			prop("name", "Pricing"), prop("search", "ada lovelace"),
		}},
		{Source: "web", Type: trackplan.Track, Name: "Unplanned", Count: 1, Properties: []store.ObservedProperty{
			prop("invitee_name", "Ada"),
		}},
	}}
	before := cloneObserved(obs)

	got := tpsync.MaskExamples(obs, nil, plan)
	examples := map[string][]string{}
	for _, e := range got.Events {
		for _, p := range e.Properties {
			examples[e.Name+" "+p.Path] = p.Examples
		}
	}
	want := map[string][]string{
		"Invite Sent address":             nil,
		"Invite Sent address.city":        {tpsync.Masked},
		"Invite Sent channel":             {"email"},
		"Invite Sent guests[].name":       {tpsync.Masked},
		"Invite Sent guests[].role":       {"admin"},
		"Invite Sent invitee_name":        {tpsync.Masked},
		"Invite Sent invitee_name_length": {"12"},
		"identify last_name":              {tpsync.Masked},
		"identify plan":                   {"pro"},
		"Page Viewed name":                {"Pricing"},
		"Page Viewed search":              {tpsync.Masked},
		"Unplanned invitee_name":          {"Ada"},
	}
	if diff := cmp.Diff(want, examples); diff != "" {
		t.Errorf("examples (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, obs); diff != "" {
		t.Errorf("MaskExamples modified the store's observations (-before +after):\n%s", diff)
	}
	if tpsync.MaskExamples(nil, plan) != nil {
		t.Error("MaskExamples(nil) is not nil")
	}
}

func cloneObserved(o *store.Observed) *store.Observed {
	c := *o
	c.Events = nil
	for _, e := range o.Events {
		ce := e
		ce.Properties = nil
		for _, p := range e.Properties {
			cp := p
			cp.Examples = append([]string(nil), p.Examples...)
			ce.Properties = append(ce.Properties, cp)
		}
		c.Events = append(c.Events, ce)
	}
	return &c
}
