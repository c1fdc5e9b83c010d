package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Terminal makes text from events safe to print to a terminal or a CI log:
// control characters (C0, DEL, C1 — escape sequences, carriage returns and
// line feeds among them) and the bidirectional overrides that reorder what a
// reader sees are written as escapes (\x1b, \r, \u202e), so an event name
// can neither move the cursor nor forge a line of output. Invalid UTF-8
// bytes are escaped too.
func Terminal(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports control characters and bidirectional formatting
// characters.
func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0 ||
		0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069 || r == 0x200e || r == 0x200f
}

// CSVCell neutralises a text cell a spreadsheet would run as a formula: one
// starting with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe (OWASP's advice for CSV injection). Use it for text from
// events, not for numbers.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// markdownText escapes what markdown or GitHub would act on in text from
// events: links and images ([, ], !), raw HTML, autolinked URLs (a
// zero-width space after "://" and "www."), table pipes and line breaks.
// Mentions are handled by unmention.
var markdownText = strings.NewReplacer(
	"|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'",
	"[", `\[`, "]", `\]`, "!", `\!`, "://", ":\u200b//", "www.", "www\u200b.",
)

// unmention puts a zero-width space after an @ that starts a word, so
// "@everyone" or "@org/team" pings no one; an @ inside a word (an email
// address) is left alone, as GitHub does not read it as a mention.
func unmention(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '@' && (i == 0 || !wordByte(s[i-1])) {
			b.WriteString("\u200b")
		}
	}
	return b.String()
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+' || c >= 0x80
}
