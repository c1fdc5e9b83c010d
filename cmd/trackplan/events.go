package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "list logged messages (the event log), oldest first",
		Description: "Lists what the event log holds, filtered. With --format ndjson each line is the message as\n" +
			"received (write key removed) with its normalised type, timestamp and receivedAt, so the output\n" +
			"pipes into `trackplan drift --events -` or `trackplan import`.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "event", Usage: "only this event (track name, \"Page Viewed\", identify, group, alias…)"},
			&cli.StringFlag{Name: "user", Usage: "only messages of this userId or anonymousId"},
			&cli.StringFlag{Name: "source", Usage: "only this source"},
			&cli.TimestampFlag{Name: "since", Layout: time.RFC3339, Usage: "only messages with an event time at or after this (RFC 3339)"},
			&cli.TimestampFlag{Name: "until", Layout: time.RFC3339, Usage: "only messages with an event time before this (RFC 3339)"},
			&cli.IntFlag{Name: "limit", Value: 100, Usage: "the newest N matching messages at most (0: all)"},
			formatFlag("text", "json", "ndjson"),
		},
		Action: runEvents,
	}
}

// eventFilter selects logged messages.
type eventFilter struct {
	event, user, source string
	since, until        time.Time
}

func (f eventFilter) match(m *trackplan.Message) bool {
	switch {
	case f.event != "" && m.EventName() != f.event,
		f.user != "" && m.UserID != f.user && m.AnonymousID != f.user,
		f.source != "" && m.Source != f.source,
		!f.since.IsZero() && m.Timestamp.Before(f.since),
		!f.until.IsZero() && !m.Timestamp.Before(f.until):
		return false
	}
	return true
}

func runEvents(c *cli.Context) error {
	format, err := checkFormat(c, "text", "json", "ndjson")
	if err != nil {
		return err
	}
	if c.Int("limit") < 0 {
		return usage("--limit must be 0 or more")
	}
	f := eventFilter{event: c.String("event"), user: c.String("user"), source: c.String("source")}
	if t := c.Timestamp("since"); t != nil {
		f.since = t.UTC()
	}
	if t := c.Timestamp("until"); t != nil {
		f.until = t.UTC()
	}
	_, st, err := configuredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()

	limit := c.Int("limit")
	var kept []store.Record // a ring of the newest limit matches when limit > 0
	next := 0
	err = st.ReadLog(c.Context, 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		if err != nil {
			logger(c).Error("corrupt log block not listed", "first", b.First, "last", b.Last, "err", err)
			return nil
		}
		for _, r := range recs {
			if r.Message == nil || !f.match(r.Message) {
				continue
			}
			if limit == 0 || len(kept) < limit {
				kept = append(kept, r)
				continue
			}
			kept[next] = r
			next = (next + 1) % limit
		}
		return nil
	})
	if err != nil {
		return upstream(err)
	}
	kept = append(kept[next:], kept[:next]...)

	switch format {
	case "ndjson":
		w := c.App.Writer
		for _, r := range kept {
			line, err := loggedMessageJSON(r.Message)
			if err != nil {
				return err
			}
			w.Write(append(line, '\n'))
		}
		return nil
	case "json":
		out := make([]json.RawMessage, 0, len(kept))
		for _, r := range kept {
			line, err := loggedMessageJSON(r.Message)
			if err != nil {
				return err
			}
			out = append(out, line)
		}
		return writeJSON(c.App.Writer, out)
	}
	return writeEventsText(c.App.Writer, kept)
}

// loggedMessageJSON is a logged message as a Segment message: the JSON as
// received, with the normalised type, event time and receive time.
func loggedMessageJSON(m *trackplan.Message) ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(m.Raw) > 0 {
		if err := json.Unmarshal(m.Raw, &obj); err != nil {
			obj = map[string]json.RawMessage{}
		}
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		obj[k] = b
	}
	set("type", m.Type)
	set("timestamp", m.Timestamp.Format(time.RFC3339Nano))
	set("receivedAt", m.ReceivedAt.Format(time.RFC3339Nano))
	if m.MessageID != "" {
		set("messageId", m.MessageID)
	}
	for k, v := range map[string]string{"userId": m.UserID, "anonymousId": m.AnonymousID, "event": m.Event, "previousId": m.PreviousID} {
		if _, ok := obj[k]; !ok && v != "" {
			set(k, v)
		}
	}
	if m.Type == trackplan.Group {
		set("groupId", m.GroupID)
	} else if m.GroupID != "" {
		// A batch-level context.groupId was applied to this message.
		ctx := map[string]json.RawMessage{}
		json.Unmarshal(obj["context"], &ctx)
		if _, ok := ctx["groupId"]; !ok {
			ctx["groupId"], _ = json.Marshal(m.GroupID)
			obj["context"], _ = json.Marshal(ctx)
		}
	}
	delete(obj, "originalTimestamp")
	delete(obj, "sentAt")
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode logged message %q: %w", m.MessageID, err)
	}
	return out, nil
}

func writeEventsText(w io.Writer, recs []store.Record) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tRECEIVED\tEVENT TIME\tSOURCE\tEVENT\tUSER\tMESSAGE ID")
	for _, r := range recs {
		m := r.Message
		user := m.UserID
		if user == "" {
			user = "anon:" + m.AnonymousID
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, m.ReceivedAt.Format(time.DateTime), m.Timestamp.Format(time.DateTime),
			m.Source, m.EventName(), user, m.MessageID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d messages\n", len(recs))
	return nil
}
