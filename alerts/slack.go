package alerts

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Slack's documented Block Kit limits (docs.slack.dev, "Blocks" and the
// block and composition object references).
const (
	SlackMaxBlocks       = 50    // blocks in one message
	SlackMaxHeaderText   = 150   // a header block's plain_text
	SlackMaxSectionText  = 3000  // a section's text
	SlackMaxFields       = 10    // a section's fields
	SlackMaxFieldText    = 2000  // one field's text
	SlackMaxContextItems = 10    // a context block's elements
	SlackMaxButtonText   = 75    // a button's plain_text
	SlackMaxURL          = 3000  // a button's url
	SlackMaxMessageText  = 40000 // the top-level text (Slack truncates past it)
	// slackBudget keeps a whole message well below what Slack refuses as
	// msg_blocks_too_long, which is reported to happen below the sum of
	// the per-block limits.
	slackBudget = 12000
)

// SlackEscape escapes the three characters Slack's mrkdwn gives meaning
// to — &, < and > — so a value from an event cannot become a link or a
// mention (an event named <!channel> pings nobody).
func SlackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// truncate cuts s to at most n characters (runes), marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateEscaped escapes s for mrkdwn and keeps the result within n
// characters without cutting an entity in half.
func truncateEscaped(s string, n int) string {
	e := SlackEscape(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)*9/10]
		if e = SlackEscape(string(r)) + "…"; utf8.RuneCountInString(e) <= n {
			return e
		}
	}
	return "…"
}

// slackMessage is an incoming webhook's body.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
	// Elements are a context block's text objects or an actions block's
	// buttons.
	Elements []any `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackButton struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
	URL  string    `json:"url"`
}

func header(s string) slackBlock {
	// Escaped too: a header is plain text, but a value must not look like
	// a mention to anything that reads the message.
	return slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncateEscaped(s, SlackMaxHeaderText), Emoji: true}}
}

func section(mrkdwn string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: mrkdwn}}
}

func contextBlock(mrkdwn string) slackBlock {
	return slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: mrkdwn}}}
}

func button(label, url string) slackBlock {
	return slackBlock{Type: "actions", Elements: []any{slackButton{Type: "button",
		Text: slackText{Type: "plain_text", Text: truncate(label, SlackMaxButtonText)}, URL: url}}}
}

var severityIcon = map[string]string{Critical: "🔴", Warning: "🟠", Info: "🔵"}

// slackAlert renders one alert: a header, its details, its fields, a
// button to the dashboard and the rule in a context line.
func slackAlert(a Alert, link string) slackMessage {
	icon := severityIcon[a.Severity]
	title := strings.TrimSpace(icon + " " + a.Title)
	msg := slackMessage{Text: truncateEscaped(title, 300)}
	msg.Blocks = append(msg.Blocks, header(title))
	if a.Text != "" {
		msg.Blocks = append(msg.Blocks, section(truncateEscaped(a.Text, SlackMaxSectionText)))
	}
	if len(a.Fields) > 0 {
		b := slackBlock{Type: "section"}
		for i, f := range a.Fields {
			if i == SlackMaxFields {
				break
			}
			b.Fields = append(b.Fields, slackText{Type: "mrkdwn",
				Text: "*" + truncateEscaped(f.Label, 100) + "*\n" + truncateEscaped(f.Value, SlackMaxFieldText-110)})
		}
		msg.Blocks = append(msg.Blocks, b)
	}
	if link != "" && len(link) <= SlackMaxURL {
		msg.Blocks = append(msg.Blocks, button("Open in trackplan", link))
	}
	msg.Blocks = append(msg.Blocks, contextBlock(fmt.Sprintf("trackplan · %s · %s", SlackEscape(a.Rule), truncateEscaped(a.Key, 500))))
	return msg
}

// DigestGroup is the digest's part for one rule.
type DigestGroup struct {
	Rule  string
	Items []DigestItem
}

// DigestItem is one alert of the digest, repeated Count times.
type DigestItem struct {
	Title string
	Link  string
	Count int
}

// slackDigest renders the digest: a header, then one section per rule
// listing its alerts (a link each), within the block, text and size
// limits; what does not fit is counted.
func slackDigest(title string, groups []DigestGroup) slackMessage {
	msg := slackMessage{Text: truncateEscaped(title, 300)}
	msg.Blocks = append(msg.Blocks, header("🗒️ "+title))
	size, left := 0, 0
	for _, g := range groups {
		var lines []string
		for i, it := range g.Items {
			line := "• " + truncateEscaped(it.Title, 300)
			if it.Link != "" && len(it.Link) <= 500 {
				line = "• <" + SlackEscape(it.Link) + "|" + truncateEscaped(it.Title, 300) + ">"
			}
			if it.Count > 1 {
				line += fmt.Sprintf(" (×%d)", it.Count)
			}
			text := "*" + SlackEscape(g.Rule) + "*\n" + strings.Join(append(lines, line), "\n")
			if utf8.RuneCountInString(text) > SlackMaxSectionText-40 || size+utf8.RuneCountInString(text) > slackBudget {
				left += len(g.Items) - i
				break
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		if len(msg.Blocks) >= SlackMaxBlocks-1 {
			left += len(lines)
			continue
		}
		text := "*" + SlackEscape(g.Rule) + "*\n" + strings.Join(lines, "\n")
		size += utf8.RuneCountInString(text)
		msg.Blocks = append(msg.Blocks, section(text))
	}
	if left > 0 {
		msg.Blocks = append(msg.Blocks, contextBlock(fmt.Sprintf("… and %d more: `trackplan alerts list`", left)))
	}
	return msg
}
